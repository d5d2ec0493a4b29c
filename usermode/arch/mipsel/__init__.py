"""mipsel (o32) guest: Unicorn ids, syscall entry, start-up registers, layout. Data only: the
ArchSpec schema (usermode/arch/spec.py) with this arch's values.

o32 differs from the other guests in how a syscall returns: v0 holds the value or the
positive errno and a3 says which (1: error). Arguments 5 to 8 live on the user stack at
sp+16.. (the four register arguments' home slots come first)."""

from usermode.arch.binfmt_magic import _HEAD32
from usermode.arch.spec import ArchSpec


class Mipsel(ArchSpec):
    NAME = "mipsel"
    UC_ARCH = 3  # UC_ARCH_MIPS
    UC_MODE = 4  # UC_MODE_MIPS32, little-endian
    CPU_MODEL = 10  # UC_CPU_MIPS32_74KF: MIPS32r2 with an FPU (FR=0, the o32 default)
    CS_ARCH, CS_MODE = 2, 4  # capstone 5: CS_ARCH_MIPS, CS_MODE_MIPS32 (little-endian)

    WORDSIZE = 4

    # Register ids (unicorn/mips.h): $0..$31 are 2..33
    REG_PC = 1
    REG_ZERO = 2
    REG_V0 = 4
    REG_V1 = 5
    PIPE_SECOND_REG = REG_V1
    REG_A0 = 6
    REG_A3 = 9
    REG_T9 = 27
    REG_GP = 30
    REG_SP = 31
    REG_RA = 33
    REG_HI = 129
    REG_LO = 130
    REG_USERLOCAL = 138  # CP0 UserLocal: what `rdhwr $3, $29` reads (TLS)
    GPRS = tuple(range(3, 34))  # $1..$31

    SYSCALL_HOOK = "intr"
    SYSCALL_INTNO = 17  # EXCP_SYSCALL; PC is already past the syscall instruction
    SYSCALL_NR_REG = REG_V0
    SYSCALL_ARG_REGS = (6, 7, 8, 9, REG_SP)  # a0..a3, then sp: arguments 5.. are on the stack
    SYSCALL_STACK_ARGS = 16  # offset of argument 5 from sp
    SYSCALL_INSN_SIZE = 4
    SYSCALL_RET_REG = REG_V0
    SYSCALL_ERR_REG = REG_A3  # 0: v0 is the value; 1: v0 is a positive errno
    SYSCALL_MAX_ERRNO = 1133  # EDQUOT is 1133 on MIPS
    # Unicorn 2.1.4's TLB fill callback corrupts the delay-slot state on mips (engine/core.py):
    # use the CPU's TLB and Unicorn's region permissions instead.
    CPU_TLB = True
    # ... and its MIPS code generator crashes on blocks of more than ~380 instructions: split
    # long branch-free stretches with exits (engine/tbsplit.py)
    SPLIT_LONG_BLOCKS = True
    REG_PC_ID = REG_PC
    REG_SP_ID = REG_SP
    TLS_REG = REG_USERLOCAL

    # Exceptions delivered to the interrupt hook (qemu's EXCP_*): break, coprocessor unusable,
    # reserved instruction, integer overflow, trap (teq: gcc's divide-by-zero check), FP.
    INTR_SIGNALS = {18: 5, 19: 4, 20: 4, 21: 8, 22: 8, 23: 8, 12: 7, 13: 7}

    # docs/abi.md §5.2: v0 = 0 (glibc's __start takes it as rtld_fini)
    ENTRY_REGS = ((REG_V0, 0),)

    HWCAP = 0
    CPUINFO = ("system type\t\t: usermode\nmachine\t\t\t: usermode\nprocessor\t\t: {cpu}\n"
               "cpu model\t\t: MIPS 74Kf V4.12  FPU V0.0\nBogoMIPS\t\t: 100.00\n"
               "wait instruction\t: yes\nmicrosecond timers\t: yes\ntlb_entries\t\t: 64\n"
               "extra interrupt vector\t: yes\nisa\t\t\t: mips1 mips2 mips32r1 mips32r2\n"
               "ASEs implemented\t: mips16 dsp dsp2\nOptions implemented\t: tlb 4kex 4k_cache "
               "prefetch mcheck ejtag llsc\nshadow register sets\t: 1\nkscratch registers\t: 0\n"
               "package\t\t\t: 0\ncore\t\t\t: 0\nVCED exceptions\t\t: not available\n"
               "VCEI exceptions\t\t: not available\n")
    PLATFORM = None  # no AT_PLATFORM on mips
    UNAME_MACHINE = "mips"
    MINSIGSTKSZ = 2048
    CACHEFLUSH_LENGTH = True  # cacheflush(addr, nbytes, cache), not arm's (start, end, flags)

    # Address-space layout (2 GiB user space; Linux without ASLR)
    TASK_SIZE = 0x7FFF8000
    STACK_TOP = 0x7FFF8000
    ELF_ET_DYN_BASE = 0x00400000
    ARENA_SIZE = 0x7FFF8000 - 0x2AAA8000  # TASK_UNMAPPED_BASE (TASK_SIZE / 3) upwards

    TRIPLE = "mipsel-linux-gnu"
    QEMU_NAME = "mipsel"
    BINFMT_MAGIC = _HEAD32 + b"\x08\x00" + bytes(17)
    NATIVE_ON = ("mips", "mips64")  # binfmt: left out on these hosts by default
    BINFMT_MASK = (b"\xff" * 7 + b"\x00\xfe" + b"\xff" * 7 + b"\xfe\xff\xff\xff" + bytes(16)
                   + b"\x20")
    UNICORN_CONSTS = "mips_const"
    UNICORN_REG_PREFIX, UNICORN_CPU_PREFIX = "UC_MIPS_REG_", "UC_CPU_MIPS32_"


SPEC = Mipsel()
