"""read, write, readv, writev, pread64, pwrite64, lseek: data transfer on file descriptors."""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from syscalls.registry import syscall
from usermode.host.syscalls import ready_now
from usermode.kernel.errors import Errno, Park
from usermode.kernel.memory import PROT_R, PROT_W
from usermode.uapi import POLLIN, POLLOUT, UIO_MAXIOV

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


def stream_io(p: Process, fd: int, events: int, op: Callable[[], int], size: int = 0) -> int:
    """Run `op()` now if it cannot block; otherwise park the thread until `fd` is ready and
    try again. A write larger than PIPE_BUF to a blocking pipe or tty may block part-way even
    when the fd polls ready, so it goes to a helper thread, which blocks as Linux would."""
    if size > PIPE_BUF and p.fds.may_block(fd) and not p.fds.nonblocking(fd):
        raise Park.blocking(op)
    if not would_block(p, fd, events):
        r = op()
        if p.sched.waits.fd_waits:
            p.sched.waits.peer_activity(fd, events)
        return r

    if events & POLLIN and os.isatty(fd):
        # A terminal read by a background process group must meet the kernel's job-control
        # check (stopped by SIGTTIN, or EIO) before we wait: an empty read makes it.
        os.read(fd, 0)

    def resumed(_reason: int) -> int:
        return stream_io(p, fd, events, op, size)

    raise Park(resumed, fds=((fd, events),))


@syscall("read", args=("fd", "ptr", "size"))
def sys_read(p: Process, fd: int, buf: int, count: int) -> int:
    if count == 0:
        return len(os.read(fd, 0))
    if p.fds.signalfd and fd in p.fds.signalfd:
        from syscalls.linux.signalfd import signalfd_read

        return signalfd_read(p, fd, buf, count)
    view = p.mem.view(buf, count, PROT_W, True)
    return stream_io(p, fd, POLLIN, lambda: os.readv(fd, (view,)))


@syscall("write", args=("fd", "ptr", "size"))
def sys_write(p: Process, fd: int, buf: int, count: int) -> int:
    if count == 0:
        return os.write(fd, b"")
    view = p.mem.view(buf, count, PROT_R, True)
    return stream_io(p, fd, POLLOUT, lambda: os.write(fd, view), count)


def _iovecs(p: Process, iov: int, cnt: int, need: int) -> list[memoryview]:
    if cnt < 0 or cnt > UIO_MAXIOV:
        raise Errno(errno.EINVAL)
    layout = p.abi.iovec
    raw = p.mem.read(iov, layout.size * cnt)
    views = []
    for i in range(cnt):
        base, length = layout.unpack(raw[i * layout.size:])
        if length:
            views.append(p.mem.view(base, length, need))
    return views


@syscall("readv", args=("fd", "ptr", "int"))
def sys_readv(p: Process, fd: int, iov: int, cnt: int) -> int:
    views = _iovecs(p, iov, cnt, PROT_W)
    if not views:
        return 0
    return stream_io(p, fd, POLLIN, lambda: os.readv(fd, views))


@syscall("writev", args=("fd", "ptr", "int"))
def sys_writev(p: Process, fd: int, iov: int, cnt: int) -> int:
    views = _iovecs(p, iov, cnt, PROT_R)
    if not views:
        return 0
    return stream_io(p, fd, POLLOUT, lambda: os.writev(fd, views), sum(map(len, views)))


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
    views = _iovecs(p, iov, cnt, PROT_W)
    return os.preadv(fd, views, off) if views else 0


@syscall("pwritev", args=("fd", "ptr", "int", "off"))
def sys_pwritev(p: Process, fd: int, iov: int, cnt: int, off: int) -> int:
    views = _iovecs(p, iov, cnt, PROT_R)
    return os.pwritev(fd, views, off) if views else 0


@syscall("lseek", args=("fd", "off", "int:whence"))
def sys_lseek(p: Process, fd: int, off: int, whence: int) -> int:
    if whence not in (0, 1, 2, 3, 4):
        raise Errno(errno.EINVAL)
    return os.lseek(fd, off, whence)
