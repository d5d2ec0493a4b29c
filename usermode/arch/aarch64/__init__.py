"""aarch64 guest: Unicorn ids, syscall entry, start-up registers, HWCAP, layout. Data only: the
ArchSpec schema (usermode/arch/spec.py) with this arch's values."""

from usermode.arch.binfmt_magic import _HEAD64, _MASK
from usermode.arch.spec import ArchSpec


class Aarch64(ArchSpec):
    NAME = "aarch64"
    UC_ARCH = 2  # UC_ARCH_ARM64
    UC_MODE = 0  # little-endian, ARM
    # UC_CPU_ARM64_MAX: the most capable model (LSE atomics, SHA3, ...). HWCAP below advertises
    # only features proven to execute by tests/unit/test_cpu_features.py.
    CPU_MODEL = 3
    CS_ARCH, CS_MODE = 1, 0  # capstone 5: CS_ARCH_AARCH64, little-endian
    PAGE_SIZE_CTL = True  # Unicorn defaults to 1 KiB pages on ARM; force 4 KiB

    WORDSIZE = 8

    # Register ids (unicorn/arm64.h)
    REG_X0 = 199
    REG_X8 = 207
    REG_X29 = 1
    REG_X30 = 2
    REG_SP = 4
    REG_PC = 260
    REG_NZCV = 3
    REG_TPIDR_EL0 = 262
    GPRS = (*range(199, 228), 1, 2)  # x0..x28, x29, x30

    SYSCALL_HOOK = "intr"
    SYSCALL_INTNO = 2  # EXCP_SWI; PC is already past the svc
    SYSCALL_NR_REG = REG_X8
    SYSCALL_ARG_REGS = (199, 200, 201, 202, 203, 204)  # x0..x5
    SYSCALL_INSN_SIZE = 4  # a restarted syscall re-runs from PC - this
    SYSCALL_RET_REG = REG_X0
    REG_PC_ID = REG_PC
    REG_SP_ID = REG_SP
    TLS_REG = REG_TPIDR_EL0

    # Exceptions delivered to the interrupt hook: intno -> signal
    INTR_SIGNALS = {1: 4, 7: 5}  # EXCP_UDEF -> SIGILL, EXCP_BKPT -> SIGTRAP

    # Registers set at the entry point besides PC and SP (docs/abi.md §5.2): x0 = 0 (rtld_fini).
    ENTRY_REGS = ((REG_X0, 0),)

    # HWCAP bits (arch/arm64/include/uapi/asm/hwcap.h)
    HWCAP = (
        (1 << 0)  # FP
        | (1 << 1)  # ASIMD
        | (1 << 3)  # AES
        | (1 << 4)  # PMULL
        | (1 << 5)  # SHA1
        | (1 << 6)  # SHA2
        | (1 << 7)  # CRC32
        | (1 << 8)  # ATOMICS
        | (1 << 11)  # CPUID
    )
    HWCAP_NAMES = {0: "fp", 1: "asimd", 3: "aes", 4: "pmull", 5: "sha1", 6: "sha2",
                   7: "crc32", 8: "atomics", 11: "cpuid"}
    CPUINFO = ("processor\t: {cpu}\nBogoMIPS\t: 100.00\nFeatures\t: {features}\n"
               "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n"
               "CPU part\t: 0xd08\nCPU revision\t: 3\n")
    PLATFORM = b"aarch64"
    UNAME_MACHINE = "aarch64"
    MINSIGSTKSZ = 5120

    # Address-space layout (48-bit VA; Linux without ASLR)
    TASK_SIZE = 1 << 48
    STACK_TOP = 0xFFFFFFFFF000
    ELF_ET_DYN_BASE = 0xAAAAAAAAA000
    ARENA_SIZE = 1 << 36  # 64 GiB reserved below the stack for mmap and the stack itself

    TRIPLE = "aarch64-linux-gnu"
    QEMU_NAME = "aarch64"
    BINFMT_MAGIC = _HEAD64 + b"\xb7\x00"
    NATIVE_ON = ("aarch64",)  # binfmt: left out on these hosts by default
    BINFMT_MASK = _MASK
    UNICORN_CONSTS = "arm64_const"
    UNICORN_REG_PREFIX, UNICORN_CPU_PREFIX = "UC_ARM64_REG_", "UC_CPU_ARM64_"


SPEC = Aarch64()
