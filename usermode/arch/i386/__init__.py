"""i386 guest: Unicorn ids, syscall entry (int 0x80), start-up registers, layout. Data only: the
ArchSpec schema (usermode/arch/spec.py) with this arch's values.

TLS is a GDT entry (set_thread_area): %gs holds its selector, and writing a segment base
register does nothing in 32-bit mode, so the GDT is real memory the CPU reads."""

from usermode.arch.binfmt_magic import _HEAD32, _MASK_X86
from usermode.arch.spec import ArchSpec


class I386(ArchSpec):
    NAME = "i386"
    UC_ARCH = 4  # UC_ARCH_X86
    UC_MODE = 4  # UC_MODE_32
    CPU_MODEL = 19  # UC_CPU_X86_HASWELL, as for x86_64 (no AVX)
    MAX_INSN_BYTES = 15
    CS_ARCH, CS_MODE = 3, 4  # capstone 5: CS_ARCH_X86, CS_MODE_32

    WORDSIZE = 4

    # Register ids (unicorn/x86.h)
    REG_EAX = 19
    REG_EBP = 20
    REG_EBX = 21
    REG_ECX = 22
    REG_EDI = 23
    REG_EDX = 24
    REG_EIP = 26
    REG_ESI = 29
    REG_ESP = 30
    REG_EFLAGS = 25
    REG_GS = 33
    REG_CS = 11
    REG_DS = 17
    REG_ES = 28
    REG_SS = 49
    REG_GDTR = 243
    REG_FPCW = 246
    REG_MXCSR = 249
    GPRS = (19, 22, 24, 21, 30, 20, 29, 23)  # eax ecx edx ebx esp ebp esi edi

    SYSCALL_HOOK = "intr"
    SYSCALL_INTNO = 0x80  # int $0x80; EIP is past it
    SYSCALL_NR_REG = REG_EAX
    SYSCALL_ARG_REGS = (REG_EBX, REG_ECX, REG_EDX, REG_ESI, REG_EDI, REG_EBP)
    SYSCALL_INSN_SIZE = 2
    SYSCALL_RET_REG = REG_EAX
    REG_PC_ID = REG_EIP
    REG_SP_ID = REG_ESP
    TLS_REG = REG_GS  # a selector: see syscalls/linux/x86.py set_thread_area
    TLS_KIND = "gdt"

    INTR_SIGNALS = {0: 8, 1: 5, 3: 5, 6: 4, 13: 11, 14: 11}  # #DE, #DB, #BP, #UD, #GP, #PF

    # docs/abi.md §5.2: edx = 0 (rtld_fini); x87 control word and MXCSR at their Linux defaults.
    ENTRY_REGS = ((REG_EDX, 0), (REG_MXCSR, 0x1F80), (REG_FPCW, 0x37F))

    HWCAP = 0x078BFBFD  # CPUID.1:EDX
    PLATFORM = b"i686"
    UNAME_MACHINE = "i686"
    MINSIGSTKSZ = 2048

    TASK_SIZE = 0xFFFFE000  # a 32-bit task on a 64-bit kernel gets (almost) 4 GiB
    STACK_TOP = 0xC0000000
    ELF_ET_DYN_BASE = 0x00400000
    ARENA_SIZE = 0xC0000000 - 0x40000000
    GDT_ADDR = 0xFFFFD000  # a page above the stack and the mmap arena for the GDT (TLS 6..8)
    GDT_TLS_MIN, GDT_TLS_ENTRIES = 6, 3

    TRIPLE = "i686-linux-gnu"
    QEMU_NAME = "i386"
    BINFMT_MAGIC = _HEAD32 + b"\x03\x00"
    # binfmt: left out on these hosts by default
    NATIVE_ON = ("x86_64", "i386", "i486", "i586", "i686")
    BINFMT_MASK = _MASK_X86
    UNICORN_CONSTS = "x86_const"
    UNICORN_REG_PREFIX, UNICORN_CPU_PREFIX = "UC_X86_REG_", "UC_CPU_X86_"


SPEC = I386()
