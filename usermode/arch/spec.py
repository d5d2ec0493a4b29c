"""The schema of a guest arch: every fact the engine, the kernel and the CLI need about one
CPU, declared once with its type and, where an arch may leave it out, its default.

Each arch package (`usermode/arch/<name>/__init__.py`) subclasses `ArchSpec` with data only
and exposes one instance as `SPEC`; `usermode.arch.load(name)` returns it. Its behaviour
lives beside it: `frame.py` (signal frames, see sigframe.py) and, where operands can be
decoded, `fault.py` (the exact address of a faulting access).
"""

from __future__ import annotations

from types import ModuleType

from usermode.host.lean import cached_property, import_module


class ArchSpec:
    NAME: str  # ours: aarch64, x86_64, riscv64, arm, mipsel, i386
    # ---- Unicorn and capstone -----------------------------------------------------------
    UC_ARCH: int
    UC_MODE: int
    CPU_MODEL: int  # the most capable model that runs user programs correctly
    CS_ARCH: int
    CS_MODE: int
    MAX_INSN_BYTES = 4  # what a fault report reads to decode one instruction
    PAGE_SIZE_CTL = False  # Unicorn's default page is 1 KiB on ARM: force 4 KiB
    CPU_TLB = False  # run on the CPU's own TLB, not our virtual TLB (mips: docs/abi.md §6)
    SPLIT_LONG_BLOCKS = False  # cut long branch-free stretches (mips: engine/tbsplit.py)
    THUMB_CPSR_BIT = 0  # arm: CPSR.T
    THUMB_REG = 0  # arm: the register holding THUMB_CPSR_BIT (CPSR)
    # (register, bits) a successful data TLB fill must clear: state Unicorn restores from the
    # accessing instruction that the running block does not expect (arm: the IT bits)
    FILL_RESTORED_BITS: tuple[int, int] | None = None
    # ---- data model ---------------------------------------------------------------------
    WORDSIZE: int
    LITTLE_ENDIAN = True
    # ---- registers (Unicorn ids; checked by tests/unit/test_unicorn_ids.py) -------------
    REG_PC_ID: int
    REG_SP_ID: int
    GPRS: tuple[int, ...]  # the general registers a signal frame saves, in frame order
    TLS_REG: int
    TLS_KIND = "reg"  # "gdt": i386, a selector into our GDT (arch/i386/tls.py)
    TLS_REG_LOW: int | None = None  # s390x: the pointer's low half (a1; TLS_REG, a0, the high)
    # ---- syscall entry ------------------------------------------------------------------
    SYSCALL_HOOK: str  # "intr" (an interrupt number) or "insn" (x86_64's syscall)
    SYSCALL_INTNO: int | None = None
    SYSCALL_INSN: int | None = None
    SYSCALL_NR_REG: int
    SYSCALL_ARG_REGS: tuple[int, ...]
    SYSCALL_INSN_SIZE: int  # a restarted syscall re-runs from PC minus this
    SYSCALL_PC_AT_INSN = False  # s390x: the hook sees PC on the svc; the engine moves it past
    SYSCALL_NR_IMM = False  # s390x: `svc N` with N != 0 names the syscall (else SYSCALL_NR_REG)
    SYSCALL_RET_REG: int
    SYSCALL_ERR_REG: int | None = None  # mips: a3 = 1 marks v0 as a positive errno
    SYSCALL_MAX_ERRNO = 4095
    INTR_SIGNALS: dict[int, int]  # CPU exception number -> the signal it raises
    PIPE_SECOND_REG: int | None = None  # mips: pipe() returns the write end in v1
    # ---- process start ------------------------------------------------------------------
    ENTRY_REGS: tuple[tuple[int, int], ...]  # set at the entry point besides PC and SP
    HWCAP: int
    HWCAP2 = 0
    HWCAP_NAMES: dict[int, str] = {}  # HWCAP bit -> its /proc/cpuinfo feature name
    CPUINFO: str | None = None  # one /proc/cpuinfo block ({cpu}, {features}); None: the host's
    PLATFORM: bytes | None = None  # AT_PLATFORM
    MINSIGSTKSZ = 2048
    # a page the kernel maps above TASK_SIZE with code for user space (arm's kuser helpers):
    # its address and {offset: machine code}
    KUSER_PAGE: int | None = None
    KUSER_HELPERS: dict[int, bytes] = {}
    TASK_SIZE: int
    STACK_TOP: int
    ELF_ET_DYN_BASE: int
    ARENA_SIZE: int  # reserved below the stack for mmap
    # ---- the world around it ------------------------------------------------------------
    UNAME_MACHINE: str
    TRIPLE: str  # Debian's multiarch triple: the cross sysroot /usr/<TRIPLE>
    QEMU_NAME: str  # qemu-<QEMU_NAME>, /etc/qemu-binfmt/<QEMU_NAME>
    BINFMT_MAGIC: bytes  # qemu-binfmt-conf.sh's magic and mask
    BINFMT_MASK: bytes
    UNICORN_CONSTS: str  # the unicorn package's module with this arch's register names
    UNICORN_REG_PREFIX: str
    UNICORN_CPU_PREFIX: str
    NATIVE_ON: tuple[str, ...] = ()  # host machines (uname -m) that run this arch natively
    # an arch whose code this one shares: frames, fault decoding, syscall table and ABI (armel:
    # arm's, with another C library ABI and sysroot); its binfmt entry serves both
    FAMILY: str | None = None

    @cached_property
    def frame(self) -> ModuleType:
        """build/rt_sigreturn/sigreturn (usermode/arch/sigframe.py)."""
        return import_module(f"usermode.arch.{self.FAMILY or self.NAME}.frame")

    @cached_property
    def fault(self) -> ModuleType | None:
        """`address(eng, insn, page_addr)` from a decoded faulting instruction, if any."""
        name = f"usermode.arch.{self.FAMILY or self.NAME}.fault"
        try:
            return import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            return None
