"""Ending our own process the way the guest would end: exit status or fatal signal."""

from __future__ import annotations

import os
import resource
import sys

from usermode.host.lean import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

SIGNAMES = {4: "Illegal instruction", 5: "Trace/breakpoint trap", 6: "Aborted",
            7: "Bus error", 8: "Floating point exception", 11: "Segmentation fault"}


# The Python API runs the guest inside its caller's process: there a fatal signal raises
# this (an exception class taking the signal number) instead of killing the process.
RAISE_ON_DEATH: type[BaseException] | None = None
# told the signal first (the gdb stub reports the death to gdb)
LAST_WORDS: list[Callable[[int], None]] = []


def die(signo: int) -> None:
    """Die of `signo` so our parent sees exactly what a native run would show."""
    for tell in LAST_WORDS:
        tell(signo)
    if RAISE_ON_DEATH is not None:
        raise RAISE_ON_DEATH(signo)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the emulator's core is no use
    except (ValueError, OSError):
        pass
    if signo not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(signo, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signo])
    os.kill(os.getpid(), signo)
    os._exit(128 + signo)  # the signal could not kill us (e.g. a stop signal)


def stop(signo: int) -> None:
    """The default action of a stop signal (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU): stop our
    whole host process with that same signal, so the parent's wait sees WIFSTOPPED with it;
    returns once something continues us. The kernel applies the orphaned-process-group rule
    (such a stop is discarded) exactly as it would for the guest."""
    sys.stdout.flush()
    sys.stderr.flush()
    old = None if signo == signal.SIGSTOP else signal.signal(signo, signal.SIG_DFL)
    blocked = signal.pthread_sigmask(signal.SIG_UNBLOCK, [signo])
    try:
        os.kill(os.getpid(), signo)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        if old is not None:
            signal.signal(signo, old)


_IGNORED_AT_START: set[int] = set()


def restore_default_dispositions() -> None:
    """Python ignores SIGPIPE and catches SIGINT; a native program does neither. A signal our
    parent left ignored (SIGINT for a background job) stays ignored, as exec keeps it."""
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP, signal.SIGTSTP):
        if signal.getsignal(sig) == signal.SIG_IGN:
            _IGNORED_AT_START.add(int(sig))
    for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGXFSZ):
        if sig not in _IGNORED_AT_START:
            signal.signal(sig, signal.SIG_DFL)


def ignored_at_start(ignored: set[int] | None) -> set[int]:
    """The signals that start out ignored: those our parent left ignored, or those an
    execve kept ignored."""
    return set(_IGNORED_AT_START if ignored is None else ignored)
