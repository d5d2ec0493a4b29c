"""The ways a syscall handler leaves other than by returning a value, and the one mapping
from a raised exception to the errno the guest sees."""

from __future__ import annotations

import errno as errno_mod

from usermode.engine.core import Suspend
from usermode.host.lean import allocate_lock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# Why a parked thread was resumed: the argument its `retry` receives.
WOKEN = 0  # a source it waited for fired (fd ready, futex wake, helper done)
TIMEOUT = 1  # its deadline passed
INTERRUPTED = 2  # a signal became deliverable (issue 5)
NOW = 3  # not a wait at all: the operation only has to run outside the Unicorn hook


class Errno(Exception):
    """Raised by a handler to fail the guest syscall with a (host-numbered) errno.

    The dispatcher alone turns it into the guest's return convention. Host `OSError`s
    raised by `os.*` calls inside handlers are treated the same way.
    """

    __slots__ = ("errno",)

    def __init__(self, err: int) -> None:
        super().__init__(err)
        self.errno = err


class Park(Suspend):
    """Raised by a handler whose operation cannot complete now.

    The hook stops the engine and the scheduler parks the calling guest thread on what the
    Park names; other guest threads run meanwhile. When one of those fires (or the deadline
    passes) the thread is resumed and `retry(reason)` runs outside any Unicorn hook. It
    re-executes the non-blocking operation and returns the syscall's value, raises Errno,
    or raises Park again (a spurious wake-up costs nothing more than that).

    What a thread can wait for (any combination; the first to fire wins):
    - `fds`: ((host_fd, poll_events), ...) readiness;
    - `deadline`: CLOCK_MONOTONIC nanoseconds;
    - `futex`: (uaddr, bitset) for FUTEX_WAKE*;
    - `helper`: a blocking host call run on a helper thread (see `blocking`).
    With none of these the retry runs right away (reason NOW): for work such as clone or
    thread exit that must not happen inside the hook.

    A signal ends an interruptible wait. An operation that has already done part of its
    work says how much through `progress()` (bytes written so far): the syscall returns
    that instead of failing, as Linux does, so nothing is done twice. A helper's call that
    completes after its thread gave up waiting (a signal ended the wait first) is undone by
    `undo(result)`: the fd a FIFO open returned is closed, a lock taken is released.
    """

    __slots__ = ("abandoned", "deadline", "done", "fds", "forever", "futex", "helper",
                 "interruptible", "lock", "own_eintr", "progress", "result", "retry", "undo")

    def __init__(self, retry: Callable[[int], int], *,
                 fds: tuple[tuple[int, int], ...] = (), deadline: int | None = None,
                 futex: tuple[int, int] | None = None,
                 helper: Callable[[], int] | None = None, interruptible: bool = True,
                 forever: bool = False, own_eintr: bool = False,
                 progress: Callable[[], int] | None = None) -> None:
        super().__init__()
        self.retry = retry
        self.fds = fds
        self.deadline = deadline
        self.futex = futex
        self.helper = helper
        self.interruptible = interruptible
        self.forever = forever  # wait for nothing but a signal (pause, sigsuspend)
        # True: retry(INTERRUPTED) decides (sleeps, poll & co, futex); False: the call is
        # restarted under SA_RESTART and fails with EINTR otherwise, as ERESTARTSYS does
        self.own_eintr = own_eintr
        self.progress = progress
        self.result: int | BaseException = 0  # a helper's outcome
        self.done = False  # the helper's call has returned (`result` holds it)
        self.abandoned = False  # the thread stopped waiting for the helper before that
        self.undo: Callable[[int], None] | None = None
        self.lock = allocate_lock()  # the helper's completion against `abandon`

    @property
    def waits(self) -> bool:
        """True if the thread really waits (False: only leave the hook, then finish)."""
        return bool(self.fds or self.deadline is not None or self.futex or self.helper or
                    self.forever)

    @classmethod
    def outside(cls, fn: Callable[[], int]) -> Park:
        return cls(lambda _reason: fn())

    @classmethod
    def blocking(cls, fn: Callable[[], int], undo: Callable[[int], None]) -> Park:
        """A host call that may block for long (a FIFO open, a lock wait): a helper thread
        makes it; the guest thread's syscall returns what it returned (or its errno).
        `undo(result)` reverses a call that completes after a signal ended the wait."""
        park = cls(_unset, helper=fn)
        park.retry = park._deliver
        park.undo = undo
        return park

    def helper_done(self, result: int | BaseException) -> None:
        """The helper thread's call returned (on that thread)."""
        with self.lock:
            self.result, self.done = result, True
            late = self.abandoned
        if late and self.undo is not None and isinstance(result, int):
            self.undo(result)

    def abandon(self) -> bool:
        """The thread stops waiting for the helper; False if its call has already returned
        (then the result stands, signal or not)."""
        with self.lock:
            if self.done:
                return False
            self.abandoned = True
            return True

    def _deliver(self, _reason: int) -> int:
        r = self.result
        if isinstance(r, BaseException):
            raise r
        return r


def _unset(_reason: int) -> int:
    raise AssertionError("replaced in Park.blocking")


def errno_of(exc: BaseException) -> int | None:
    """The host errno a handler's exception stands for, or None for a bug of ours.

    `Errno` and host `OSError`s (raised by `os.*` calls) carry theirs; Python's own argument
    checks (`ValueError`, `OverflowError`: a uid out of range, an invalid rlimit resource)
    are where the kernel would have said EINVAL."""
    if isinstance(exc, Errno):
        return exc.errno
    if isinstance(exc, OSError):
        return exc.errno or errno_mod.EIO
    if isinstance(exc, (ValueError, OverflowError)):
        return errno_mod.EINVAL
    return None


class ExecRequest(Exception):
    """Raised (outside any hook) by execve: replace the running guest program in this host
    process with `path` (a host path), `argv` and `envp`. The run loop hands it up to the
    code that created the Process, which builds the new one."""

    def __init__(self, path: str, argv: list[bytes], envp: list[bytes]) -> None:
        super().__init__(path)
        self.path, self.argv, self.envp = path, argv, envp
