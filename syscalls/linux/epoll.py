"""epoll_create/epoll_create1/epoll_ctl/epoll_wait/epoll_pwait/epoll_pwait2, eventfd/eventfd2,
timerfd_create/settime/gettime.

A guest epoll instance is a real host epoll fd: epoll_ctl passes the guest's event mask
(EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE, EPOLLRDHUP...) and its 64-bit data word through
to the kernel, so the semantics are the kernel's and epoll_wait hands the data back as is.
Only the epoll_event layout is converted (12 bytes, packed, on x86_64; 16 elsewhere). A
wait with nothing ready parks the thread on the epoll fd's own readability, which is how
nested epoll works too. eventfd and timerfd are host objects; reading them parks like a pipe.
"""

from __future__ import annotations

import ctypes
import errno
import struct
import time

from syscalls.linux.poll import (
    _chain,
    _with_sigmask,
    deadline_from_timespec,
    park_until_ready,
)
from syscalls.registry import syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import Errno
from usermode.kernel.memory import PROT_W

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable

    from usermode.kernel.process import Process

EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3
HOST_EVENT = struct.Struct("<IQ")  # x86_64's packed struct epoll_event
EP_MAX_EVENTS = 0x7FFFFFFF // 12
EFD_SEMAPHORE = 1
TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET = 1, 2


def _guest_event(p: Process) -> struct.Struct:
    pad = "" if p.abi.epoll_packed else "4x"
    return struct.Struct(("<" if p.abi.little_endian else ">") + "I" + pad + "Q")



@syscall("epoll_create1", args=("int:open_flags",), ret="fd")
def sys_epoll_create1(p: Process, flags: int) -> int:
    hflags = p.abi.from_guest_open_flags(flags)
    return p.fds.adopt(hostsys.syscall(hostsys.NR["epoll_create1"], hflags))


@syscall("epoll_create", args=("int",), ret="fd")
def sys_epoll_create(p: Process, size: int) -> int:
    if size <= 0:
        raise Errno(errno.EINVAL)
    return p.fds.adopt(hostsys.syscall(hostsys.NR["epoll_create1"], 0))


@syscall("epoll_ctl", args=("fd", "int:epoll_op", "fd", "ptr"))
def sys_epoll_ctl(p: Process, epfd: int, op: int, fd: int, event: int) -> int:
    if fd in p.fds.reserved or epfd in p.fds.reserved:
        raise Errno(errno.EBADF)
    host = ctypes.create_string_buffer(HOST_EVENT.size)
    if op != EPOLL_CTL_DEL:
        layout = _guest_event(p)
        events, data = layout.unpack(p.mem.read(event, layout.size))
        HOST_EVENT.pack_into(host, 0, events, data)
    return hostsys.syscall(hostsys.NR["epoll_ctl"], epfd, op, fd, ctypes.addressof(host))


def _epoll_wait(p: Process, epfd: int, events: int, maxevents: int, deadline: int | None,
                done: Callable[[int], None] | None) -> int:
    if maxevents <= 0 or maxevents > EP_MAX_EVENTS:
        raise Errno(errno.EINVAL)
    layout = _guest_event(p)
    out = p.mem.view(events, maxevents * layout.size, PROT_W)
    same = layout.size == HOST_EVENT.size and p.abi.little_endian
    host = None if same else ctypes.create_string_buffer(maxevents * HOST_EVENT.size)
    dest = p.mem.host_ptr(events, maxevents * layout.size, PROT_W) if same else \
        ctypes.addressof(host)  # type: ignore[arg-type]

    def check() -> int:
        n = hostsys.syscall(hostsys.NR["epoll_wait"], epfd, dest, maxevents, 0)
        if host is not None:
            for i in range(n):
                ev, data = HOST_EVENT.unpack_from(host, i * HOST_EVENT.size)
                layout.pack_into(out, i * layout.size, ev, data)
        return n

    return park_until_ready(p, check, ((epfd, 0x1),), deadline, done)


def _ms_deadline(timeout_ms: int) -> int | None:
    return None if timeout_ms < 0 else time.monotonic_ns() + timeout_ms * 1_000_000


@syscall("epoll_wait", args=("fd", "ptr", "int", "int"))
def sys_epoll_wait(p: Process, epfd: int, events: int, maxevents: int, timeout: int) -> int:
    return _epoll_wait(p, epfd, events, maxevents, _ms_deadline(timeout), None)


@syscall("epoll_pwait", args=("fd", "ptr", "int", "int", "ptr", "size"))
def sys_epoll_pwait(p: Process, epfd: int, events: int, maxevents: int, timeout: int,
                    sigmask: int, size: int) -> int:
    restore = _with_sigmask(p, sigmask, size)
    return _epoll_wait(p, epfd, events, maxevents, _ms_deadline(timeout), _chain(restore))


@syscall("epoll_pwait2", args=("fd", "ptr", "int", "ptr", "ptr", "size"))
def sys_epoll_pwait2(p: Process, epfd: int, events: int, maxevents: int, tsp: int,
                     sigmask: int, size: int) -> int:
    deadline = deadline_from_timespec(p, tsp)
    restore = _with_sigmask(p, sigmask, size)
    return _epoll_wait(p, epfd, events, maxevents, deadline, _chain(restore))


@syscall("eventfd2", args=("uint", "int:open_flags"), ret="fd")
def sys_eventfd2(p: Process, initval: int, flags: int) -> int:
    hflags = p.abi.from_guest_open_flags(flags & ~EFD_SEMAPHORE) | (flags & EFD_SEMAPHORE)
    return p.fds.adopt(hostsys.syscall(hostsys.NR["eventfd2"], initval, hflags),
                       None if p.abi.little_endian else "u64")


@syscall("eventfd", args=("uint",), ret="fd")
def sys_eventfd(p: Process, initval: int) -> int:
    return p.fds.adopt(hostsys.syscall(hostsys.NR["eventfd2"], initval, 0),
                       None if p.abi.little_endian else "u64")


@syscall("timerfd_create", args=("int:clockid", "int:open_flags"), ret="fd")
def sys_timerfd_create(p: Process, clockid: int, flags: int) -> int:
    return p.fds.adopt(hostsys.syscall(hostsys.NR["timerfd_create"], clockid,
                                      p.abi.from_guest_open_flags(flags)),
                       None if p.abi.little_endian else "u64")


@syscall("timerfd_settime", args=("fd", "int", "ptr", "ptr"))
def sys_timerfd_settime(p: Process, fd: int, flags: int, new: int, old: int) -> int:
    return set_itimer(p, hostsys.NR["timerfd_settime"], fd, flags, new, old)


def set_itimer(p: Process, nr: int, ident: int, flags: int, new: int, old: int) -> int:
    """timerfd_settime and timer_settime: the guest's new itimerspec in, the old one out."""
    cur = from_guest_itimerspec(p, new)
    prev = (hostsys.Timespec * 2)()
    hostsys.syscall(nr, ident, flags, ctypes.addressof(cur), ctypes.addressof(prev) if old else 0)
    if old:
        p.mem.write(old, to_guest_itimerspec(p, prev))
    return 0


def get_itimer(p: Process, nr: int, ident: int, cur: int) -> int:
    """timerfd_gettime and timer_gettime."""
    pair = (hostsys.Timespec * 2)()
    hostsys.syscall(nr, ident, ctypes.addressof(pair))
    p.mem.write(cur, to_guest_itimerspec(p, pair))
    return 0


def from_guest_itimerspec(p: Process, ptr: int) -> ctypes.Array[hostsys.Timespec]:
    """The guest's itimerspec (32-bit fields on 32-bit ABIs) as the host's."""
    cur = (hostsys.Timespec * 2)()
    ts = p.abi.timespec
    raw = p.mem.read(ptr, 2 * ts.size)
    for i in range(2):
        cur[i].tv_sec, cur[i].tv_nsec = p.abi.from_guest_timespec(
            raw[i * ts.size:(i + 1) * ts.size])
    return cur


def to_guest_itimerspec(p: Process, pair: ctypes.Array[hostsys.Timespec]) -> bytes:
    return b"".join(p.abi.to_guest_timespec(t.tv_sec * 1_000_000_000 + t.tv_nsec) for t in pair)


@syscall("timerfd_gettime", args=("fd", "ptr"))
def sys_timerfd_gettime(p: Process, fd: int, cur: int) -> int:
    return get_itimer(p, hostsys.NR["timerfd_gettime"], fd, cur)
