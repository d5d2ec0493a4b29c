"""x86_64 guest: Unicorn ids, syscall entry, start-up registers, HWCAP, layout. Data only: the
ArchSpec schema (usermode/arch/spec.py) with this arch's values."""

from usermode.arch.binfmt_magic import _HEAD64, _MASK_X86
from usermode.arch.spec import ArchSpec


class X86_64(ArchSpec):
    NAME = "x86_64"
    UC_ARCH = 4  # UC_ARCH_X86
    UC_MODE = 8  # UC_MODE_64
    # Haswell is the newest model whose CPUID matches what Unicorn executes: it reports no
    # AVX/AVX2/FMA (not implemented by Unicorn's TCG), so glibc picks SSE2/SSE4.2 paths.
    CPU_MODEL = 19  # UC_CPU_X86_HASWELL
    MAX_INSN_BYTES = 15
    CS_ARCH, CS_MODE = 3, 8  # capstone 5: CS_ARCH_X86, CS_MODE_64

    WORDSIZE = 8

    # Register ids (unicorn/x86.h)
    REG_RAX = 35
    REG_RBP = 36
    REG_RBX = 37
    REG_RCX = 38
    REG_RDI = 39
    REG_RDX = 40
    REG_RIP = 41
    REG_RSI = 43
    REG_RSP = 44
    REG_R8 = 106
    REG_R9 = 107
    REG_R10 = 108
    REG_R11 = 109
    REG_R12 = 110
    REG_R13 = 111
    REG_R14 = 112
    REG_R15 = 113
    REG_EFLAGS = 25
    REG_FPCW = 246
    REG_MXCSR = 249
    REG_FS_BASE = 250
    REG_GS_BASE = 251
    GPRS = (35, 37, 38, 40, 43, 39, 36, 44, 106, 107, 108, 109, 110, 111, 112, 113)

    SYSCALL_HOOK = "insn"
    SYSCALL_INSN = 699  # UC_X86_INS_SYSCALL; RIP is AT the insn and Unicorn adds 2 afterwards
    SYSCALL_NR_REG = REG_RAX
    SYSCALL_ARG_REGS = (REG_RDI, REG_RSI, REG_RDX, REG_R10, REG_R8, REG_R9)
    SYSCALL_INSN_SIZE = 2  # a restarted syscall re-runs from PC - this
    SYSCALL_RET_REG = REG_RAX
    REG_PC_ID = REG_RIP
    REG_SP_ID = REG_RSP
    TLS_REG = REG_FS_BASE

    # Exceptions delivered to the interrupt hook: intno -> signal
    INTR_SIGNALS = {0: 8, 1: 5, 3: 5, 6: 4, 13: 11, 14: 11}  # #DE, #DB, #BP, #UD, #GP, #PF

    # docs/abi.md §5.2: rdx = 0 (rtld_fini); Unicorn resets MXCSR and the x87 control word to 0.
    ENTRY_REGS = ((REG_RDX, 0), (REG_MXCSR, 0x1F80), (REG_FPCW, 0x37F))

    # AT_HWCAP on x86 is CPUID.1:EDX of the CPU model.
    HWCAP = 0x078BFBFD
    PLATFORM = b"x86_64"
    UNAME_MACHINE = "x86_64"
    MINSIGSTKSZ = 2048

    TASK_SIZE = 0x7FFFFFFFF000
    STACK_TOP = 0x7FFFFFFFF000
    ELF_ET_DYN_BASE = 0x555555554000
    ARENA_SIZE = 1 << 36

    TRIPLE = "x86_64-linux-gnu"
    QEMU_NAME = "x86_64"
    BINFMT_MAGIC = _HEAD64 + b"\x3e\x00"
    NATIVE_ON = ("x86_64",)  # binfmt: left out on these hosts by default
    BINFMT_MASK = _MASK_X86
    UNICORN_CONSTS = "x86_const"
    UNICORN_REG_PREFIX, UNICORN_CPU_PREFIX = "UC_X86_REG_", "UC_CPU_X86_"


SPEC = X86_64()
