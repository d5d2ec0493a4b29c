"""mq_open, mq_unlink, mq_timedsend, mq_timedreceive, mq_notify, mq_getsetattr: POSIX
message queues.

The queues are the host's (a message queue descriptor is a host fd, pollable like a pipe).
Guest threads share one host thread, so a send or receive never waits in the host: it is
tried with a deadline already past, and when the queue is full (empty) the thread parks on
the descriptor's POLLOUT (POLLIN) until then, another thread runs meanwhile, and the call is
tried again. struct mq_attr is eight longs (four bytes each on a 32-bit guest); messages and
priorities are the same everywhere. A bad buffer is handed to the host as NULL, so EFAULT
comes in the kernel's order (after EBADF and EMSGSIZE; a received message is still consumed).
"""

from __future__ import annotations

import ctypes
import errno
import time

from syscalls.linux.timers import SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, HostSigevent
from syscalls.registry import syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import TIMEOUT, Errno, Park
from usermode.kernel.memory import PROT_R, PROT_W
from usermode.uapi import NSEC_PER_SEC, POLLIN, POLLOUT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from usermode.kernel.process import Process

SIGEVENT_SIZE = 64  # every arch
NOTIFY_COOKIE_LEN = 32  # SIGEV_THREAD: the C library's cookie, sent on its netlink socket
_ATTR_WORDS = 8  # mq_flags, mq_maxmsg, mq_msgsize, mq_curmsgs, 4 reserved
_HostAttr = ctypes.c_long * _ATTR_WORDS
Attr = ctypes.Array[ctypes.c_long]
_NOW = hostsys.Timespec(0, 0)  # an absolute deadline already past: "do not wait"


def _from_guest_attr(p: Process, ptr: int) -> Attr:
    ws = p.abi.wordsize
    raw = p.mem.read(ptr, ws * _ATTR_WORDS)
    attr = _HostAttr(*(int.from_bytes(raw[i:i + ws], p.abi.byteorder, signed=True)
                       for i in range(0, ws * _ATTR_WORDS, ws)))
    attr[0] = p.abi.from_guest_open_flags(attr[0])  # mq_flags: O_NONBLOCK (mips: 0x80)
    return attr


def _to_guest_attr(p: Process, ptr: int, attr: Attr) -> None:
    ws, mask = p.abi.wordsize, p.abi.mask
    words = [p.abi.to_guest_open_flags(attr[0]), *attr[1:]]
    p.mem.write(ptr, b"".join((v & mask).to_bytes(ws, p.abi.byteorder) for v in words))


def _host_addr(p: Process, addr: int, n: int, need: int) -> int:
    """The host address of a guest buffer, or NULL (the host's EFAULT, in its order)."""
    if n == 0:
        return 0 if addr == 0 else 1  # nothing is copied: any non-NULL address will do
    try:
        return p.mem.host_ptr(addr, n, need)
    except Errno:
        return 0


def _mono_deadline(p: Process, ptr: int) -> int | None:
    """The guest's CLOCK_REALTIME absolute timeout as a CLOCK_MONOTONIC deadline (None: wait
    forever); EINVAL for an invalid timespec, checked before anything else as Linux does."""
    if not ptr:
        return None
    sec, nsec = p.abi.from_guest_timespec(p.mem.read(ptr, p.abi.timespec.size))
    if sec < 0 or not 0 <= nsec < NSEC_PER_SEC:
        raise Errno(errno.EINVAL)
    return time.monotonic_ns() + (sec * NSEC_PER_SEC + nsec - time.time_ns())


def _transfer(fd: int, events: int, deadline: int | None, attempt: Callable[[], int]) -> int:
    """Run `attempt()` (a host call that never waits); park on `fd` while it says ETIMEDOUT
    (queue full or empty) until the guest's deadline."""
    try:
        return attempt()
    except OSError as e:
        if e.errno != errno.ETIMEDOUT:
            raise
        if deadline is not None and time.monotonic_ns() >= deadline:
            raise

    def resumed(reason: int) -> int:
        if reason == TIMEOUT:
            try:
                return attempt()  # made room (or a message) at the last moment
            except OSError as e:
                if e.errno == errno.ETIMEDOUT:
                    raise Errno(errno.ETIMEDOUT) from None
                raise
        return _transfer(fd, events, deadline, attempt)

    raise Park(resumed, fds=((fd, events),), deadline=deadline)


@syscall("mq_open", args=("ptr", "int:open_flags", "uint:mode", "ptr"), ret="fd")
def sys_mq_open(p: Process, name: int, flags: int, mode: int, attr: int) -> int:
    host_attr = _from_guest_attr(p, attr) if attr else None  # read first, as Linux does
    host_name = p.mem.read_cstr(name)
    hflags = p.abi.from_guest_open_flags(flags)
    fd = hostsys.syscall(hostsys.NR["mq_open"], host_name, hflags, mode,
                         ctypes.addressof(host_attr) if host_attr is not None else 0)
    return p.fds.adopt(fd)


@syscall("mq_unlink", args=("ptr",))
def sys_mq_unlink(p: Process, name: int) -> int:
    return hostsys.syscall(hostsys.NR["mq_unlink"], p.mem.read_cstr(name))


@syscall("mq_timedsend", args=("fd", "ptr", "size", "uint", "ptr"))
def sys_mq_timedsend(p: Process, fd: int, msg: int, size: int, prio: int, timeout: int) -> int:
    deadline = _mono_deadline(p, timeout)
    buf = _host_addr(p, msg, size, PROT_R)
    nr = hostsys.NR["mq_timedsend"]
    now = ctypes.addressof(_NOW)
    return _transfer(fd, POLLOUT, deadline,
                     lambda: hostsys.syscall(nr, fd, buf, size, prio, now))


@syscall("mq_timedreceive", args=("fd", "ptr", "size", "ptr", "ptr"))
def sys_mq_timedreceive(p: Process, fd: int, msg: int, size: int, prio_ptr: int,
                        timeout: int) -> int:
    deadline = _mono_deadline(p, timeout)
    buf = _host_addr(p, msg, size, PROT_W)
    prio = ctypes.c_uint()
    nr = hostsys.NR["mq_timedreceive"]
    now = ctypes.addressof(_NOW)

    def attempt() -> int:
        n = hostsys.syscall(nr, fd, buf, size, ctypes.addressof(prio), now)
        if prio_ptr:
            p.mem.write(prio_ptr, prio.value.to_bytes(4, p.abi.byteorder))
        return n

    return _transfer(fd, POLLIN, deadline, attempt)


@syscall("mq_notify", args=("fd", "ptr"))
def sys_mq_notify(p: Process, fd: int, sevp: int) -> int:
    if not sevp:
        return hostsys.syscall(hostsys.NR["mq_notify"], fd, 0)
    abi = p.abi
    ws, bo = abi.wordsize, abi.byteorder
    raw = p.mem.read(sevp, SIGEVENT_SIZE)  # sigev_value, sigev_signo, sigev_notify, ...
    ev = HostSigevent()
    ev.value = int.from_bytes(raw[:ws], bo)
    signo = int.from_bytes(raw[ws:ws + 4], bo, signed=True)
    ev.notify = int.from_bytes(raw[ws + 4:ws + 8], bo, signed=True)
    cookie = None  # kept alive until the host has copied it
    if ev.notify == SIGEV_SIGNAL:
        if abi.renumbers_signals:
            signo = abi.sig_in.get(signo, signo)
    elif ev.notify == SIGEV_THREAD:  # signo is a netlink socket; value points at the cookie
        cookie = ctypes.create_string_buffer(p.mem.read(ev.value, NOTIFY_COOKIE_LEN))
        ev.value = ctypes.addressof(cookie)
    elif ev.notify != SIGEV_NONE:
        raise Errno(errno.EINVAL)
    ev.signo = signo
    return hostsys.syscall(hostsys.NR["mq_notify"], fd, ctypes.addressof(ev))


@syscall("mq_getsetattr", args=("fd", "ptr", "ptr"))
def sys_mq_getsetattr(p: Process, fd: int, new: int, old: int) -> int:
    host_new = _from_guest_attr(p, new) if new else None
    host_old = _HostAttr()
    hostsys.syscall(hostsys.NR["mq_getsetattr"], fd,
                    ctypes.addressof(host_new) if host_new is not None else 0,
                    ctypes.addressof(host_old))
    if old:
        _to_guest_attr(p, old, host_old)
    return 0
