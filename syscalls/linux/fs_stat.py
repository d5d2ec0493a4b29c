"""newfstatat/fstat/stat/lstat, statx, getdents64, statfs/fstatfs: file metadata."""

from __future__ import annotations

import ctypes
import errno
import os
from typing import TYPE_CHECKING

from syscalls.errors import Errno
from syscalls.linux.fs_path import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, PATH_MAX, dir_fd
from syscalls.registry import syscall
from usermode import hostsys
from usermode.memory import PROT_W

if TYPE_CHECKING:
    from usermode.process import Process

STATX_SIZE = 256  # identical layout on every arch
STATFS_SIZE = 120  # struct statfs on 64-bit guests (= host)
NR_STATFS, NR_FSTATFS = 137, 138


def _stat_at(p: Process, dfd: int, path_ptr: int, buf: int, flags: int) -> int:
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800):  # 0x800: AT_NO_AUTOMOUNT
        raise Errno(errno.EINVAL)
    raw = p.mem.read_cstr(path_ptr, PATH_MAX)
    if not raw:
        if not flags & AT_EMPTY_PATH:
            raise Errno(errno.ENOENT)
        st = os.stat(".") if dfd == AT_FDCWD else os.fstat(dfd)
    else:
        nofollow = bool(flags & AT_SYMLINK_NOFOLLOW)
        st = os.stat(p.paths.to_host(raw, not nofollow), dir_fd=dir_fd(dfd),
                     follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)
    p.mem.view(buf, p.abi.stat.size, PROT_W)[:] = p.abi.to_guest_stat(st)  # lookup first
    return 0


@syscall("newfstatat", args=("fd:dirfd", "path", "ptr", "int:at_flags"))
def sys_newfstatat(p: Process, dfd: int, path: int, buf: int, flags: int) -> int:
    return _stat_at(p, dfd, path, buf, flags)


@syscall("stat", args=("path", "ptr"))
def sys_stat(p: Process, path: int, buf: int) -> int:
    return _stat_at(p, AT_FDCWD, path, buf, 0)


@syscall("lstat", args=("path", "ptr"))
def sys_lstat(p: Process, path: int, buf: int) -> int:
    return _stat_at(p, AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW)


@syscall("fstat", args=("fd", "ptr"))
def sys_fstat(p: Process, fd: int, buf: int) -> int:
    out = p.mem.view(buf, p.abi.stat.size, PROT_W)
    out[:] = p.abi.to_guest_stat(os.fstat(fd))
    return 0


@syscall("statx", args=("fd:dirfd", "path", "int:at_flags", "uint:statx_mask", "ptr"))
def sys_statx(p: Process, dfd: int, path: int, flags: int, mask: int, buf: int) -> int:
    raw = p.mem.read_cstr(path, PATH_MAX)
    host = p.paths.to_host(raw, not flags & AT_SYMLINK_NOFOLLOW) if raw else b""
    return hostsys.syscall(hostsys.NR_STATX, dfd, host, flags, mask,
                           p.mem.host_ptr(buf, STATX_SIZE, PROT_W))


@syscall("getdents64", args=("fd", "ptr", "uint"))
def sys_getdents64(p: Process, fd: int, dirp: int, count: int) -> int:
    # struct linux_dirent64 is the same on every arch: the kernel fills guest memory directly,
    # as much of the buffer as is writable (a heap buffer may straddle two of our backings).
    if not count:
        return hostsys.syscall(hostsys.NR_GETDENTS64, fd, 0, 0)
    view = p.mem.view(dirp, count, PROT_W, True)
    ptr = ctypes.addressof(ctypes.c_char.from_buffer(view))
    return hostsys.syscall(hostsys.NR_GETDENTS64, fd, ptr, len(view))


@syscall("statfs", args=("path", "ptr"))
def sys_statfs(p: Process, path: int, buf: int) -> int:
    host = p.paths.to_host(p.mem.read_cstr(path, PATH_MAX))
    return hostsys.syscall(NR_STATFS, host, p.mem.host_ptr(buf, STATFS_SIZE, PROT_W))


@syscall("fstatfs", args=("fd", "ptr"))
def sys_fstatfs(p: Process, fd: int, buf: int) -> int:
    return hostsys.syscall(NR_FSTATFS, fd, p.mem.host_ptr(buf, STATFS_SIZE, PROT_W))
