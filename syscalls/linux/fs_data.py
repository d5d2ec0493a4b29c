"""flock, fallocate, fadvise64, readahead, sync, syncfs, sync_file_range, sendfile,
copy_file_range, splice, tee, vmsplice, memfd_create: whole-file locks, space and cache hints,
and in-kernel copies.

A call that can wait for long (flock without LOCK_NB, a copy into a full pipe or socket)
never blocks the emulator: lock waits run on a helper thread; copies into a stream park
until it is writable, as write does; splice and tee run non-blocking and park on the pipe
end that is not ready.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import stat

from syscalls.linux.fs_path import PATH_MAX
from syscalls.linux.fs_rw import PIPE_BUF, stream_io
from syscalls.registry import syscall
from usermode.host import syscalls as hostsys
from usermode.host.syscalls import NR, ready_now
from usermode.kernel.errors import Errno, Park
from usermode.kernel.memory import PROT_R, PROT_W
from usermode.uapi import POLLIN, POLLOUT, UIO_MAXIOV

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable

    from usermode.kernel.process import Process

LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN = 1, 2, 4, 8
MFD_FLAGS = 0x1 | 0x2 | 0x4 | 0x8 | 0x10  # CLOEXEC ALLOW_SEALING HUGETLB NOEXEC_SEAL EXEC


@syscall("flock", args=("fd", "int"))
def sys_flock(p: Process, fd: int, op: int) -> int:
    if op not in (LOCK_SH, LOCK_EX):  # cannot wait: the host decides (EINVAL, LOCK_MAND...)
        return hostsys.syscall(NR["flock"], fd, op)
    try:  # free now: no need for a helper thread
        fcntl.flock(fd, op | LOCK_NB)
        return 0
    except BlockingIOError:
        pass

    def wait() -> int:
        fcntl.flock(fd, op)
        return 0

    raise Park.blocking(wait, undo=lambda _r: fcntl.flock(fd, fcntl.LOCK_UN))


@syscall("fallocate", args=("fd", "int", "off64", "off64"))
def sys_fallocate(p: Process, fd: int, mode: int, off: int, length: int) -> int:
    return hostsys.syscall(NR["fallocate"], fd, mode, off, length)


@syscall("fadvise64", args=("fd", "off64", "size", "int"))
def sys_fadvise64(p: Process, fd: int, off: int, length: int, advice: int) -> int:
    """The length is a word (i386's fadvise64 too); fadvise64_64 has a 64-bit one."""
    return hostsys.syscall(NR["fadvise64"], fd, off, length, advice)


@syscall("fadvise64_64", args=("fd", "off64", "off64", "int"))
def sys_fadvise64_64(p: Process, fd: int, off: int, length: int, advice: int) -> int:
    return sys_fadvise64(p, fd, off, length, advice)


@syscall("arm_fadvise64_64", args=("fd", "int", "off64", "off64"))
def sys_arm_fadvise64_64(p: Process, fd: int, advice: int, off: int, length: int) -> int:
    """arm's order: the advice second, so the 64-bit values land in register pairs."""
    return sys_fadvise64(p, fd, off, length, advice)


@syscall("readahead", args=("fd", "off64", "size"))
def sys_readahead(p: Process, fd: int, off: int, count: int) -> int:
    return hostsys.syscall(NR["readahead"], fd, off, count)


@syscall("sync")
def sys_sync(p: Process) -> int:
    os.sync()
    return 0


@syscall("syncfs", args=("fd",))
def sys_syncfs(p: Process, fd: int) -> int:
    return hostsys.syscall(NR["syncfs"], fd)


@syscall("sync_file_range", args=("fd", "off64", "off64", "uint"))
def sys_sync_file_range(p: Process, fd: int, off: int, nbytes: int, flags: int) -> int:
    return hostsys.syscall(NR["sync_file_range"], fd, off, nbytes, flags)


@syscall("sync_file_range2", args=("fd", "uint", "off64", "off64"))
def sys_sync_file_range2(p: Process, fd: int, flags: int, off: int, nbytes: int) -> int:
    return sys_sync_file_range(p, fd, off, nbytes, flags)


def _copy(p: Process, out_fd: int, op: Callable[[], int]) -> int:
    """An in-kernel copy into `out_fd`: parks while a blocking pipe or socket is full."""
    return stream_io(p, out_fd, POLLOUT, op)


def _copy_limit(p: Process, out_fd: int, count: int) -> int:
    """How much one copy into `out_fd` may move: into a blocking pipe, tty or socket, what
    a ready one takes without blocking (a short count, which callers loop on, as Linux may
    return); the whole `count` elsewhere."""
    if p.fds.may_block(out_fd) and not p.fds.nonblocking(out_fd):
        return min(count, PIPE_BUF)
    return count


def _offset_io(p: Process, ptr: int, size: int) -> tuple[int | None, Callable[[int], None]]:
    """A guest's optional offset pointer (`size` bytes): its value, and how to store the
    advanced offset back after the copy."""
    if not ptr:
        return None, lambda _n: None
    off = int.from_bytes(p.mem.read(ptr, size), p.abi.byteorder, signed=True)
    if off < 0:
        raise Errno(errno.EINVAL)

    def store(n: int) -> None:
        p.mem.write(ptr, (off + n).to_bytes(size, p.abi.byteorder, signed=True))

    return off, store


def _sendfile(p: Process, out_fd: int, in_fd: int, off_ptr: int, count: int, size: int) -> int:
    off, store = _offset_io(p, off_ptr, size)
    limit = _copy_limit(p, out_fd, count)

    def op() -> int:
        n = os.sendfile(out_fd, in_fd, off, limit)
        store(n)
        return n

    return _copy(p, out_fd, op)


@syscall("sendfile", args=("fd", "fd", "ptr", "size"))
def sys_sendfile(p: Process, out_fd: int, in_fd: int, off_ptr: int, count: int) -> int:
    """The offset is a `long` (an off_t of the ABI's word size)."""
    return _sendfile(p, out_fd, in_fd, off_ptr, count, p.abi.wordsize)


@syscall("sendfile64", args=("fd", "fd", "ptr", "size"))
def sys_sendfile64(p: Process, out_fd: int, in_fd: int, off_ptr: int, count: int) -> int:
    return _sendfile(p, out_fd, in_fd, off_ptr, count, 8)


@syscall("copy_file_range", args=("fd", "ptr", "fd", "ptr", "size", "uint"))
def sys_copy_file_range(p: Process, in_fd: int, in_ptr: int, out_fd: int, out_ptr: int,
                        count: int, flags: int) -> int:
    if flags:
        raise Errno(errno.EINVAL)
    in_off, store_in = _offset_io(p, in_ptr, 8)
    out_off, store_out = _offset_io(p, out_ptr, 8)
    limit = _copy_limit(p, out_fd, count)

    def op() -> int:
        n = os.copy_file_range(in_fd, out_fd, limit, in_off, out_off)
        store_in(n)
        store_out(n)
        return n

    return _copy(p, out_fd, op)


SPLICE_F_NONBLOCK, SPLICE_FLAGS = 0x2, 0xF  # MOVE 1, NONBLOCK 2, MORE 4, GIFT 8


def _pipe_wait(p: Process, ends: tuple[tuple[int, int], ...], nonblock: bool,
               op: Callable[[], int]) -> int:
    """Run the non-blocking `op`; on EAGAIN (a pipe empty or full) park until the end that
    is not ready is, and run it again, unless the caller asked not to wait."""
    try:
        return op()
    except BlockingIOError:
        if nonblock:
            raise
        wait = tuple((fd, ev) for fd, ev in ends
                     if p.fds.may_block(fd) and not ready_now(fd, ev)) or ends
        raise Park(lambda _reason: _pipe_wait(p, ends, nonblock, op), fds=wait) from None


@syscall("splice", args=("fd", "ptr", "fd", "ptr", "size", "uint"))
def sys_splice(p: Process, fd_in: int, off_in: int, fd_out: int, off_out: int, length: int,
               flags: int) -> int:
    if flags & ~SPLICE_FLAGS:
        raise Errno(errno.EINVAL)
    in_off, store_in = _offset_io(p, off_in, 8)
    out_off, store_out = _offset_io(p, off_out, 8)

    def op() -> int:
        n = os.splice(fd_in, fd_out, length, in_off, out_off, flags | SPLICE_F_NONBLOCK)
        store_in(n)
        store_out(n)
        return n

    return _pipe_wait(p, ((fd_in, POLLIN), (fd_out, POLLOUT)), bool(
        flags & SPLICE_F_NONBLOCK), op)


@syscall("tee", args=("fd", "fd", "size", "uint"))
def sys_tee(p: Process, fd_in: int, fd_out: int, length: int, flags: int) -> int:
    if flags & ~SPLICE_FLAGS:
        raise Errno(errno.EINVAL)
    return _pipe_wait(p, ((fd_in, POLLIN), (fd_out, POLLOUT)), bool(flags & SPLICE_F_NONBLOCK),
                      lambda: hostsys.syscall(NR["tee"], fd_in, fd_out, length,
                                              flags | SPLICE_F_NONBLOCK))


class _HostIovec(ctypes.Structure):
    _fields_ = (("base", ctypes.c_void_p), ("len", ctypes.c_size_t))


@syscall("vmsplice", args=("fd", "ptr", "size", "uint"))
def sys_vmsplice(p: Process, fd: int, iov: int, nr_segs: int, flags: int) -> int:
    """Guest memory is host memory, so the pages go to (or come from) the pipe directly."""
    if flags & ~SPLICE_FLAGS:
        raise Errno(errno.EINVAL)
    mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        raise Errno(errno.EBADF)
    to_pipe = mode != os.O_RDONLY  # a write end (or O_RDWR): user pages into the pipe
    if nr_segs > UIO_MAXIOV:
        raise Errno(errno.EINVAL)
    layout = p.abi.iovec
    raw = p.mem.read(iov, layout.size * nr_segs)
    vecs = (_HostIovec * max(nr_segs, 1))()
    for i in range(nr_segs):
        base, length = layout.unpack(raw[i * layout.size:])
        vecs[i].len = length
        vecs[i].base = p.mem.host_ptr(base, length, PROT_R if to_pipe else PROT_W) \
            if length else None
    return _pipe_wait(p, ((fd, POLLOUT if to_pipe else POLLIN),), bool(
        flags & SPLICE_F_NONBLOCK), lambda: hostsys.syscall(
            NR["vmsplice"], fd, ctypes.addressof(vecs), nr_segs, flags | SPLICE_F_NONBLOCK))


@syscall("memfd_create", args=("str", "uint"), ret="fd")
def sys_memfd_create(p: Process, name: int, flags: int) -> int:
    if flags & ~MFD_FLAGS:
        raise Errno(errno.EINVAL)
    raw = p.mem.read_cstr(name, PATH_MAX)
    if len(raw) > 249:  # NAME_MAX minus the "memfd:" prefix
        raise Errno(errno.EINVAL)
    return p.fds.adopt(hostsys.syscall(NR["memfd_create"], raw, flags))
