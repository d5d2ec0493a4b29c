"""arm (EABI, hard-float) guest: Unicorn ids, syscall entry, start-up registers, HWCAP,
layout. Data only: the
ArchSpec schema (usermode/arch/spec.py) with this arch's values."""

from usermode.arch.binfmt_magic import _HEAD32, _MASK
from usermode.arch.spec import ArchSpec


class Arm(ArchSpec):
    NAME = "arm"
    UC_ARCH = 1  # UC_ARCH_ARM
    UC_MODE = 0  # ARM; Thumb is entered through bit 0 of the PC, as on hardware
    CPU_MODEL = 17  # UC_CPU_ARM_CORTEX_A15 (VFPv4, NEON, IDIV)
    PAGE_SIZE_CTL = True  # Unicorn defaults to 1 KiB pages on ARM; force 4 KiB
    CS_ARCH, CS_MODE = 0, 0  # capstone 5: CS_ARCH_ARM, ARM mode (| 16 for Thumb)

    WORDSIZE = 4

    # Register ids (unicorn/arm.h)
    REG_R0 = 66
    REG_R7 = 73
    REG_SP = 12
    REG_LR = 10
    REG_PC = 11
    REG_CPSR = 3
    REG_FPEXC = 4
    REG_TPIDRURO = 113  # C13_C0_3: the TLS pointer user space reads with mrc
    GPRS = (*range(66, 79), 12, 10)  # r0..r12, sp, lr
    THUMB_REG = REG_CPSR
    THUMB_CPSR_BIT = 0x20  # CPSR.T: resume with PC | 1, and a Thumb svc is 2 bytes
    FILL_RESTORED_BITS = (REG_CPSR, 0x0600FC00)  # CPSR.IT[1:0] (26:25), IT[7:2] (15:10)

    SYSCALL_HOOK = "intr"
    SYSCALL_INTNO = 2  # EXCP_SWI; PC is already past the svc
    SYSCALL_NR_REG = REG_R7
    SYSCALL_ARG_REGS = (66, 67, 68, 69, 70, 71, 72)  # r0..r6 (r6: 64-bit pairs can reach it)
    SYSCALL_INSN_SIZE = 4  # ARM svc; Thumb's is 2 (THUMB_CPSR_BIT)
    SYSCALL_RET_REG = REG_R0
    REG_PC_ID = REG_PC
    REG_SP_ID = REG_SP
    TLS_REG = REG_TPIDRURO

    # Exceptions delivered to the interrupt hook: undefined instruction, bkpt.
    INTR_SIGNALS = {1: 4, 7: 5}

    # docs/abi.md §5.2: r0 = 0 (rtld_fini); VFP/NEON start disabled in Unicorn: FPEXC.EN.
    ENTRY_REGS = ((REG_R0, 0), (REG_FPEXC, 0x40000000))

    # HALF THUMB FAST_MULT VFP EDSP NEON VFPv3 TLS VFPv4 IDIVA IDIVT VFPD32 LPAE
    HWCAP = 0x1FB0D6
    HWCAP_NAMES = {1: "half", 2: "thumb", 4: "fastmult", 6: "vfp", 7: "edsp", 12: "neon",
                   13: "vfpv3", 15: "tls", 16: "vfpv4", 17: "idiva", 18: "idivt", 19: "vfpd32",
                   20: "lpae"}
    CPUINFO = ("processor\t: {cpu}\nmodel name\t: ARMv7 Processor rev 3 (v7l)\n"
               "BogoMIPS\t: 100.00\nFeatures\t: {features}\nCPU implementer\t: 0x41\n"
               "CPU architecture: 7\nCPU variant\t: 0x2\nCPU part\t: 0xc0f\n"
               "CPU revision\t: 3\n")  # a Cortex-A15, the CPU Unicorn runs
    PLATFORM = b"v7l"
    UNAME_MACHINE = "armv7l"
    MINSIGSTKSZ = 2048

    # Address-space layout (3 GiB split; Linux without ASLR). The kuser helper page sits at
    # 0xffff0000, above TASK_SIZE.
    TASK_SIZE = 0xBF000000
    STACK_TOP = 0xBF000000
    ELF_ET_DYN_BASE = 0x00400000
    ARENA_SIZE = 0xBF000000 - 0x40000000  # TASK_UNMAPPED_BASE upwards
    KUSER_PAGE = 0xFFFF0000
    # ARM-mode helpers at the kernel's offsets (Documentation/arm/kernel_user_helpers.rst),
    # for a single CPU: no barrier is needed, and a green thread is never switched inside
    # a block, so a plain load-compare-store is atomic.
    KUSER_HELPERS = {
        0xF60: bytes.fromhex(  # __kuser_cmpxchg64(*old r0, *new r1, ptr r2): r0 0 and C on swap
            "f0002de9" "d040c0e1" "d060c1e1" "d000c2e1" "043030e0" "05303100"
            "f060c201" "000073e2" "f000bde8" "1eff2fe1"),
        0xFA0: bytes.fromhex("1eff2fe1"),  # __kuser_memory_barrier: bx lr
        0xFC0: bytes.fromhex(  # __kuser_cmpxchg(old r0, new r1, ptr r2): r0 0 and C on swap
            "003092e5" "003053e0" "00108205" "000073e2" "1eff2fe1"),
        0xFE0: bytes.fromhex("700f1dee" "1eff2fe1"),  # __kuser_get_tls: mrc TPIDRURO; bx lr
        0xFFC: (5).to_bytes(4, "little"),  # __kuser_helper_version: 5 helpers
    }

    TRIPLE = "arm-linux-gnueabihf"
    QEMU_NAME = "arm"
    BINFMT_MAGIC = _HEAD32 + b"\x28\x00"
    NATIVE_ON = ("aarch64", "armv7l", "armv8l")  # binfmt: left out on these hosts by default
    BINFMT_MASK = _MASK
    UNICORN_CONSTS = "arm_const"
    UNICORN_REG_PREFIX, UNICORN_CPU_PREFIX = "UC_ARM_REG_", "UC_CPU_ARM_"


SPEC = Arm()
