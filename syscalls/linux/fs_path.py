"""openat/openat2/open/creat, readlinkat, faccessat(2), mkdirat, unlinkat, renameat2, symlinkat,
linkat, fchmodat, fchownat, utimensat, truncate, getcwd, chdir, fchdir, umask: calls that name
paths.
The x86_64 legacy forms (open, access, mkdir, ...) share these handlers with AT_FDCWD."""

from __future__ import annotations

import ctypes
import errno
import os
import stat

from loaders.image import PAGE
from syscalls.linux.fs_fd import _id
from syscalls.registry import syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import Errno, Park
from usermode.kernel.memory import PROT_W
from usermode.kernel.procfs import open_emulated

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_EMPTY_PATH = 0x1000
O_PATH = 0x200000
PATH_MAX = 4096


def dir_fd(d: int) -> int | None:
    """The dir_fd argument for Python's os functions (None for AT_FDCWD)."""
    if d == AT_FDCWD:
        return None
    if d < 0:
        raise Errno(errno.EBADF)
    return d


def guest_path(p: Process, ptr: int, follow: bool = True) -> bytes:
    """Read a path argument and map it to the host path the operation should use;
    `follow=False` for calls that act on a final symlink itself."""
    path = p.mem.read_cstr(ptr, PATH_MAX)
    return p.paths.to_host(path, follow)


class _OpenHow(ctypes.Structure):
    _fields_ = (("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64))


OPEN_HOW_SIZE_VER0 = 24
RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS = 0x02, 0x04


def _host_open(dfd: int, path: bytes, hflags: int, mode: int, resolve: int | None) -> int:
    """openat, or openat2 when the guest gave RESOLVE_* flags (`resolve` not None)."""
    if resolve is None:
        return hostsys.syscall(hostsys.NR["openat"], dfd, path, hflags, mode & 0o7777)
    how = _OpenHow(hflags, mode, resolve)
    return hostsys.syscall(hostsys.NR["openat2"], dfd, path, ctypes.addressof(how),
                           OPEN_HOW_SIZE_VER0)


def _openat(p: Process, dfd: int, path_ptr: int, flags: int, mode: int,
            resolve: int | None = None) -> int:
    raw = p.mem.read_cstr(path_ptr, PATH_MAX)
    if not raw:
        raise Errno(errno.ENOENT)
    hflags = p.abi.from_guest_open_flags(flags)
    if raw.startswith(b"/proc/"):
        fd = open_emulated(p, raw, hflags)
        if fd is not None:
            return fd
    path = p.paths.to_host(raw, not flags & p.abi.O_NOFOLLOW)
    if not hflags & (os.O_NONBLOCK | os.O_CREAT | O_PATH) and _is_fifo(dfd, path):
        def open_fifo() -> int:  # waits for the peer: on a helper thread
            fd = _host_open(dfd, path, hflags, mode, resolve)
            p.fds.forget(fd)
            return fd

        raise Park.blocking(open_fifo, undo=os.close)
    fd = _host_open(dfd, path, hflags, mode, resolve)
    p.fds.forget(fd)
    return fd


def _is_fifo(dfd: int, path: bytes) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path, dir_fd=None if dfd == AT_FDCWD or path[:1] == b"/"
                                     else dfd).st_mode)
    except (OSError, ValueError):
        return False  # the open itself reports the error


@syscall("openat", args=("fd:dirfd", "path", "int:open_flags", "uint:mode"), ret="fd")
def sys_openat(p: Process, dfd: int, path: int, flags: int, mode: int) -> int:
    return _openat(p, dfd, path, flags, mode)


@syscall("openat2", args=("fd:dirfd", "path", "ptr", "size"), ret="fd")
def sys_openat2(p: Process, dfd: int, path: int, how: int, size: int) -> int:
    """struct open_how is three u64s on every arch; a longer one must end in zeros."""
    if size < OPEN_HOW_SIZE_VER0:
        raise Errno(errno.EINVAL)
    if size > PAGE:
        raise Errno(errno.E2BIG)
    raw = p.mem.read(how, size)
    if any(raw[OPEN_HOW_SIZE_VER0:]):
        raise Errno(errno.E2BIG)
    bo = p.abi.byteorder
    flags, mode, resolve = (int.from_bytes(raw[i:i + 8], bo) for i in (0, 8, 16))
    if flags >> 32:  # the host would see these bits; the guest's open flags are 32 bits
        raise Errno(errno.EINVAL)
    if resolve & (RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS) and \
            p.paths.readlink_special(p.mem.read_cstr(path, PATH_MAX)) is not None:
        raise Errno(errno.ELOOP)  # /proc/self/exe: a magic link we resolve ourselves
    return _openat(p, dfd, path, flags, mode, resolve)


@syscall("open", args=("path", "int:open_flags", "uint:mode"), ret="fd")
def sys_open(p: Process, path: int, flags: int, mode: int) -> int:
    return _openat(p, AT_FDCWD, path, flags, mode)


@syscall("creat", args=("path", "uint:mode"), ret="fd")
def sys_creat(p: Process, path: int, mode: int) -> int:
    return _openat(p, AT_FDCWD, path, p.abi.to_guest_open_flags(
        os.O_CREAT | os.O_WRONLY | os.O_TRUNC), mode)


def _readlinkat(p: Process, dfd: int, path_ptr: int, buf: int, size: int) -> int:
    if size <= 0:
        raise Errno(errno.EINVAL)
    raw = p.mem.read_cstr(path_ptr, PATH_MAX)
    special = p.paths.readlink_special(raw)
    target = special if special is not None else os.readlink(p.paths.to_host(raw, False),
                                                             dir_fd=dir_fd(dfd))
    out = target[:size]
    p.mem.write(buf, out)
    return len(out)


@syscall("readlinkat", args=("fd:dirfd", "path", "ptr", "int"))
def sys_readlinkat(p: Process, dfd: int, path: int, buf: int, size: int) -> int:
    return _readlinkat(p, dfd, path, buf, size)


@syscall("readlink", args=("path", "ptr", "int"))
def sys_readlink(p: Process, path: int, buf: int, size: int) -> int:
    return _readlinkat(p, AT_FDCWD, path, buf, size)


@syscall("faccessat2", args=("fd:dirfd", "path", "int:access_mode", "int:at_flags"))
def sys_faccessat2(p: Process, dfd: int, path: int, mode: int, flags: int) -> int:
    if not flags:
        return hostsys.syscall(hostsys.NR["faccessat"], dfd, guest_path(p, path), mode)
    return hostsys.syscall(hostsys.NR["faccessat2"], dfd,
                           guest_path(p, path, not flags & AT_SYMLINK_NOFOLLOW), mode, flags)


@syscall("faccessat", args=("fd:dirfd", "path", "int:access_mode"))
def sys_faccessat(p: Process, dfd: int, path: int, mode: int) -> int:
    return hostsys.syscall(hostsys.NR["faccessat"], dfd, guest_path(p, path), mode)


@syscall("access", args=("path", "int:access_mode"))
def sys_access(p: Process, path: int, mode: int) -> int:
    return sys_faccessat(p, AT_FDCWD, path, mode)


@syscall("mkdirat", args=("fd:dirfd", "path", "uint:mode"))
def sys_mkdirat(p: Process, dfd: int, path: int, mode: int) -> int:
    os.mkdir(guest_path(p, path), mode & 0o7777, dir_fd=dir_fd(dfd))
    return 0


def from_guest_dev(dev: int) -> int:
    """A device number as the mknod syscalls take it (the kernel's 32-bit encoding, the same
    on every arch) as a host dev_t."""
    major = (dev & 0xFFF00) >> 8
    minor = (dev & 0xFF) | ((dev >> 12) & 0xFFF00)
    return os.makedev(major, minor)


@syscall("mknodat", args=("fd:dirfd", "path", "uint:mode", "uint"))
def sys_mknodat(p: Process, dfd: int, path: int, mode: int, dev: int) -> int:
    kind = stat.S_IFMT(mode)
    if kind not in (0, stat.S_IFREG, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
        raise Errno(errno.EINVAL)
    if kind == stat.S_IFDIR:
        raise Errno(errno.EPERM)
    # the host's umask is the guest's (umask is passed through)
    os.mknod(guest_path(p, path, False), (mode & 0o7777) | (kind or stat.S_IFREG),
             from_guest_dev(dev), dir_fd=dir_fd(dfd))
    return 0


@syscall("mknod", args=("path", "uint:mode", "uint"))
def sys_mknod(p: Process, path: int, mode: int, dev: int) -> int:
    return sys_mknodat(p, AT_FDCWD, path, mode, dev)


@syscall("mkdir", args=("path", "uint:mode"))
def sys_mkdir(p: Process, path: int, mode: int) -> int:
    return sys_mkdirat(p, AT_FDCWD, path, mode)


@syscall("unlinkat", args=("fd:dirfd", "path", "int:at_flags"))
def sys_unlinkat(p: Process, dfd: int, path: int, flags: int) -> int:
    if flags & ~AT_REMOVEDIR:
        raise Errno(errno.EINVAL)
    host = guest_path(p, path, False)
    if flags & AT_REMOVEDIR:
        os.rmdir(host, dir_fd=dir_fd(dfd))
    else:
        os.unlink(host, dir_fd=dir_fd(dfd))
    return 0


@syscall("unlink", args=("path",))
def sys_unlink(p: Process, path: int) -> int:
    return sys_unlinkat(p, AT_FDCWD, path, 0)


@syscall("rmdir", args=("path",))
def sys_rmdir(p: Process, path: int) -> int:
    return sys_unlinkat(p, AT_FDCWD, path, AT_REMOVEDIR)


@syscall("renameat2", args=("fd:dirfd", "path", "fd:dirfd", "path", "uint:rename_flags"))
def sys_renameat2(p: Process, od: int, old: int, nd: int, new: int, flags: int) -> int:
    return hostsys.syscall(hostsys.NR["renameat2"], od, guest_path(p, old, False), nd,
                           guest_path(p, new, False), flags)


@syscall("renameat", args=("fd:dirfd", "path", "fd:dirfd", "path"))
def sys_renameat(p: Process, od: int, old: int, nd: int, new: int) -> int:
    return sys_renameat2(p, od, old, nd, new, 0)


@syscall("rename", args=("path", "path"))
def sys_rename(p: Process, old: int, new: int) -> int:
    return sys_renameat2(p, AT_FDCWD, old, AT_FDCWD, new, 0)


@syscall("symlinkat", args=("path", "fd:dirfd", "path"))
def sys_symlinkat(p: Process, target: int, dfd: int, link: int) -> int:
    os.symlink(p.mem.read_cstr(target, PATH_MAX), guest_path(p, link, False), dir_fd=dir_fd(dfd))
    return 0


@syscall("symlink", args=("path", "path"))
def sys_symlink(p: Process, target: int, link: int) -> int:
    return sys_symlinkat(p, target, AT_FDCWD, link)


@syscall("linkat", args=("fd:dirfd", "path", "fd:dirfd", "path", "int:at_flags"))
def sys_linkat(p: Process, od: int, old: int, nd: int, new: int, flags: int) -> int:
    follow = bool(flags & AT_SYMLINK_FOLLOW)
    os.link(guest_path(p, old, follow), guest_path(p, new, False), src_dir_fd=dir_fd(od),
            dst_dir_fd=dir_fd(nd), follow_symlinks=bool(flags & AT_SYMLINK_FOLLOW))
    return 0


@syscall("link", args=("path", "path"))
def sys_link(p: Process, old: int, new: int) -> int:
    return sys_linkat(p, AT_FDCWD, old, AT_FDCWD, new, 0)


@syscall("fchmodat", args=("fd:dirfd", "path", "uint:mode"))
def sys_fchmodat(p: Process, dfd: int, path: int, mode: int) -> int:
    os.chmod(guest_path(p, path), mode & 0o7777, dir_fd=dir_fd(dfd))
    return 0


@syscall("fchmodat2", args=("fd:dirfd", "path", "uint:mode", "int:at_flags"))
def sys_fchmodat2(p: Process, dfd: int, path: int, mode: int, flags: int) -> int:
    """fchmodat with flags (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH): the host's."""
    raw = p.mem.read_cstr(path, PATH_MAX)
    host = p.paths.to_host(raw, not flags & AT_SYMLINK_NOFOLLOW) if raw else b""
    return hostsys.syscall(hostsys.NR["fchmodat2"], dfd, host, mode, flags)


@syscall("chmod", args=("path", "uint:mode"))
def sys_chmod(p: Process, path: int, mode: int) -> int:
    return sys_fchmodat(p, AT_FDCWD, path, mode)


@syscall("fchownat", args=("fd:dirfd", "path", "uint:uid", "uint:gid", "int:at_flags"))
def sys_fchownat(p: Process, dfd: int, path: int, uid: int, gid: int, flags: int) -> int:
    host = guest_path(p, path, not flags & AT_SYMLINK_NOFOLLOW)
    if not host and flags & AT_EMPTY_PATH:
        os.fchown(dfd, _id(uid), _id(gid))
    else:
        os.chown(host, _id(uid), _id(gid), dir_fd=dir_fd(dfd),
                 follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)
    return 0


@syscall("chown", args=("path", "uint:uid", "uint:gid"))
def sys_chown(p: Process, path: int, uid: int, gid: int) -> int:
    return sys_fchownat(p, AT_FDCWD, path, uid, gid, 0)


@syscall("lchown", args=("path", "uint:uid", "uint:gid"))
def sys_lchown(p: Process, path: int, uid: int, gid: int) -> int:
    return sys_fchownat(p, AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW)


@syscall("utimensat", args=("fd:dirfd", "path", "ptr", "int:at_flags"))
def sys_utimensat(p: Process, dfd: int, path: int, times: int, flags: int) -> int:
    host = guest_path(p, path, not flags & AT_SYMLINK_NOFOLLOW) if path else None
    if not times:
        return hostsys.syscall(hostsys.NR["utimensat"], dfd, host, 0, flags)
    ts = p.abi.timespec
    raw = p.mem.read(times, 2 * ts.size)
    pair = (hostsys.Timespec * 2)()
    for i in range(2):  # the guest's timespecs (32-bit fields on 32-bit ABIs) -> the host's
        sec, nsec = p.abi.from_guest_timespec(raw[i * ts.size:(i + 1) * ts.size])
        pair[i].tv_sec, pair[i].tv_nsec = sec, nsec
    return hostsys.syscall(hostsys.NR["utimensat"], dfd, host, ctypes.addressof(pair), flags)


@syscall("truncate", args=("path", "off"))
def sys_truncate(p: Process, path: int, length: int) -> int:
    if length < 0:
        raise Errno(errno.EINVAL)
    os.truncate(guest_path(p, path), length)
    return 0


@syscall("getcwd", args=("ptr", "size"))
def sys_getcwd(p: Process, buf: int, size: int) -> int:
    cwd = p.paths.to_guest(os.getcwdb()) + b"\0"
    if size < len(cwd):
        raise Errno(errno.ERANGE)
    p.mem.view(buf, len(cwd), PROT_W)[:] = cwd
    return len(cwd)


@syscall("chdir", args=("path",))
def sys_chdir(p: Process, path: int) -> int:
    os.chdir(guest_path(p, path))
    return 0


@syscall("fchdir", args=("fd",))
def sys_fchdir(p: Process, fd: int) -> int:
    os.fchdir(fd)
    return 0


@syscall("umask", args=("uint:mode",))
def sys_umask(p: Process, mask: int) -> int:
    return os.umask(mask & 0o777)
