"""The Python API: run a foreign program in this process, hook its syscalls and addresses,
and collect its trace as Python objects.

    from usermode import Emulator

    emu = Emulator(["./prog", "arg"], sysroot="/usr/aarch64-linux-gnu", trace=True)
    emu.hook_syscall("openat", before=lambda ctx: print("opening", ctx.read_str(ctx.args[1])))
    status = emu.run()          # the exit status, or -SIGNO if a signal ended the guest
    for ev in emu.events: ...   # SyscallEvent / SignalEvent objects

The guest shares this process: its file descriptors (stdin/stdout/stderr may be redirected
for the run), its working directory and, during the run, its signal dispositions, which are
put back afterwards. A guest fork forks this process; the child never returns from run().
Hooks run inside the emulation: a hook that raises stops it, and run() raises HookError
naming the hook.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from usermode.kernel.errors import Errno, errno_of
from usermode.trace.sinks import SignalEvent, SyscallEvent

if TYPE_CHECKING:
    from usermode.kernel.process import Process

__all__ = ["AddressContext", "Emulator", "EmulatorError", "HookError", "SignalEvent",
           "SyscallContext", "SyscallEvent"]


class EmulatorError(Exception):
    """The program cannot be run (not found, malformed, unsupported arch...)."""


class HookError(Exception):
    """A user hook raised: emulation stopped. `hook` names it; the cause is chained."""

    def __init__(self, hook: str, cause: BaseException) -> None:
        super().__init__(f"hook {hook} raised {type(cause).__name__}: {cause}")
        self.hook = hook


class _GuestKilled(BaseException):
    def __init__(self, signo: int) -> None:
        super().__init__(signo)
        self.signo = signo


class _Context:
    """What every hook gets: the guest's memory and registers."""

    def __init__(self, proc: Process) -> None:
        self._proc = proc

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def tid(self) -> int:
        return self._proc.thread.tid

    @property
    def arch(self) -> str:
        return self._proc.abi.arch

    def read(self, addr: int, size: int) -> bytes:
        """Guest memory; OSError(EFAULT) where it is not mapped readable."""
        try:
            return bytes(self._proc.mem.read(addr, size))
        except Errno as e:
            raise OSError(e.errno, os.strerror(e.errno)) from None

    def read_str(self, addr: int, limit: int = 4096) -> bytes:
        try:
            return bytes(self._proc.mem.read_cstr(addr, limit))
        except Errno as e:
            raise OSError(e.errno, os.strerror(e.errno)) from None

    def write(self, addr: int, data: bytes) -> None:
        try:
            self._proc.mem.write(addr, data)
        except Errno as e:
            raise OSError(e.errno, os.strerror(e.errno)) from None

    def _reg_id(self, name: str) -> int:
        spec = self._proc.arch
        consts = importlib.import_module(f"unicorn.{spec.UNICORN_CONSTS}")
        prefix = spec.UNICORN_REG_PREFIX
        try:
            return int(getattr(consts, prefix + name.upper()))
        except AttributeError:
            raise KeyError(f"no register {name!r} on {self.arch}") from None

    def reg(self, name: str) -> int:
        """A register by its usual name (x0, pc, sp, rax, a0, r7, ...)."""
        return self._proc.engine.uc.reg_read(self._reg_id(name))

    def set_reg(self, name: str, value: int) -> None:
        self._proc.engine.uc.reg_write(self._reg_id(name), value)


class SyscallContext(_Context):
    """A syscall in a hook. `args` are decoded as the handler gets them (register pairs
    joined, mips numbers made the host's); `before` may change them. `ret` is the result
    (-errno on failure) once known; `after` may change it."""

    def __init__(self, proc: Process, name: str, args: list[int]) -> None:
        super().__init__(proc)
        self.name = name
        self.args = args
        self.ret: int | None = None


class AddressContext(_Context):
    def __init__(self, proc: Process, address: int) -> None:
        super().__init__(proc)
        self.address = address


SyscallHook = Callable[[SyscallContext], Any]


@dataclass
class _SyscallHooks:
    before: list[SyscallHook] = field(default_factory=list)
    after: list[SyscallHook] = field(default_factory=list)
    replace: SyscallHook | None = None


def _label(fn: Callable[..., Any], kind: str, what: str) -> str:
    return f"{getattr(fn, '__qualname__', repr(fn))} ({kind} {what})"


class Emulator:
    """One guest program run in this process (see the module's text)."""

    def __init__(self, argv: Sequence[str], *, sysroot: str | None = None,
                 env: Mapping[str, str] | None = None, arch: str | None = None,
                 stdin: IO[Any] | int | None = None, stdout: IO[Any] | int | None = None,
                 stderr: IO[Any] | int | None = None, trace: bool = False,
                 gdb: int | str | None = None) -> None:
        """`gdb`: a TCP port (or Unix socket path) on which `run` waits for gdb first."""
        if not argv:
            raise ValueError("argv must name the program")
        self.argv = [os.fspath(a) for a in argv]
        self.sysroot = sysroot
        self.env = dict(os.environ if env is None else env)
        self.arch = arch
        self._stdio = (stdin, stdout, stderr)
        self.events: list[SyscallEvent | SignalEvent] = []
        self._trace = trace
        self._syscalls: dict[str, _SyscallHooks] = {}
        self._addresses: list[tuple[int, Callable[[AddressContext], Any]]] = []
        self.crash: str | None = None  # the one-line report of a fatal guest fault
        self.gdb = None if gdb is None else str(gdb)

    # ---- hooks -------------------------------------------------------------------------------
    def hook_syscall(self, name: str, *, before: SyscallHook | None = None,
                     after: SyscallHook | None = None,
                     replace: SyscallHook | None = None) -> None:
        """Call `before(ctx)` ahead of the syscall `name`, `after(ctx)` once `ctx.ret` is
        known; `replace(ctx)` runs instead of the emulator's handler and returns the result
        (-errno for an error); it also serves syscalls the emulator does not implement."""
        h = self._syscalls.setdefault(name, _SyscallHooks())
        if before is not None:
            h.before.append(before)
        if after is not None:
            h.after.append(after)
        if replace is not None:
            h.replace = replace

    def hook_address(self, address: int, callback: Callable[[AddressContext], Any]) -> None:
        """Call `callback(ctx)` each time the guest is about to run the instruction at
        `address` (only that address pays: a one-instruction Unicorn code hook)."""
        self._addresses.append((address, callback))

    # ---- running -----------------------------------------------------------------------------
    def run(self) -> int:
        """Run the program to its end: its exit status, or -SIGNO if a signal ended it.
        Raises EmulatorError if it cannot start and HookError if a hook raised."""
        from usermode.kernel import fatal

        pid0 = os.getpid()
        saved_fds = self._redirect()
        saved_signals = {s: signal.getsignal(s) for s in signal.valid_signals()
                         if s not in (signal.SIGKILL, signal.SIGSTOP)}
        saved_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        fatal.RAISE_ON_DEATH = _GuestKilled
        try:
            status = self._run_images()
        finally:
            fatal.RAISE_ON_DEATH = None
            if os.getpid() == pid0:
                for s, h in saved_signals.items():
                    try:
                        signal.signal(s, h if h is not None else signal.SIG_DFL)
                    except (OSError, ValueError, TypeError):
                        pass
                signal.pthread_sigmask(signal.SIG_SETMASK,
                                       saved_mask & signal.valid_signals())
                self._restore(saved_fds)
        if os.getpid() != pid0:  # a guest fork's child: never return into the caller
            sys.stdout.flush()
            os._exit(status & 0xFF if status >= 0 else 128 - status)
        return status

    def _redirect(self) -> list[tuple[int, int]]:
        sys.stdout.flush()  # what the caller printed so far goes where it was meant to
        sys.stderr.flush()
        saved = []
        for fd, target in enumerate(self._stdio):
            if target is None:
                continue
            src = target if isinstance(target, int) else target.fileno()
            if hasattr(target, "flush"):
                target.flush()
            saved.append((fd, os.dup(fd)))
            os.dup2(src, fd)
        return saved

    @staticmethod
    def _restore(saved: list[tuple[int, int]]) -> None:
        sys.stdout.flush()  # a hook's prints went with the guest's output
        sys.stderr.flush()
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)

    def _run_images(self) -> int:
        from usermode.engine.core import GuestFault
        from usermode.kernel.process import Options, UsageError
        from usermode.run import Runner

        opts = Options()
        opts.sysroot = self.sysroot
        opts.gdb = self.gdb
        if self._trace:
            from usermode.trace.tracer import TraceOptions

            opts.trace = TraceOptions(text=False, events=self.events)
        runner = Runner(opts, prepare=self._install, arch=self.arch)
        try:
            status = runner.run(self.argv[0], list(self.argv), self.env)
        except UsageError as e:
            raise EmulatorError(str(e)) from None
        except _GuestKilled as k:
            _close_quietly(runner.proc)
            return -k.signo
        except GuestFault as f:
            from usermode.trace.crash import describe

            proc = runner.proc
            assert proc is not None
            self.crash = describe(proc, f)
            if proc.tracer is not None:
                proc.tracer.killed(f.signo)
            _close_quietly(proc)
            return -f.signo
        if runner.proc is not None:  # memory and engine go now, not at garbage collection
            runner.proc.close()
        return status

    def _install(self, proc: Process) -> None:
        if self._syscalls:
            for name, hooks in self._syscalls.items():
                if hooks.replace is not None:
                    proc.dispatcher.serve_unimplemented(name)
            proc.dispatcher.wrap_handlers(self._wrap_syscall, inner=True)
        for address, callback in self._addresses:
            _hook_address(proc, address, callback)

    def _wrap_syscall(self, name: str, fn: Callable[..., int]) -> Callable[..., int]:
        hooks = self._syscalls.get(name)
        if hooks is None:
            return fn

        def hooked(proc: Process, *a: int) -> int:
            ctx = SyscallContext(proc, name, list(a))
            for h in hooks.before:
                _call(h, ctx, "before", name)
            if hooks.replace is not None:
                r = _call(hooks.replace, ctx, "replace", name)
                if not isinstance(r, int):
                    raise HookError(_label(hooks.replace, "replace", name),
                                    TypeError(f"returned {r!r}, not an int"))
                ret = r
            else:
                try:
                    ret = fn(proc, *ctx.args)
                except Exception as e:
                    err = errno_of(e)
                    if err is None:
                        raise
                    ret = -err
            ctx.ret = ret
            for h in hooks.after:
                _call(h, ctx, "after", name)
            ret = ctx.ret
            if -4096 < ret < 0:
                raise Errno(-ret)
            return ret

        return hooked


def _call(hook: SyscallHook, ctx: SyscallContext, kind: str, name: str) -> Any:
    try:
        return hook(ctx)
    except HookError:
        raise
    except Exception as e:
        raise HookError(_label(hook, kind, name), e) from e


def _hook_address(proc: Process, address: int, callback: Callable[[AddressContext], Any]
                  ) -> None:
    from usermode.engine import capi

    engine = proc.engine

    def on_code(_h: int, addr: int, _size: int, _u: int) -> None:
        try:
            callback(AddressContext(proc, addr))
        except Exception as e:
            engine.error = HookError(_label(callback, "address", hex(address)), e)
            engine.error.__cause__ = e
            engine.uc.emu_stop()

    cb = capi.HOOK_CODE(engine.guarded(on_code))
    engine.uc.hook_add(capi.UC_HOOK_CODE, cb, address, address)
    proc.api_hooks.append(cb)  # keep the ctypes callback alive as long as the process


def _close_quietly(proc: Process | None) -> None:
    """A run that a signal or fault ended: its engine, memory, watchdog thread and host
    signalfd go now (a later run in this process must not share them)."""
    if proc is None:
        return
    try:
        proc.close()
    except Exception:
        pass
