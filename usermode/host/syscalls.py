"""Raw host (x86_64) syscalls through libc, for calls Python's os module lacks.

Used only where the guest struct layout equals the host's, so the guest buffer's host
address can be handed to the kernel directly (statx, getdents64, termios ioctls).
"""

from __future__ import annotations

import ctypes
import os

from syscalls.tables.x86_64 import NAMES as _HOST_TABLE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

# Host syscall numbers by name, from the generated x86_64 table (never typed by hand).
NR: Final[dict[str, int]] = {name: nr for nr, name in _HOST_TABLE.items()}

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


class _PollFd(ctypes.Structure):
    _fields_ = (("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short))


_poll = _libc.poll
_poll.restype = ctypes.c_int
_poll.argtypes = (ctypes.POINTER(_PollFd), ctypes.c_ulong, ctypes.c_int)
_pfd = _PollFd()
_pfd_ref = ctypes.pointer(_pfd)


def _arg(a: int | bytes | None) -> ctypes.c_long | ctypes.c_char_p:
    if a is None or isinstance(a, bytes):
        return ctypes.c_char_p(a)
    return ctypes.c_long(a)


def syscall(nr: int, *args: int | bytes | None) -> int:
    """Call host syscall `nr`; ints pass as longs, bytes as C strings, None as NULL.

    Raises OSError on failure."""
    r = _syscall(ctypes.c_long(nr), *(_arg(a) for a in args))
    if r == -1:
        e = ctypes.get_errno()
        if e:
            raise OSError(e, os.strerror(e))
    return int(r)


class Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


ZERO_TIMESPEC = Timespec(0, 0)
ZERO_TIMESPEC_PTR = ctypes.addressof(ZERO_TIMESPEC)


def ready_now(fd: int, events: int) -> bool:
    """True if `fd` is ready for `events` (or in error/hang-up) without waiting."""
    _pfd.fd = fd
    _pfd.events = events
    _pfd.revents = 0
    return bool(_poll(_pfd_ref, 1, 0) > 0)


