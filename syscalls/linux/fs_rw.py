"""read, write, readv, writev, pread64, pwrite64, lseek: data transfer on file descriptors."""

from __future__ import annotations

import _socket
import errno
import os

from syscalls.dispatch import fd_fault, is_epoll
from syscalls.registry import syscall
from usermode.host.syscalls import ready_now
from usermode.kernel.errors import Errno, Park
from usermode.kernel.memory import PROT_R, PROT_W
from usermode.uapi import POLLIN, POLLOUT, UIO_MAXIOV

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable

    from usermode.kernel.process import Process



PIPE_BUF = 4096  # a ready pipe promises room for this many bytes, no more


def would_block(p: Process, fd: int, events: int) -> bool:
    """True if an operation on `fd` could block now: a pipe, socket or tty that is not ready
    and not in non-blocking mode (where the host call itself reports EAGAIN, as Linux does).
    Guest threads run one at a time, so nothing can take the readiness away between this
    check and the operation that follows it, except another process sharing the file."""
    return p.fds.may_block(fd) and not ready_now(fd, events) and not p.fds.nonblocking(fd)


def stream_io(p: Process, fd: int, events: int, op: Callable[[], int]) -> int:
    """Run `op()` now if it cannot block; otherwise park the thread until `fd` is ready and
    try again."""
    if not would_block(p, fd, events):
        r = op()
        if p.sched.waits.fd_waits:
            p.sched.waits.peer_activity(fd, events)
        return r

    if is_epoll(fd):  # it never becomes ready: Linux refuses at once
        raise Errno(errno.EINVAL)
    if events & POLLIN and os.isatty(fd):
        # A terminal read by a background process group must meet the kernel's job-control
        # check (stopped by SIGTTIN, or EIO) before we wait: an empty read makes it.
        os.read(fd, 0)

    def resumed(_reason: int) -> int:
        return stream_io(p, fd, events, op)

    raise Park(resumed, fds=((fd, events),))


@syscall("read", args=("fd", "ptr", "size"))
def sys_read(p: Process, fd: int, buf: int, count: int) -> int:
    if count == 0:
        return len(os.read(fd, 0))
    if p.fds.signalfd and fd in p.fds.signalfd:
        from syscalls.linux.signalfd import signalfd_read

        return signalfd_read(p, fd, buf, count)
    view = p.mem.view(buf, count, PROT_W, True)
    swap = p.fds.byteswap.get(fd) if p.fds.byteswap else None
    if swap is not None:
        return stream_io(p, fd, POLLIN, lambda: _swapped(view, os.readv(fd, (view,)), swap))
    return stream_io(p, fd, POLLIN, lambda: os.readv(fd, (view,)))


def _swapped(view: memoryview, n: int, kind: str) -> int:
    """A big-endian guest's eventfd/timerfd counters or inotify records, turned around in
    place after the host wrote them in its own byte order. Returns `n`."""
    off = 0
    while off < n:
        if kind == "u64":
            view[off:off + 8] = bytes(view[off:off + 8])[::-1]
            off += 8
            continue
        length = int.from_bytes(view[off + 12:off + 16], "little")  # wd mask cookie len
        for f in range(off, off + 16, 4):
            view[f:f + 4] = bytes(view[f:f + 4])[::-1]
        off += 16 + length
    return n


def write_out(p: Process, fd: int, views: list[memoryview]) -> int:
    """write/writev: at once if it cannot block, else in parts (`_in_parts`)."""
    total = sum(map(len, views))
    if total > PIPE_BUF and p.fds.may_block(fd) and not p.fds.nonblocking(fd):
        return _in_parts(p, fd, views, total)
    return stream_io(p, fd, POLLOUT, lambda: os.writev(fd, views))


def _in_parts(p: Process, fd: int, views: list[memoryview], total: int) -> int:
    """A write of more than PIPE_BUF to a blocking pipe, tty or socket, which Linux may carry
    out in parts while the caller sleeps. Each part is what the fd takes without blocking (up
    to PIPE_BUF while a pipe or tty polls writable; a socket's non-blocking send), and the
    thread parks between parts, so other guest threads run meanwhile. A signal ends it with
    the count written so far (EINTR, or a restart, only if nothing was): nothing is written
    twice, and nothing written goes unreported."""
    sock = p.fds.is_socket(fd)
    done = 0

    def step(_reason: int) -> int:
        nonlocal done
        try:
            while done < total:
                if sock:
                    n = _send_nowait(fd, _part(views, done, total - done))
                elif ready_now(fd, POLLOUT):
                    n = os.writev(fd, _part(views, done, PIPE_BUF))
                else:
                    break
                done += n
                if p.sched.waits.fd_waits:
                    p.sched.waits.peer_activity(fd, POLLOUT)
        except BlockingIOError:
            pass
        except OSError:
            if done:  # EPIPE after part of it: Linux reports the part (SIGPIPE came too)
                return done
            raise
        if done == total:
            return done
        if not done and is_epoll(fd):  # it never becomes writable: Linux refuses at once
            raise Errno(errno.EINVAL)
        raise Park(step, fds=((fd, POLLOUT),), progress=lambda: done)

    return step(0)


def _part(views: list[memoryview], start: int, limit: int) -> list[memoryview]:
    """At most `limit` bytes of `views` from offset `start`."""
    out = []
    for v in views:
        if start >= len(v):
            start -= len(v)
            continue
        piece = v[start:start + limit]
        out.append(piece)
        limit -= len(piece)
        start = 0
        if not limit:
            break
    return out


def _send_nowait(fd: int, views: list[memoryview]) -> int:
    s = _socket.socket(fileno=fd)  # not `socket`: its import costs 2 ms of start-up
    try:
        return s.sendmsg(views, [], _socket.MSG_DONTWAIT)
    finally:
        s.detach()


@syscall("write", args=("fd", "ptr", "size"))
def sys_write(p: Process, fd: int, buf: int, count: int) -> int:
    if count == 0:
        return os.write(fd, b"")
    data = p.mem.view(buf, count, PROT_R, True)
    if p.fds.byteswap and p.fds.byteswap.get(fd) == "u64" and len(data) >= 8:
        data = memoryview(bytes(data[:8])[::-1] + bytes(data[8:]))  # an eventfd's addend
    return write_out(p, fd, [data])


def check_fd(fd: int, check: str) -> None:
    """What Linux checks of an fd before the count and the caller's vectors (see
    dispatch.fd_fault): raises that errno."""
    err = fd_fault(check, fd)
    if err != errno.EFAULT:
        raise Errno(err)


def _vectors(p: Process, fd: int, iov: int, cnt: int, need: int, check: str
             ) -> list[memoryview]:
    """readv & co's buffers. Linux looks the fd up before the count and the vectors; here
    the fd is looked at only when those fail or are empty, so a good call pays nothing."""
    try:
        views = _iovecs(p, iov, cnt, need)
    except Errno:
        check_fd(fd, check)
        raise
    if not views and fd_fault(check, fd) == errno.EBADF:  # nothing to move: only EBADF
        raise Errno(errno.EBADF)
    return views


def _iovecs(p: Process, iov: int, cnt: int, need: int) -> list[memoryview]:
    if cnt < 0 or cnt > UIO_MAXIOV:
        raise Errno(errno.EINVAL)
    layout = p.abi.iovec
    raw = p.mem.read(iov, layout.size * cnt)
    vecs = [layout.unpack(raw[i * layout.size:]) for i in range(cnt)]
    if any(p.abi.sword(length) < 0 for _base, length in vecs):
        raise Errno(errno.EINVAL)  # a length past SSIZE_MAX, before any buffer is looked at
    return [p.mem.view(base, length, need) for base, length in vecs if length]


@syscall("readv", args=("fd", "ptr", "int"))
def sys_readv(p: Process, fd: int, iov: int, cnt: int) -> int:
    views = _vectors(p, fd, iov, cnt, PROT_W, "read")
    if not views:
        return 0
    return stream_io(p, fd, POLLIN, lambda: os.readv(fd, views))


@syscall("writev", args=("fd", "ptr", "int"))
def sys_writev(p: Process, fd: int, iov: int, cnt: int) -> int:
    views = _vectors(p, fd, iov, cnt, PROT_R, "write")
    if not views:
        return 0
    return write_out(p, fd, views)


@syscall("pread64", args=("fd", "ptr", "size", "off64"))
def sys_pread64(p: Process, fd: int, buf: int, count: int, off: int) -> int:
    if off < 0:
        raise Errno(errno.EINVAL)
    if count == 0:
        return len(os.pread(fd, 0, off))
    return os.preadv(fd, [p.mem.view(buf, count, PROT_W, partial=True)], off)


@syscall("pwrite64", args=("fd", "ptr", "size", "off64"))
def sys_pwrite64(p: Process, fd: int, buf: int, count: int, off: int) -> int:
    if off < 0:
        raise Errno(errno.EINVAL)
    if count == 0:
        return os.pwrite(fd, b"", off)
    return os.pwrite(fd, p.mem.view(buf, count, PROT_R, partial=True), off)


@syscall("preadv", args=("fd", "ptr", "int", "off"))
def sys_preadv(p: Process, fd: int, iov: int, cnt: int, off: int) -> int:
    if off < 0:
        raise Errno(errno.EINVAL)
    views = _vectors(p, fd, iov, cnt, PROT_W, "pread")
    return os.preadv(fd, views, off) if views else 0


@syscall("pwritev", args=("fd", "ptr", "int", "off"))
def sys_pwritev(p: Process, fd: int, iov: int, cnt: int, off: int) -> int:
    if off < 0:
        raise Errno(errno.EINVAL)
    views = _vectors(p, fd, iov, cnt, PROT_R, "pwrite")
    return os.pwritev(fd, views, off) if views else 0


RWF_NOWAIT, RWF_SUPPORTED = 0x8, 0x1F  # HIPRI 1, DSYNC 2, SYNC 4, NOWAIT 8, APPEND 16


def _pos2(p: Process, lo: int, hi: int) -> int:
    """preadv2/pwritev2's offset: two words on 32-bit ABIs (low first, never a register
    pair), one on 64-bit ones; -1 means the file's own position."""
    v = lo if p.abi.wordsize == 8 else (lo & 0xFFFFFFFF) | (hi & 0xFFFFFFFF) << 32
    return v - (1 << 64) if v >> 63 else v


def _rw2(p: Process, fd: int, iov: int, cnt: int, pos: int, flags: int, write: bool) -> int:
    if flags & ~RWF_SUPPORTED:
        raise Errno(errno.EOPNOTSUPP)
    if pos < -1:
        raise Errno(errno.EINVAL)
    views = _vectors(p, fd, iov, cnt, PROT_R if write else PROT_W,
                     ("write" if pos == -1 else "pwrite") if write else
                     ("read" if pos == -1 else "pread"))
    if not views:
        return 0
    if pos == -1 and not flags & RWF_NOWAIT and p.fds.may_block(fd):
        # a pipe, socket or terminal at its own position: waits as readv/writev do (the
        # other flags mean nothing to such files)
        if write:
            return write_out(p, fd, views)
        return stream_io(p, fd, POLLIN, lambda: os.readv(fd, views))
    if write:
        return os.pwritev(fd, views, pos, flags)
    return os.preadv(fd, views, pos, flags)


@syscall("preadv2", args=("fd", "ptr", "int", "ulong", "ulong", "int"))
def sys_preadv2(p: Process, fd: int, iov: int, cnt: int, lo: int, hi: int, flags: int) -> int:
    return _rw2(p, fd, iov, cnt, _pos2(p, lo, hi), flags, False)


@syscall("pwritev2", args=("fd", "ptr", "int", "ulong", "ulong", "int"))
def sys_pwritev2(p: Process, fd: int, iov: int, cnt: int, lo: int, hi: int, flags: int) -> int:
    return _rw2(p, fd, iov, cnt, _pos2(p, lo, hi), flags, True)


@syscall("lseek", args=("fd", "off", "int:whence"))
def sys_lseek(p: Process, fd: int, off: int, whence: int) -> int:
    if whence not in (0, 1, 2, 3, 4):
        raise Errno(errno.EINVAL)
    return os.lseek(fd, off, whence)
