"""Start a guest and run it to its end, through every foreign program it execs.

This is the composition root: the one place that gives a kernel `Process` its syscall layer
(the ABI, the dispatcher over the registered handlers, the tracer when asked for) and the
`-d` debug output, since the kernel does not import the layers above it. The CLI and the
Python API both run guests through `Runner`.
"""

from __future__ import annotations

import os

from usermode.host.fds import hold_spares
from usermode.host.lean import import_module
from usermode.kernel.errors import ExecRequest
from usermode.kernel.exec import EXIT_CANNOT_EXEC, EXIT_INTERNAL, UsageError, end_image
from usermode.kernel.process import Options, Process

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from usermode.gdb.stub import GdbStub


def new_process(program: str, argv: list[str], opts: Options) -> Process:
    """A process for `program` with its syscall table (and tracer) attached, not yet loaded."""
    from syscalls.abi import get as get_abi
    from syscalls.dispatch import Dispatcher
    from syscalls.linux import ROWS

    proc = Process(program, argv, opts)
    proc.set_abi(get_abi(proc.elf.arch))
    dispatcher = Dispatcher(proc.elf.arch, proc.abi, proc, ROWS,
                            warn_unsupported=opts.warn_unsupported or opts.strace)
    dispatch: Callable[[int, list[int]], int] = dispatcher.call
    if opts.strace or opts.trace is not None or "strace" in opts.debug:
        from usermode.trace.tracer import TraceOptions, Tracer

        if opts.trace is None:  # qemu's -strace: the defaults, into the -D file
            opts.trace = TraceOptions(output=opts.log_file)
        dispatch = Tracer(proc, dispatcher, opts.trace)
    proc.install(dispatcher, dispatch)
    if "in_asm" in opts.debug:
        from usermode.trace.debug import install_in_asm

        install_in_asm(proc, proc.log_fd())
    return proc


# Modules a run may import late (the first thread, wait, signal or fault): imported before
# the guest runs, since a guest that changes its fs credentials, root or cwd, or takes every
# fd, must not be able to break our imports. `traceback` (3 ms) only for `-d trace`.
RUNTIME_MODULES = ("fcntl", "mmap", "resource",
                   "usermode.engine.preempt", "usermode.engine.tbsplit")


def preload(proc: Process) -> None:
    for name in RUNTIME_MODULES:
        import_module(name)
    if "trace" in proc.opts.debug:
        import_module("traceback")
    proc.arch.frame  # noqa: B018  (loads the arch's signal frame and fault modules)
    proc.arch.fault  # noqa: B018


class Runner:
    """Runs one guest program and the programs it execs, in this host process.

    `prepare(proc)` runs before each image starts (the API installs its hooks there);
    `arch`, if given, is the only guest arch accepted. After `run` returns or raises, `proc`
    is the last image's process (for a crash report, counters, or closing it).
    """

    def __init__(self, opts: Options, *, prepare: Callable[[Process], None] | None = None,
                 arch: str | None = None) -> None:
        self.opts = opts
        self.prepare = prepare
        self.arch = arch
        self.proc: Process | None = None
        self.debugger: GdbStub | None = None

    def run(self, program: str, argv: list[str], env: dict[str, str]) -> int:
        """The last image's exit status. Raises UsageError (with our exit status) when an
        image cannot start, `engine.core.GuestFault` when a fatal CPU fault ended it, and
        whatever a bug of ours raised."""
        while True:
            proc = self.start(program, argv, env)
            try:
                return proc.run()
            except ExecRequest as x:
                # execve of a foreign program: this host process runs the new image
                end_image(proc)
                self.opts.argv0 = None
                program, argv = x.path, [os.fsdecode(a) for a in x.argv] or [x.path]
                env = {os.fsdecode(k): os.fsdecode(v)
                       for k, sep, v in (item.partition(b"=") for item in x.envp) if sep}

    def start(self, program: str, argv: list[str], env: dict[str, str]) -> Process:
        """A loaded process ready to run; anything that stops it starting is a UsageError
        (one line and an exit status, never a traceback)."""
        opts = self.opts
        try:
            proc = self.proc = new_process(program, argv, opts)
            if self.arch is not None and proc.abi.arch != self.arch:
                raise UsageError(f"{program} is a {proc.abi.arch} program, not {self.arch}",
                                 EXIT_CANNOT_EXEC)
            proc.load(env)
            if "page" in opts.debug:
                from usermode.trace.debug import print_page_map

                print_page_map(proc, proc.log_fd())
        except UsageError:
            self._abandon()
            raise
        except OSError as e:  # e.g. the -D log file cannot be opened
            self._abandon()
            name = f" {e.filename}" if e.filename else ""
            raise UsageError(f"cannot start{name}: {e.strerror or e}",
                             EXIT_CANNOT_EXEC) from None
        except Exception as e:  # anything else while setting up: one line, never a traceback
            if "trace" in opts.debug:
                import traceback

                traceback.print_exc()
            self._abandon()
            raise UsageError(f"cannot start {program}: {type(e).__name__}: {e}",
                             EXIT_INTERNAL) from None
        preload(proc)
        hold_spares(proc.fds.reserved.add)
        if self.prepare is not None:
            self.prepare(proc)
        if opts.gdb is not None:
            self._debug(proc, opts.gdb)
        return proc

    def _debug(self, proc: Process, where: str) -> None:
        """-g: gdb is there before the guest's first instruction (the first image waits for
        it to connect; a later one is reported to it as an exec)."""
        if self.debugger is None:
            from usermode.gdb.stub import GdbStub

            try:
                self.debugger = GdbStub(where)
                self.debugger.wait_for_gdb()
            except UsageError:
                self._abandon()
                raise
        self.debugger.attach(proc)

    def _abandon(self) -> None:
        """An image that could not start: its engine and memory go now."""
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                proc.close()
            except Exception:
                pass
