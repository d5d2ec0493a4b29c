"""Raw host (x86_64) syscalls through libc, for calls Python's os module lacks.

Used only where the guest struct layout equals the host's, so the guest buffer's host
address can be handed to the kernel directly (statx, getdents64, termios ioctls).
"""

from __future__ import annotations

import ctypes
import os

NR_POLL = 7
NR_IOCTL = 16
NR_FCNTL = 72
NR_FACCESSAT = 269
NR_OPENAT = 257
NR_UTIMENSAT = 280
NR_GETDENTS64 = 217
NR_STATX = 332
NR_CLOSE_RANGE = 436
NR_FACCESSAT2 = 439
NR_RENAMEAT2 = 316
NR_PSELECT6 = 270
NR_EPOLL_WAIT = 232
NR_EPOLL_CTL = 233
NR_EPOLL_CREATE1 = 291
NR_EVENTFD2 = 290
NR_TIMERFD_CREATE = 283
NR_TIMERFD_SETTIME = 286
NR_TIMERFD_GETTIME = 287
NR_SOCKET = 41
NR_CONNECT = 42
NR_SENDTO = 44
NR_RECVFROM = 45
NR_SENDMSG = 46
NR_RECVMSG = 47
NR_SHUTDOWN = 48
NR_BIND = 49
NR_LISTEN = 50
NR_GETSOCKNAME = 51
NR_GETPEERNAME = 52
NR_SOCKETPAIR = 53
NR_SETSOCKOPT = 54
NR_GETSOCKOPT = 55
NR_ACCEPT4 = 288

POLLIN = 0x1
POLLOUT = 0x4

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
    return _poll(_pfd_ref, 1, 0) > 0


def wait_ready(fd: int, events: int) -> None:
    """Block until `fd` is ready (called outside any Unicorn hook)."""
    _pfd.fd = fd
    _pfd.events = events
    while _poll(_pfd_ref, 1, -1) < 0:
        if ctypes.get_errno() != 4:  # EINTR
            break
