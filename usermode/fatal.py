"""Ending our own process the way the guest would end: exit status or fatal signal."""

from __future__ import annotations

import os
import resource
import signal
import sys

SIGNAMES = {4: "Illegal instruction", 5: "Trace/breakpoint trap", 6: "Aborted",
            7: "Bus error", 8: "Floating point exception", 11: "Segmentation fault"}


def die(signo: int) -> None:
    """Die of `signo` so our parent sees exactly what a native run would show."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the emulator's core is no use
    except (ValueError, OSError):
        pass
    signal.signal(signo, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signo])
    os.kill(os.getpid(), signo)
    os._exit(128 + signo)  # the signal could not kill us (e.g. a stop signal)


def restore_default_dispositions() -> None:
    """Python ignores SIGPIPE and catches SIGINT; a native program does neither."""
    for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
