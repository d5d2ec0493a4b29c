"""close, close_range, dup, dup2, dup3, fcntl, pipe, pipe2, ioctl, fsync, fdatasync, ftruncate,
fchmod, fchown: operations on open file descriptors."""

from __future__ import annotations

import errno
import fcntl
import os
import struct

from syscalls.registry import syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import Errno, Park
from usermode.kernel.memory import PROT_R, PROT_W
from usermode.uapi import (
    F_DUPFD,
    F_DUPFD_CLOEXEC,
    F_GETFL,
    F_GETLK,
    F_OFD_GETLK,
    F_OFD_SETLK,
    F_OFD_SETLKW,
    F_SETFL,
    F_SETLK,
    F_SETLKW,
    F_UNLCK,
    O_CLOEXEC,
)

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

# pointer-taking commands: F_SETOWN_EX, F_GETOWN_EX (struct f_owner_ex, 8 bytes),
# F_GET/SET_RW_HINT and F_GET/SET_FILE_RW_HINT (u64)
_FCNTL_PTR_ARGS = {15: (8, PROT_R), 16: (8, PROT_W), 1035: (8, PROT_W), 1036: (8, PROT_R),
                   1037: (8, PROT_W), 1038: (8, PROT_R)}
FLOCK_SIZE = 32  # struct flock on 64-bit guests (= host)
HOST_FLOCK = struct.Struct("<hh4xqqi4x")


@syscall("close", args=("fd",))
def sys_close(p: Process, fd: int) -> int:
    if fd in p.fds.reserved:
        raise Errno(errno.EBADF)  # not one of the guest's fds
    p.sched.waits.fd_closing(fd)
    os.close(fd)
    p.fds.forget(fd)
    return 0


@syscall("close_range", args=("uint", "uint", "uint"))
def sys_close_range(p: Process, first: int, last: int, flags: int) -> int:
    if first > last:
        raise Errno(errno.EINVAL)
    # close the guest's fds in the range, stepping around the emulator's own
    lo = first
    for fd in sorted(f for f in p.fds.reserved if first <= f <= last):
        if lo < fd:
            hostsys.syscall(hostsys.NR["close_range"], lo, fd - 1, flags)
        lo = fd + 1
    if lo <= last:
        hostsys.syscall(hostsys.NR["close_range"], lo, last, flags)
    p.fds.forget_all()
    return 0


@syscall("dup", args=("fd",), ret="fd")
def sys_dup(p: Process, fd: int) -> int:
    new = fcntl.fcntl(fd, F_DUPFD, 0)  # os.dup would set O_CLOEXEC
    p.fds.forget(new)
    return new


@syscall("dup3", args=("fd", "fd", "int:open_flags"), ret="fd")
def sys_dup3(p: Process, old: int, new: int, flags: int) -> int:
    if old == new or flags & ~O_CLOEXEC:
        raise Errno(errno.EINVAL)
    if new in p.fds.reserved:  # the guest's fd space ends where ours begins
        raise Errno(errno.EBADF)
    r = os.dup2(old, new, inheritable=not flags & O_CLOEXEC)
    p.fds.forget(new)
    return r


@syscall("dup2", args=("fd", "fd"), ret="fd")
def sys_dup2(p: Process, old: int, new: int) -> int:
    if old == new:
        os.fstat(old)  # EBADF check
        return new
    return sys_dup3(p, old, new, 0)


@syscall("fcntl", args=("fd", "int:fcntl_cmd", "ulong"))
def sys_fcntl(p: Process, fd: int, cmd: int, arg: int) -> int:
    return fcntl_cmd(p, fd, cmd, arg, lk64=False)


def fcntl_cmd(p: Process, fd: int, cmd: int, arg: int, lk64: bool) -> int:
    """fcntl; `lk64`: the lock commands take a flock64 (fcntl64's F_*LK64 on 32-bit ABIs)."""
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        new = fcntl.fcntl(fd, cmd, p.abi.s32(arg))
        p.fds.forget(new)
        return new
    if cmd == F_GETFL:
        return p.abi.to_guest_open_flags(fcntl.fcntl(fd, F_GETFL))
    if cmd == F_SETFL:
        p.fds.flags_changed()
        return fcntl.fcntl(fd, F_SETFL, p.abi.from_guest_open_flags(arg & 0xFFFFFFFF))
    if cmd in (F_GETLK, F_SETLK, F_OFD_GETLK, F_OFD_SETLK, F_SETLKW, F_OFD_SETLKW):
        guest = None if p.abi.wordsize == 8 and p.abi.little_endian else \
            (p.abi.flock64 if lk64 or cmd >= F_OFD_GETLK else p.abi.flock)
        lock = p.mem.read(arg, FLOCK_SIZE) if guest is None else \
            HOST_FLOCK.pack(*guest.unpack(p.mem.read(arg, guest.size)))
        if cmd in (F_SETLKW, F_OFD_SETLKW):
            try:
                fcntl.fcntl(fd, F_SETLK if cmd == F_SETLKW else F_OFD_SETLK, lock)
                return 0
            except (BlockingIOError, PermissionError):  # EACCES: "would block" too
                raise Park.blocking(lambda: _set_lock_wait(fd, cmd, lock),
                                    undo=lambda _r: _unlock(fd, cmd, lock)) from None
        out = fcntl.fcntl(fd, cmd, lock)
        if cmd in (F_GETLK, F_OFD_GETLK):
            if guest is not None:
                out = guest.pack_wrapped(*HOST_FLOCK.unpack(out))
            p.mem.write(arg, out)
        return 0
    ptr = _FCNTL_PTR_ARGS.get(cmd)
    if ptr is not None:  # the kernel reads or writes guest memory: hand it the host address
        size, need = ptr
        return hostsys.syscall(hostsys.NR["fcntl"], fd, cmd, p.mem.host_ptr(arg, size, need))
    # F_GETFD, F_SETFD, F_GETOWN, F_SETOWN, F_GETPIPE_SZ, F_SETPIPE_SZ, F_GET_SEALS, ...:
    # integer-valued commands whose numbers are the same on every 64-bit guest.
    return fcntl.fcntl(fd, cmd, arg & 0xFFFFFFFF)


def _id(v: int) -> int:
    """A uid/gid argument for Python's os functions ((uid_t)-1 is "leave unchanged")."""
    return -1 if v == 0xFFFFFFFF else v


def _set_lock_wait(fd: int, cmd: int, lock: bytes) -> int:
    fcntl.fcntl(fd, cmd, lock)
    return 0


def _unlock(fd: int, cmd: int, lock: bytes) -> None:
    """Release a lock a waiting F_SETLKW took after the guest stopped waiting for it."""
    _type, *rest = HOST_FLOCK.unpack(lock)
    fcntl.fcntl(fd, F_SETLK if cmd == F_SETLKW else F_OFD_SETLK,
                HOST_FLOCK.pack(F_UNLCK, *rest))


PIPE2_FLAGS = os.O_CLOEXEC | os.O_NONBLOCK | os.O_DIRECT | os.O_EXCL  # O_EXCL: notification


def _pipe(p: Process, fds_ptr: int, flags: int) -> int:
    hflags = p.abi.from_guest_open_flags(flags)
    if hflags & ~PIPE2_FLAGS or p.abi.to_guest_open_flags(hflags) != flags:
        raise Errno(errno.EINVAL)  # the flags before the pointer, as Linux
    p.mem.view(fds_ptr, 8, PROT_W)  # EFAULT before creating anything
    r, w = os.pipe2(hflags)
    p.fds.forget(r)
    p.fds.forget(w)
    p.fds.link(r, w)
    p.mem.write(fds_ptr, r.to_bytes(4, p.abi.byteorder) + w.to_bytes(4, p.abi.byteorder))
    return 0


@syscall("pipe2", args=("ptr", "int:open_flags"))
def sys_pipe2(p: Process, fds_ptr: int, flags: int) -> int:
    return _pipe(p, fds_ptr, flags)


@syscall("pipe", args=("ptr",))
def sys_pipe(p: Process, fds_ptr: int) -> int:
    v1 = p.arch.PIPE_SECOND_REG
    if v1 is None:
        return _pipe(p, fds_ptr, 0)
    # mips o32: no pointer; the read end comes back in v0, the write end in v1
    r, w = os.pipe()
    p.fds.forget(r)
    p.fds.forget(w)
    p.fds.link(r, w)
    p.engine.set_reg(v1, w)
    return r


@syscall("fsync", args=("fd",))
def sys_fsync(p: Process, fd: int) -> int:
    os.fsync(fd)
    return 0


@syscall("fdatasync", args=("fd",))
def sys_fdatasync(p: Process, fd: int) -> int:
    os.fdatasync(fd)
    return 0


@syscall("ftruncate", args=("fd", "off"))
def sys_ftruncate(p: Process, fd: int, length: int) -> int:
    if length < 0:
        raise Errno(errno.EINVAL)
    os.ftruncate(fd, length)
    return 0


@syscall("fchmod", args=("fd", "uint:mode"))
def sys_fchmod(p: Process, fd: int, mode: int) -> int:
    os.fchmod(fd, mode & 0o7777)
    return 0


@syscall("fchown", args=("fd", "uint:uid", "uint:gid"))
def sys_fchown(p: Process, fd: int, uid: int, gid: int) -> int:
    os.fchown(fd, _id(uid), _id(gid))
    return 0
