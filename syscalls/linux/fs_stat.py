"""newfstatat/fstat/stat/lstat, statx, getdents64, statfs/fstatfs: file metadata."""

from __future__ import annotations

import ctypes
import errno
import os
import stat

from syscalls.abi import get as get_abi
from syscalls.linux.fs_path import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, PATH_MAX, dir_fd
from syscalls.registry import syscall
from usermode.host import syscalls as hostsys
from usermode.host.syscalls import NR
from usermode.kernel.errors import Errno
from usermode.kernel.memory import PROT_W

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

STATX_SIZE = 256  # identical layout on every arch
STATFS_SIZE = 120  # struct statfs on 64-bit guests (= host)
_HOST_STATFS = get_abi("x86_64").statfs  # the host's own struct statfs


def _put_stat(p: Process, buf: int, st: os.stat_result, old: bool) -> None:
    """Write `st` as the guest's struct stat64 (or, for the old calls of a 32-bit ABI, its
    narrow struct stat)."""
    if old and p.abi.stat_old is not None:
        data = p.abi.to_guest_old_stat(st)
        p.mem.view(buf, len(data), PROT_W)[:] = data
    else:
        p.mem.view(buf, p.abi.stat.size, PROT_W)[:] = p.abi.to_guest_stat(st)


def _stat_at(p: Process, dfd: int, path_ptr: int, buf: int, flags: int,
             old: bool = False) -> int:
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
    _put_stat(p, buf, st, old)  # after the lookup, as Linux
    return 0


@syscall("newfstatat", args=("fd:dirfd", "path", "ptr", "int:at_flags"))
def sys_newfstatat(p: Process, dfd: int, path: int, buf: int, flags: int) -> int:
    return _stat_at(p, dfd, path, buf, flags)


@syscall("stat", args=("path", "ptr"))
def sys_stat(p: Process, path: int, buf: int) -> int:
    return _stat_at(p, AT_FDCWD, path, buf, 0, old=True)


@syscall("lstat", args=("path", "ptr"))
def sys_lstat(p: Process, path: int, buf: int) -> int:
    return _stat_at(p, AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW, old=True)


@syscall("fstat", args=("fd", "ptr"))
def sys_fstat(p: Process, fd: int, buf: int) -> int:
    _put_stat(p, buf, os.fstat(fd), old=True)
    return 0


# the 32-bit ABIs' stat64 calls: struct stat64, which is what `abi.stat` holds there
@syscall("stat64", args=("path", "ptr"))
def sys_stat64(p: Process, path: int, buf: int) -> int:
    return _stat_at(p, AT_FDCWD, path, buf, 0)


@syscall("lstat64", args=("path", "ptr"))
def sys_lstat64(p: Process, path: int, buf: int) -> int:
    return _stat_at(p, AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW)


@syscall("fstat64", args=("fd", "ptr"))
def sys_fstat64(p: Process, fd: int, buf: int) -> int:
    _put_stat(p, buf, os.fstat(fd), old=False)
    return 0


STATX__RESERVED = 0x80000000
AT_NO_AUTOMOUNT, AT_STATX_SYNC_TYPE = 0x800, 0x6000
STATX_AT_FLAGS = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE


@syscall("statx", args=("fd:dirfd", "path", "int:at_flags", "uint:statx_mask", "ptr"))
def sys_statx(p: Process, dfd: int, path: int, flags: int, mask: int, buf: int) -> int:
    if (mask & STATX__RESERVED or flags & ~STATX_AT_FLAGS
            or flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE):
        raise Errno(errno.EINVAL)  # before the path is read, as Linux
    raw = p.mem.read_cstr(path, PATH_MAX)
    host = p.paths.to_host(raw, not flags & AT_SYMLINK_NOFOLLOW) if raw else b""
    # into a buffer of ours, then the guest's: a bad buffer is found last, as in Linux
    out = ctypes.create_string_buffer(STATX_SIZE)
    r = hostsys.syscall(hostsys.NR["statx"], dfd, host, flags, mask, ctypes.addressof(out))
    p.mem.write(buf, out.raw if p.abi.little_endian else _big_endian_statx(out.raw))
    return r


# struct statx's fields (one layout on every arch), as (offset, size): mask, blksize,
# attributes, nlink, uid, gid, mode, spare, ino, size, blocks, attributes_mask, four
# timestamps (sec, nsec, reserved), rdev and dev major/minor, mnt_id, dio alignments, spares
_STATX_FIELDS = ((0, 4), (4, 4), (8, 8), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (32, 8),
                 (40, 8), (48, 8), (56, 8),
                 *((t + o, n) for t in (64, 80, 96, 112) for o, n in ((0, 8), (8, 4), (12, 4))),
                 (128, 4), (132, 4), (136, 4), (140, 4), (144, 8), (152, 4), (156, 4),
                 *((o, 8) for o in range(160, 256, 8)))


def _big_endian_statx(raw: bytes) -> bytes:
    """The host's (little-endian) struct statx with every field's bytes reversed."""
    out = bytearray(raw)
    for off, size in _STATX_FIELDS:
        out[off:off + size] = raw[off:off + size][::-1]
    return bytes(out)


@syscall("getdents64", args=("fd", "ptr", "uint"))
def sys_getdents64(p: Process, fd: int, dirp: int, count: int) -> int:
    # struct linux_dirent64 is the same on every arch: the kernel fills guest memory directly,
    # as much of the buffer as is writable (a heap buffer may straddle two of our backings).
    listing = p.fds.listing.get(fd)
    if listing is not None:
        return _listed(p, listing, dirp, count)
    if not count:
        return hostsys.syscall(hostsys.NR["getdents64"], fd, 0, 0)
    try:
        view = p.mem.view(dirp, count, PROT_W, True)
    except Errno as e:  # the fd is checked first (EBADF, ENOTDIR)
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            raise Errno(errno.ENOTDIR) from e
        raise
    ptr = ctypes.addressof(ctypes.c_char.from_buffer(view))
    n = hostsys.syscall(hostsys.NR["getdents64"], fd, ptr, len(view))
    if not p.abi.little_endian:  # d_ino, d_off and d_reclen in the guest's byte order
        off = 0
        while off < n:
            reclen = int.from_bytes(view[off + 16:off + 18], "little")
            for a, b in ((off, off + 8), (off + 8, off + 16), (off + 16, off + 18)):
                view[a:b] = bytes(view[a:b])[::-1]
            off += reclen
    return n


def _listed(p: Process, listing: list[bytes], dirp: int, count: int) -> int:
    """getdents64 on a directory whose entries are ours (usermode/kernel/procfs.py)."""
    out = b""
    while listing and len(out) + len(listing[0]) <= count:
        out += listing.pop(0)
    if listing and not out:
        raise Errno(errno.EINVAL)  # not even one entry fits
    p.mem.write(dirp, out)
    return len(out)


def _host_statfs(p: Process, path: int | None, fd: int, buf: int, wide: bool) -> int:
    """statfs/fstatfs (and the 64 variants): the host fills a 64-bit struct statfs, which is
    the guest's own on 64-bit little-endian ABIs; others get it converted."""
    abi = p.abi
    host = p.paths.to_host(p.mem.read_cstr(path, PATH_MAX)) if path is not None else None
    if abi.wordsize == 8 and abi.little_endian:
        out = p.mem.host_ptr(buf, STATFS_SIZE, PROT_W)
        return hostsys.syscall(NR["statfs"] if host is not None else NR["fstatfs"],
                               host if host is not None else fd, out)
    raw = ctypes.create_string_buffer(STATFS_SIZE)
    hostsys.syscall(NR["statfs"] if host is not None else NR["fstatfs"],
                    host if host is not None else fd, ctypes.addressof(raw))
    values = _HOST_STATFS.unpack_dict(raw.raw)
    data = abi.to_guest_statfs(values, wide)  # type: ignore[arg-type]
    p.mem.view(buf, len(data), PROT_W)[:] = data
    return 0


def _statfs64_size(p: Process, size: int) -> None:
    expected = p.abi.statfs64.size
    if size != expected and not (p.abi.family == "arm" and size == 88):  # arm's OABI size too
        raise Errno(errno.EINVAL)


@syscall("statfs", args=("path", "ptr"))
def sys_statfs(p: Process, path: int, buf: int) -> int:
    return _host_statfs(p, path, -1, buf, False)


@syscall("fstatfs", args=("fd", "ptr"))
def sys_fstatfs(p: Process, fd: int, buf: int) -> int:
    return _host_statfs(p, None, fd, buf, False)


@syscall("statfs64", args=("path", "size", "ptr"))
def sys_statfs64(p: Process, path: int, size: int, buf: int) -> int:
    _statfs64_size(p, size)
    return _host_statfs(p, path, -1, buf, True)


@syscall("fstatfs64", args=("fd", "size", "ptr"))
def sys_fstatfs64(p: Process, fd: int, size: int, buf: int) -> int:
    _statfs64_size(p, size)
    return _host_statfs(p, None, fd, buf, True)
