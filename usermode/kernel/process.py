"""One emulated process: its engine, address space, threads and signal state."""

from __future__ import annotations

import os

from usermode import arch as archmod
from usermode.engine.core import Engine
from usermode.host.fds import move_high
from usermode.kernel.children import ChildWatch
from usermode.kernel.errors import Errno
from usermode.kernel.exec import EXIT_CANNOT_EXEC, UsageError, load_program, read_program
from usermode.kernel.fatal import ignored_at_start
from usermode.kernel.fdtable import FdTable
from usermode.kernel.memory import PROT_R, PROT_X, AddressSpace, page_down
from usermode.kernel.paths import Paths, default_sysroot
from usermode.kernel.sched import Scheduler
from usermode.kernel.signals import IGNORED, Action
from usermode.kernel.threads import Thread
from usermode.loop.aio import EventLoop

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable

    from loaders.image import ImagePlan
    from syscalls.abi import Abi
    from syscalls.dispatch import Dispatcher
    from usermode.arch.spec import ArchSpec
    from usermode.trace.tracer import TraceOptions, Tracer

__all__ = ["Options", "Process", "UsageError"]


class Options:
    """What the command line (or the API) asks of one run."""

    def __init__(self) -> None:
        self.argv0: str | None = None
        self.stack_size = 8 << 20
        self.sysroot: str | None = None
        self.chroot: bytes | None = None  # the guest's root after chroot (kept across execve)
        self.personality = 0  # the guest's persona (PER_LINUX and flags), kept across execve
        self.strace = False
        self.trace: TraceOptions | None = None  # `usermode strace` (or -strace): what to trace
        self.log_file: str | None = None
        self.uname_release: str | None = None  # -r / QEMU_UNAME
        self.warn_unsupported = False
        self.debug: set[str] = set()
        self.quantum_ns = 10_000_000  # preemption time slice while several threads compete
        self.poll_max_ns: int | None = None  # None: the loop's default (0 on one CPU)
        self.poll_grow = 2
        self.poll_shrink = 2  # 0: QEMU's reset-to-0
        self.poll_fds = False  # poll fd readiness in the polling window too
        self.stats = False  # print the scheduler's and the loop's counters at exit
        self.gdb: str | None = None  # -g: the TCP port or Unix socket path gdb connects to
        # what an execve carries into the next image: ignored signals and the caller's mask
        self.exec_ignored: set[int] | None = None
        self.exec_sigmask = 0


class Process:
    """Built by the composition root (usermode/run.py), which attaches the syscall layer."""

    abi: Abi  # the guest's syscall ABI (set_abi)
    abi_time64: Abi  # 32-bit ABIs: the same with 64-bit time_t (the *_time64 calls)
    dispatcher: Dispatcher
    dispatch: Callable[[int, list[int]], int]  # the engine's entry: the table, maybe traced

    def __init__(self, path: str, argv: list[str], opts: Options) -> None:
        self.opts = opts
        self.exe_path = os.path.abspath(path)
        self.argv = argv
        self.exit_status: int | None = None
        self.pid = os.getpid()
        self.elf = read_program(path)
        self.fds = FdTable()
        self.sigactions: dict[int, Action] = {
            s: IGNORED for s in ignored_at_start(opts.exec_ignored)}
        self.host_dispositions: dict[int, int] = {}  # signals.HOST_*: what the host was told
        self.children = ChildWatch(self)
        self.vfork_release: int | None = None  # a vfork child's hold on its waiting parent
        self.comm = os.fsencode(os.path.basename(argv[0] if argv else path))[:15]
        try:
            self.arch: ArchSpec = archmod.load(self.elf.arch)
        except KeyError:
            raise UsageError(f"{path}: guest architecture {self.elf.arch} is not supported yet",
                             EXIT_CANNOT_EXEC) from None
        self.paths = Paths(self.exe_path, self.pid, opts.sysroot or default_sysroot(
            self.arch, self.elf.interp))
        self.paths.jail = opts.chroot
        self.engine = Engine(self.arch)
        self.sched = Scheduler(self, quantum_ns=opts.quantum_ns, loop_factory=self._new_loop,
                               poll_fds=opts.poll_fds)
        self.sched.current.sigmask = opts.exec_sigmask
        a = self.arch
        arena_lo = a.STACK_TOP - a.ARENA_SIZE
        self.mem = AddressSpace(self.engine.uc, arena_lo=arena_lo, arena_hi=a.STACK_TOP,
                                mmap_top=page_down(a.STACK_TOP - max(opts.stack_size, 128 << 20)),
                                task_size=a.TASK_SIZE, region_perms=self.engine.cpu_tlb)
        self.tracer: Tracer | None = None  # set by the tracer itself
        self.api_hooks: list[object] = []  # the Python API's address hooks, kept alive
        self.gdt_used: set[int] = set()  # i386: the TLS entries set_thread_area has filled
        self.membarrier_private = False  # registered for private expedited membarriers
        self.posix_timers: set[int] = set()  # host timer ids the guest created (timer_create)
        self.image: ImagePlan | None = None
        self.envp: list[bytes] = []
        self.stack_start = 0
        self.auxv_final: list[tuple[int, int]] = []
        self._sigpage: int | None = None
        self.entry = 0

    def _new_loop(self) -> EventLoop:
        o = self.opts
        loop = EventLoop(poll_max_ns=o.poll_max_ns, poll_grow=o.poll_grow,
                         poll_shrink=o.poll_shrink)
        if o.stats:
            loop.keep_histograms()
        return loop

    def log_fd(self) -> int:
        """Where -d output goes: the -D file, else (a private dup of) stderr."""
        if self.opts.log_file:
            fd = os.open(self.opts.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND |
                         os.O_CLOEXEC, 0o644)
        else:
            fd = os.dup(2)
        high = move_high(fd)
        self.fds.reserved.add(high)
        return high

    def set_abi(self, abi: Abi) -> None:
        """The guest's syscall ABI (the composition root, usermode/run.py, picks it: the
        kernel does not import the layers above it)."""
        self.abi = abi
        self.abi_time64 = abi.with_time64() if abi.wordsize == 4 else abi

    def install(self, dispatcher: Dispatcher, dispatch: Callable[[int, list[int]], int]) -> None:
        """The syscall table, and the engine's hooks that call into it."""
        self.dispatcher = dispatcher
        self.dispatch = dispatch
        eng = self.engine
        if eng.core is None:
            eng.install(dispatch, self.abi.mask, self.mem.tlb_fill)
            return
        eng.install_native(dispatch, self, [self.abi.to_guest_errno(e) for e in range(4096)],
                           Errno)
        self.mem.use_core(eng.core)
        if dispatch == dispatcher.call:  # (a tracer sees every call through `dispatch`)
            dispatcher.sync_native = eng.set_syscall_table

    def load(self, env: dict[str, str]) -> None:
        load_program(self, env)

    # ---- run ---------------------------------------------------------------------------------
    def code_mapped(self, lo: int, hi: int) -> None:
        """Executable code may have appeared in [lo, hi) (an ELF image, an mmap or mprotect
        with PROT_EXEC): let the engine's block splitter see it (mips only)."""
        sp = self.engine.splitter
        if sp is None:
            return
        for v in list(self.mem.vmas):
            if v.prot & PROT_X and v.start < hi and v.end > lo:
                a, b = max(v.start, lo), min(v.end, hi)
                sp.add(self.mem.view_for_loader(a, b - a), a)

    def exit(self, status: int) -> None:
        """exit_group: remember the status and stop the engine after this hook returns."""
        self.exit_status = status & 0xFF
        self.engine.uc.emu_stop()

    def close(self) -> None:
        """Tear the guest image down (execve): engine, memory, scheduler."""
        self.sched.close()
        self.mem.release()
        self.engine.uc.close()

    def signal_trampoline(self, code: bytes) -> int:
        """A page of ours holding `code` (the rt_sigreturn call), mapped on first use."""
        if self._sigpage is None:
            self._sigpage = self.mem.map(0, 4096, PROT_R | PROT_X, name="[sigpage]")
            self.mem.write(self._sigpage, code, force=True)
        return self._sigpage

    @property
    def thread(self) -> Thread:
        """The guest thread whose syscall is being handled."""
        return self.sched.current

    def run(self) -> int:
        return self.sched.run(self.entry)
