"""riscv64 guest: Unicorn ids, syscall entry, start-up registers, HWCAP, layout. Data only: the
ArchSpec schema (usermode/arch/spec.py) with this arch's values."""

from usermode.arch.binfmt_magic import _HEAD64, _MASK
from usermode.arch.spec import ArchSpec


class Riscv64(ArchSpec):
    NAME = "riscv64"
    UC_ARCH = 8  # UC_ARCH_RISCV
    UC_MODE = 8  # UC_MODE_RISCV64
    CPU_MODEL = 3  # UC_CPU_RISCV64_SIFIVE_U54 (RV64IMAFDC)
    CS_ARCH, CS_MODE = 15, 2 | 4  # capstone 5: CS_ARCH_RISCV, CS_MODE_RISCV64 | CS_MODE_RISCVC

    WORDSIZE = 8

    # Register ids (unicorn/riscv.h): x0..x31 are 1..32
    REG_X0 = 1
    REG_RA = 2  # x1
    REG_SP = 3  # x2
    REG_GP = 4  # x3
    REG_TP = 5  # x4
    REG_A0 = 11  # x10
    REG_A7 = 18  # x17
    REG_PC = 190
    REG_MSTATUS = 116
    REG_FCSR = 43
    REG_F0 = 158
    GPRS = tuple(range(2, 33))  # x1..x31

    SYSCALL_HOOK = "intr"
    SYSCALL_INTNO = 8  # U-mode ecall (Unicorn runs in M-mode but reports 8); PC is past it
    SYSCALL_NR_REG = REG_A7
    SYSCALL_ARG_REGS = (11, 12, 13, 14, 15, 16)  # a0..a5
    SYSCALL_INSN_SIZE = 4
    SYSCALL_RET_REG = REG_A0
    REG_PC_ID = REG_PC
    REG_SP_ID = REG_SP
    TLS_REG = REG_TP

    # Exceptions delivered to the interrupt hook: illegal instruction, breakpoint.
    INTR_SIGNALS = {2: 4, 3: 5}

    # docs/abi.md §5.2: a0 = 0 (rtld_fini); the FPU starts off in Unicorn: mstatus.FS = dirty.
    ENTRY_REGS = ((REG_A0, 0), (REG_MSTATUS, 3 << 13))

    HWCAP = 0x112D  # one bit per extension letter: I M A F D C
    CPUINFO = "processor\t: {cpu}\nhart\t\t: {cpu}\nisa\t\t: rv64imafdc\nmmu\t\t: sv48\n"
    PLATFORM = None  # riscv has no AT_PLATFORM
    UNAME_MACHINE = "riscv64"
    MINSIGSTKSZ = 2048

    # Address-space layout (Sv39; Linux without ASLR)
    TASK_SIZE = 1 << 38
    STACK_TOP = 0x3FFFFFF000
    ELF_ET_DYN_BASE = 0x2AAAAAA000
    ARENA_SIZE = 1 << 36

    TRIPLE = "riscv64-linux-gnu"
    QEMU_NAME = "riscv64"
    BINFMT_MAGIC = _HEAD64 + b"\xf3\x00"
    NATIVE_ON = ("riscv64",)  # binfmt: left out on these hosts by default
    BINFMT_MASK = _MASK
    UNICORN_CONSTS = "riscv_const"
    UNICORN_REG_PREFIX, UNICORN_CPU_PREFIX = "UC_RISCV_REG_", "UC_CPU_RISCV64_"


SPEC = Riscv64()
