"""Our own fds: kept high, out of the guest's numbering, and never denied to us.

The event loop's epoll and eventfd, the SIGCHLD pipe, the host signalfd and our log files
live from HIGH_FD up, so the guest's open() keeps getting the numbers it would get natively.
A guest may also take every fd its limit allows, which would leave none for us when we need
one later (the first wait creates the event loop). So a few spare fds are held from the
start, and an operation of ours that fails for want of fds gives one up and runs again.
"""

from __future__ import annotations

import errno
import fcntl
import os
import resource

HIGH_FD = 900  # our own fds live from here up
SPARES = 16  # enough for the fds one wait, fork or signal of ours may need at once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

_spares: list[int] = []
# our fds that outlive a guest's execve of a foreign program (the debugger's connection)
SURVIVE_EXEC: set[int] = set()


def _no_table(_fd: int) -> None:
    pass


_reserve: Callable[[int], None] = _no_table  # tells the guest's fd table a spare is ours


def move_high(fd: int) -> int:
    """Renumber one of our fds to >= HIGH_FD (close-on-exec), so the guest's open() keeps
    getting the numbers it would get natively; the fd itself if there is no room up there."""
    try:
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
    except OSError:
        return fd
    os.close(fd)
    return high


def hold_spares(reserve: Callable[[int], None] | None = None) -> None:
    """Take the spare fds (at start and after an exec closed them). `reserve(fd)` marks
    each as ours in the guest's fd table (kept for the spares taken later)."""
    global _reserve
    if reserve is not None:
        _reserve = reserve
    while len(_spares) < SPARES:
        try:
            fd = move_high(os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            break
        _spares.append(fd)
        _reserve(fd)


def forget_spares() -> None:
    """An exec closed our fds: the spares are gone too."""
    _spares.clear()


def ours(make: Callable[[], T]) -> T:
    """`make()`, an operation that opens fds for us, run again with a spare fd given up
    each time it fails for want of fds (EMFILE, ENFILE). The guest's RLIMIT_NOFILE is the
    host's, and ours live above it (HIGH_FD), so the first retry runs with the soft limit
    raised to the hard one for as long as `make()` takes."""
    raised = False
    while True:
        try:
            if raised:
                with _limit_lifted():
                    result = make()
            else:
                result = make()
        except OSError as e:
            if e.errno not in (errno.EMFILE, errno.ENFILE):
                raise
            if not raised:
                raised = True
                continue
            if not _spares:
                raise
            os.close(_spares.pop())
            continue
        if len(_spares) < SPARES:
            hold_spares()  # take back what the guest has freed meanwhile, if it has
        return result


class _limit_lifted:
    """The soft RLIMIT_NOFILE at its hard value inside the block, the guest's after it."""

    def __enter__(self) -> None:
        self.limits = resource.getrlimit(resource.RLIMIT_NOFILE)
        soft, hard = self.limits
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def __exit__(self, *exc: object) -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, self.limits)
