"""socket, socketpair, bind, listen, accept/accept4, connect, getsockname, getpeername,
setsockopt/getsockopt, shutdown, sendto/recvfrom, sendmsg/recvmsg, sendmmsg/recvmmsg.

Sockets are host sockets. On 64-bit little-endian guests sockaddrs, socket options, msghdr
and cmsghdr have the host's layout, so guest buffers go to the kernel as they are; only the
pointers inside a msghdr (name, iovecs, control) are turned into host addresses. SCM_RIGHTS
carries host fd numbers, which are the guest's. Blocking calls never block the host: data
transfers use MSG_DONTWAIT and park the thread on EAGAIN; accept waits for readability;
connect on a blocking socket is started non-blocking and the thread parks until the socket
is writable, then reads SO_ERROR, as the kernel's blocking connect does internally.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import stat

from syscalls.dispatch import fdget
from syscalls.linux import cmsg
from syscalls.linux.fs_rw import would_block
from syscalls.registry import PARTIAL, syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import Errno, Park
from usermode.kernel.memory import PROT_R, PROT_W
from usermode.uapi import POLLIN, POLLOUT, UIO_MAXIOV

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable

    from usermode.kernel.process import Process

MSG_DONTWAIT, MSG_WAITALL = 0x40, 0x100
SOCK_TYPE_MASK = 0xF
SOCKADDR_STORAGE_SIZE = 128  # the most of a name the kernel reads or writes
SOL_SOCKET, SO_TYPE, SO_ERROR = 1, 3, 4


MSG_CTRUNC = 0x8


class _HostMsghdr(ctypes.Structure):
    _fields_ = (("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.c_void_p), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int))


class _HostIovec(ctypes.Structure):
    _fields_ = (("base", ctypes.c_void_p), ("len", ctypes.c_size_t))



def _type_flags(p: Process, stype: int) -> int:
    """SOCK_NONBLOCK and SOCK_CLOEXEC are the arch's O_NONBLOCK and O_CLOEXEC."""
    return (stype & SOCK_TYPE_MASK) | p.abi.from_guest_open_flags(stype & ~SOCK_TYPE_MASK)


def _blocking(p: Process, fd: int) -> bool:
    return not p.fds.nonblocking(fd)


def _ptr(p: Process, addr: int, n: int, need: int) -> int:
    return p.mem.host_ptr(addr, n, need) if addr and n else 0


def _retry_on_eagain(p: Process, fd: int, events: int, op: Callable[[], int],
                     blocking: bool) -> int:
    """Run the non-blocking `op`; for a blocking socket, park on EAGAIN and run it again."""
    try:
        r = op()
    except BlockingIOError:
        if not blocking:
            raise
        raise Park(lambda _reason: _retry_on_eagain(p, fd, events, op, blocking),
                   fds=((fd, events),)) from None
    if p.sched.waits.fd_waits:
        p.sched.waits.peer_activity(fd, events)
    return r


@syscall("socket", args=("int:socket_family", "int:socket_type", "int"), ret="fd")
def sys_socket(p: Process, family: int, stype: int, proto: int) -> int:
    return p.fds.adopt(hostsys.syscall(hostsys.NR["socket"], family, _type_flags(p, stype), proto))


@syscall("socketpair", args=("int:socket_family", "int:socket_type", "int", "ptr"))
def sys_socketpair(p: Process, family: int, stype: int, proto: int, sv: int) -> int:
    p.mem.view(sv, 8, PROT_W)
    pair = (ctypes.c_int * 2)()
    hostsys.syscall(hostsys.NR["socketpair"], family, _type_flags(p, stype), proto,
                    ctypes.addressof(pair))
    a, b = p.fds.adopt(pair[0]), p.fds.adopt(pair[1])
    p.fds.link(a, b)
    bo = p.abi.byteorder
    p.mem.write(sv, a.to_bytes(4, bo) + b.to_bytes(4, bo))
    return 0


@syscall("bind", args=("fd", "ptr", "int"))
def sys_bind(p: Process, fd: int, addr: int, alen: int) -> int:
    if alen < 0:
        raise Errno(errno.EINVAL)
    return hostsys.syscall(hostsys.NR["bind"], fd, _ptr(p, addr, alen, PROT_R), alen)


@syscall("listen", args=("fd", "int"))
def sys_listen(p: Process, fd: int, backlog: int) -> int:
    return hostsys.syscall(hostsys.NR["listen"], fd, backlog)


def _addr_out(p: Process, addr: int, alen_ptr: int) -> tuple[int, int]:
    """Host pointers for a (sockaddr *, socklen_t *) pair the kernel fills in."""
    if not addr or not alen_ptr:
        return 0, 0
    alen = int.from_bytes(p.mem.read(alen_ptr, 4), p.abi.byteorder, signed=True)
    if alen < 0:
        raise Errno(errno.EINVAL)
    return _ptr(p, addr, alen, PROT_W), p.mem.host_ptr(alen_ptr, 4, PROT_R | PROT_W)


def _accept(p: Process, fd: int, addr: int, alen_ptr: int, flags: int) -> int:
    _socket_fd(fd)  # before waiting: a pipe never gets a peer
    hflags = p.abi.from_guest_open_flags(flags)
    if hflags & ~(os.O_CLOEXEC | os.O_NONBLOCK):
        raise Errno(errno.EINVAL)
    if would_block(p, fd, POLLIN):
        def resumed(_reason: int) -> int:
            return _accept(p, fd, addr, alen_ptr, flags)

        raise Park(resumed, fds=((fd, POLLIN),))
    a, alen = _addr_out(p, addr, alen_ptr)
    return p.fds.adopt(hostsys.syscall(hostsys.NR["accept4"], fd, a, alen, hflags))


@syscall("accept4", args=("fd", "ptr", "ptr", "int:open_flags"), ret="fd")
def sys_accept4(p: Process, fd: int, addr: int, alen_ptr: int, flags: int) -> int:
    return _accept(p, fd, addr, alen_ptr, flags)


@syscall("accept", args=("fd", "ptr", "ptr"), ret="fd")
def sys_accept(p: Process, fd: int, addr: int, alen_ptr: int) -> int:
    return _accept(p, fd, addr, alen_ptr, 0)


@syscall("connect", args=("fd", "ptr", "int"))
def sys_connect(p: Process, fd: int, addr: int, alen: int) -> int:
    if alen < 0:
        raise Errno(errno.EINVAL)
    a = _ptr(p, addr, alen, PROT_R)
    if not _blocking(p, fd):
        return hostsys.syscall(hostsys.NR["connect"], fd, a, alen)
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    try:
        return hostsys.syscall(hostsys.NR["connect"], fd, a, alen)
    except BlockingIOError:  # AF_UNIX with a full backlog: try again when writable
        return _park_connect(p, fd, lambda: sys_connect(p, fd, addr, alen))
    except OSError as e:
        if e.errno != errno.EINPROGRESS:
            raise
        return _park_connect(p, fd, lambda: _connect_result(fd))
    finally:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags)


def _park_connect(p: Process, fd: int, then: Callable[[], int]) -> int:
    raise Park(lambda _reason: then(), fds=((fd, POLLOUT),))


def _connect_result(fd: int) -> int:
    err = ctypes.c_int()
    size = ctypes.c_uint32(4)
    hostsys.syscall(hostsys.NR["getsockopt"], fd, SOL_SOCKET, SO_ERROR,
                    ctypes.addressof(err), ctypes.addressof(size))
    if err.value:
        raise Errno(err.value)
    return 0


def _getname(nr: int, p: Process, fd: int, addr: int, alen_ptr: int) -> int:
    a, alen = _addr_out(p, addr, alen_ptr)
    if not alen:
        raise Errno(errno.EFAULT)
    return hostsys.syscall(nr, fd, a, alen)


@syscall("getsockname", args=("fd", "ptr", "ptr"))
def sys_getsockname(p: Process, fd: int, addr: int, alen_ptr: int) -> int:
    return _getname(hostsys.NR["getsockname"], p, fd, addr, alen_ptr)


@syscall("getpeername", args=("fd", "ptr", "ptr"))
def sys_getpeername(p: Process, fd: int, addr: int, alen_ptr: int) -> int:
    return _getname(hostsys.NR["getpeername"], p, fd, addr, alen_ptr)


@syscall("setsockopt", args=("fd", "int:sockopt_level", "int:sockopt", "ptr", "int"),
         support=PARTIAL, note="options passed through (64-bit guests share the host layout)")
def sys_setsockopt(p: Process, fd: int, level: int, name: int, val: int, vlen: int) -> int:
    if vlen < 0:
        raise Errno(errno.EINVAL)
    level, name = p.abi.from_guest_sockopt(level, name)
    return hostsys.syscall(hostsys.NR["setsockopt"], fd, level, name, _ptr(p, val, vlen, PROT_R),
                           vlen)


@syscall("getsockopt", args=("fd", "int:sockopt_level", "int:sockopt", "ptr", "ptr"),
         support=PARTIAL, note="options passed through (64-bit guests share the host layout)")
def sys_getsockopt(p: Process, fd: int, level: int, name: int, val: int, vlen_ptr: int) -> int:
    v, vlen = _addr_out(p, val, vlen_ptr)
    if not vlen:
        raise Errno(errno.EFAULT)
    level, name = p.abi.from_guest_sockopt(level, name)
    r = hostsys.syscall(hostsys.NR["getsockopt"], fd, level, name, v, vlen)
    if (level, name) == (SOL_SOCKET, SO_TYPE) and p.abi.sock_types_out:  # mips: 1 and 2 swap
        kind = int.from_bytes(p.mem.read(val, 4), p.abi.byteorder)
        p.mem.write(val, p.abi.sock_types_out.get(kind, kind).to_bytes(4, p.abi.byteorder))
    return r


@syscall("shutdown", args=("fd", "int"))
def sys_shutdown(p: Process, fd: int, how: int) -> int:
    r = hostsys.syscall(hostsys.NR["shutdown"], fd, how)
    if p.sched.waits.fd_waits:  # the other end may now see EOF or EPIPE: let its waiters look
        p.sched.waits.peer_activity(fd, POLLIN)
        p.sched.waits.peer_activity(fd, POLLOUT)
    return r


# ---- data transfer ---------------------------------------------------------------------------
@syscall("sendto", args=("fd", "ptr", "size", "int:msg_flags", "ptr", "int"))
def sys_sendto(p: Process, fd: int, buf: int, n: int, flags: int, addr: int, alen: int) -> int:
    data = _ptr(p, buf, n, PROT_R)
    a = _ptr(p, addr, alen, PROT_R)
    blocking = _blocking(p, fd) and not flags & MSG_DONTWAIT
    sent = 0

    def op() -> int:
        nonlocal sent
        r = hostsys.syscall(hostsys.NR["sendto"], fd, data + sent, n - sent,
                            flags | MSG_DONTWAIT, a, alen)
        sent += r
        if blocking and sent < n and r > 0:  # a blocking send returns when all is sent
            raise BlockingIOError(errno.EAGAIN, "partial")
        return sent

    return _retry_on_eagain(p, fd, POLLOUT, op, blocking)


@syscall("recvfrom", args=("fd", "ptr", "size", "int:msg_flags", "ptr", "ptr"))
def sys_recvfrom(p: Process, fd: int, buf: int, n: int, flags: int, addr: int,
                 alen_ptr: int) -> int:
    data = _ptr(p, buf, n, PROT_W)
    a, alen = _addr_out(p, addr, alen_ptr)
    blocking = _blocking(p, fd) and not flags & MSG_DONTWAIT
    return _retry_on_eagain(p, fd, POLLIN, lambda: hostsys.syscall(
        hostsys.NR["recvfrom"], fd, data, n, flags | MSG_DONTWAIT, a, alen), blocking)


def _host_msghdr(p: Process, msg: int, need: int) -> _HostMsghdr:
    """The guest msghdr at `msg` as a host msghdr over the same buffers."""
    w = p.abi.wordsize
    raw = p.mem.read(msg, 7 * w)
    bo = p.abi.byteorder
    name, namelen, iov, iovlen, control, controllen, flags = (
        int.from_bytes(raw[i * w:i * w + (4 if i in (1, 6) else w)], bo) for i in range(7))
    if name and p.abi.s32(namelen) < 0:
        raise Errno(errno.EINVAL)
    namelen = min(namelen, SOCKADDR_STORAGE_SIZE)  # the kernel's cap
    if iovlen > UIO_MAXIOV:
        raise Errno(errno.EMSGSIZE)
    iovs = (_HostIovec * max(iovlen, 1))()
    h_guest: tuple[int, int] | None = None
    layout = p.abi.iovec
    table = p.mem.read(iov, layout.size * iovlen) if iovlen else b""
    vecs = [layout.unpack(table[i * layout.size:]) for i in range(iovlen)]
    if any(p.abi.sword(length) < 0 for _base, length in vecs):
        raise Errno(errno.EINVAL)
    for i, (base, length) in enumerate(vecs):
        iovs[i].base = _ptr(p, base, length, need)
        iovs[i].len = length
    h = _HostMsghdr()
    h.name = _ptr(p, name, namelen, need if need == PROT_W else PROT_R) or None
    h.namelen = namelen if name else 0
    h.iov = ctypes.addressof(iovs)
    h.iovlen = iovlen
    if control and controllen and w == 4:  # 32-bit cmsghdr chains are re-framed
        if need == PROT_R:
            host = cmsg.from_guest_control(p.mem.read(control, controllen), w, bo,
                                             p.abi.sol_socket)
        else:
            host = bytes(cmsg.host_room(controllen))
            h_guest = (control, controllen)
        cbuf = ctypes.create_string_buffer(host, len(host))
        h_control: int | None = ctypes.addressof(cbuf)
        h_controllen = len(host)
    else:
        cbuf = None
        h_control = _ptr(p, control, controllen, need) or None
        h_controllen = controllen if control else 0
    h.control = h_control
    h.controllen = h_controllen
    h.flags = flags
    h.keep_alive = (iovs, cbuf)  # the iovec array and control copy live as long as the header
    h.guest_control = h_guest if cbuf is not None and need != PROT_R else None
    return h


def _write_back_msghdr(p: Process, msg: int, h: _HostMsghdr) -> None:
    w = p.abi.wordsize
    bo = p.abi.byteorder
    flags, controllen = int(h.flags), int(h.controllen)
    guest = getattr(h, "guest_control", None)
    if guest is not None:
        addr, room = guest
        data, cut = cmsg.to_guest_control(ctypes.string_at(h.control, controllen), w, bo, room,
                                          p.abi.sol_socket)
        p.mem.write(addr, data)
        controllen = len(data)
        flags |= MSG_CTRUNC if cut else 0
    p.mem.write(msg + w, int(h.namelen).to_bytes(4, bo))
    p.mem.write(msg + 5 * w, controllen.to_bytes(w, bo))
    p.mem.write(msg + 6 * w, (flags & 0xFFFFFFFF).to_bytes(4, bo))


def _socket_fd(fd: int) -> None:
    """Linux looks a socket call's fd up first: EBADF (an O_PATH fd too), then ENOTSOCK."""
    fdget(fd)
    if not stat.S_ISSOCK(os.fstat(fd).st_mode):
        raise Errno(errno.ENOTSOCK)


def _sendmsg(p: Process, fd: int, msg: int, flags: int) -> int:
    _socket_fd(fd)
    h = _host_msghdr(p, msg, PROT_R)
    blocking = _blocking(p, fd) and not flags & MSG_DONTWAIT
    return _retry_on_eagain(p, fd, POLLOUT, lambda: hostsys.syscall(
        hostsys.NR["sendmsg"], fd, ctypes.addressof(h), flags | MSG_DONTWAIT), blocking)


def _recvmsg(p: Process, fd: int, msg: int, flags: int) -> int:
    _socket_fd(fd)
    h = _host_msghdr(p, msg, PROT_W)
    blocking = _blocking(p, fd) and not flags & MSG_DONTWAIT

    def op() -> int:
        r = hostsys.syscall(hostsys.NR["recvmsg"], fd, ctypes.addressof(h), flags | MSG_DONTWAIT)
        _write_back_msghdr(p, msg, h)
        return r

    return _retry_on_eagain(p, fd, POLLIN, op, blocking)


@syscall("sendmsg", args=("fd", "ptr", "int:msg_flags"))
def sys_sendmsg(p: Process, fd: int, msg: int, flags: int) -> int:
    return _sendmsg(p, fd, msg, flags)


@syscall("recvmsg", args=("fd", "ptr", "int:msg_flags"))
def sys_recvmsg(p: Process, fd: int, msg: int, flags: int) -> int:
    return _recvmsg(p, fd, msg, flags)


def _mmsg(p: Process, fd: int, vec: int, vlen: int, flags: int,
          one: Callable[[Process, int, int, int], int]) -> int:
    """sendmmsg/recvmmsg: one message at a time; stop at the first that would block once
    something went through (the count so far is the result), as the kernel does."""
    w = p.abi.wordsize
    size = 7 * w + max(4, w)  # struct mmsghdr: msghdr + unsigned msg_len (+ padding to a word)
    done = 0
    for i in range(min(vlen, UIO_MAXIOV)):
        entry = vec + i * size
        try:
            n = one(p, fd, entry, flags | (MSG_DONTWAIT if done else 0))
        except (Errno, OSError):
            if done:
                break
            raise
        except Park as park:  # nothing yet: wait, then start the whole batch again
            raise Park(lambda _reason: _mmsg(p, fd, vec, vlen, flags, one),
                       fds=park.fds) from None
        p.mem.write(entry + 7 * p.abi.wordsize, n.to_bytes(4, p.abi.byteorder))
        done += 1
    return done


@syscall("sendmmsg", args=("fd", "ptr", "uint", "int:msg_flags"))
def sys_sendmmsg(p: Process, fd: int, vec: int, vlen: int, flags: int) -> int:
    return _mmsg(p, fd, vec, vlen, flags, _sendmsg)


@syscall("recvmmsg", args=("fd", "ptr", "uint", "int:msg_flags", "ptr"), support=PARTIAL,
         note="the timeout argument is ignored")
def sys_recvmmsg(p: Process, fd: int, vec: int, vlen: int, flags: int, timeout: int) -> int:
    return _mmsg(p, fd, vec, vlen, flags, _recvmsg)
