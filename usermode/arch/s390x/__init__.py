"""s390x guest (64-bit, big-endian): Unicorn ids, syscall entry, start-up registers, HWCAP,
layout. Data only: the ArchSpec schema (usermode/arch/spec.py) with this arch's values."""

from usermode.arch.spec import ArchSpec


class S390x(ArchSpec):
    NAME = "s390x"
    UC_ARCH = 9  # UC_ARCH_S390X
    UC_MODE = 1 << 30  # UC_MODE_BIG_ENDIAN
    # UC_CPU_S390X_QEMU: every model runs z13 code (zig's default) alike and none has the
    # z14-and-later instructions; STFLE lists no facilities
    CPU_MODEL = 36
    CS_ARCH, CS_MODE = 6, 1 << 31  # capstone 5: CS_ARCH_SYSZ, big-endian
    MAX_INSN_BYTES = 6
    LITTLE_ENDIAN = False

    WORDSIZE = 8

    # Register ids (unicorn/s390x.h): r0..r15 are 1..16
    REG_R0 = 1
    REG_R1 = 2
    REG_R2 = 3
    REG_R14 = 15
    REG_R15 = 16
    REG_PC = 65  # the PSW's address
    REG_PSWM = 66  # the PSW's mask
    REG_A0 = 49
    REG_A1 = 50
    REG_CR0 = 100
    GPRS = tuple(range(1, 17))  # r0..r15

    SYSCALL_HOOK = "intr"
    SYSCALL_INTNO = 2  # EXCP_SVC; PC is on the 2-byte svc itself
    SYSCALL_PC_AT_INSN = True
    SYSCALL_NR_IMM = True  # glibc: `svc NR` below 256; musl: `svc 0` with NR in r1
    SYSCALL_NR_REG = REG_R1
    SYSCALL_ARG_REGS = (3, 4, 5, 6, 7, 8)  # r2..r7
    SYSCALL_INSN_SIZE = 2
    SYSCALL_RET_REG = REG_R2
    REG_PC_ID = REG_PC
    REG_SP_ID = REG_R15
    TLS_REG = REG_A0  # the thread pointer: high half in a0, low half in a1
    TLS_REG_LOW = REG_A1

    # Exceptions delivered to the interrupt hook: a program interrupt (operation, protection,
    # data exceptions alike: Unicorn does not say which)
    INTR_SIGNALS = {3: 4}

    # Linux starts a 64-bit task in 64-bit addressing mode (PSW EA and BA) with the FP and
    # vector registers enabled in CR0 (AFP, VX), as qemu-user does; r14 = 0.
    ENTRY_REGS = ((REG_PSWM, 0x180000000), (REG_CR0, 0x60000), (REG_R14, 0))

    # HWCAP_S390_* (arch/s390/include/asm/elf.h): esan3 zarch stfle msa ldisp eimm etf3eh
    # highgprs vxrs; qemu-s390x 7.2 also gives dfp and vxrs_ext, which Unicorn does not run
    HWCAP = 0xB3F
    HWCAP_NAMES = {0: "esan3", 1: "zarch", 2: "stfle", 3: "msa", 4: "ldisp", 5: "eimm",
                   8: "etf3eh", 9: "highgprs", 11: "vx"}
    CPUINFO = ("processor {cpu}: version = 00,  identification = 000000,  machine = 2964\n"
               "features\t: {features}\n")
    PLATFORM = b"z13"
    UNAME_MACHINE = "s390x"
    MINSIGSTKSZ = 2048

    # Address-space layout (three-level page tables: 4 TiB; Linux without ASLR)
    TASK_SIZE = 1 << 42
    STACK_TOP = (1 << 42) - 0x1000
    ELF_ET_DYN_BASE = 0x2AA00000000  # (STACK_TOP / 3 * 2) & ~(4 GiB - 1)
    ARENA_SIZE = 1 << 36

    TRIPLE = "s390x-linux-gnu"
    QEMU_NAME = "s390x"
    BINFMT_MAGIC = b"\x7fELF\x02\x02\x01" + bytes(9) + b"\x00\x02\x00\x16"
    BINFMT_MASK = b"\xff" * 7 + b"\xfc" + b"\xff" * 8 + b"\xff\xfe\xff\xff"
    NATIVE_ON = ("s390x",)
    UNICORN_CONSTS = "s390x_const"
    UNICORN_REG_PREFIX, UNICORN_CPU_PREFIX = "UC_S390X_REG_", "UC_CPU_S390X_"


SPEC = S390x()
