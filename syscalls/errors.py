"""The two ways a syscall handler leaves other than by returning a value."""

from __future__ import annotations

from collections.abc import Callable


class Errno(Exception):
    """Raised by a handler to fail the guest syscall with a (host-numbered) errno.

    The dispatcher alone turns it into the guest's return convention. Host `OSError`s
    raised by `os.*` calls inside handlers are treated the same way.
    """

    __slots__ = ("errno",)

    def __init__(self, err: int) -> None:
        super().__init__(err)
        self.errno = err


class Park(Exception):
    """Raised by a handler whose host operation would block.

    The dispatcher stops the engine; the scheduler waits outside any Unicorn hook and
    then calls `finish()`, which performs the (now safe) operation and returns the
    syscall's value or raises Errno. The event-loop issue replaces the single-thread
    wait with parked green threads; handlers keep this contract.
    """

    __slots__ = ("finish",)

    def __init__(self, finish: Callable[[], int]) -> None:
        super().__init__()
        self.finish = finish
