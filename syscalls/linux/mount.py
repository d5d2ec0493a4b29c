"""mount, umount2, umount, chroot: the file tree.

Mounts are the host's, as qemu-user passes them through. Paths go through the sysroot overlay
like any other path argument; mount flags are the same on every arch. `data` is the
filesystem's option string (at most a page, as the kernel copies it). A mount changes the
host process's view, which is the guest's: they are one process.

chroot is not: the emulator's own files and imports must stay reachable, so the new root is
the guest's alone (`Paths.jail`), kept across execve, with Linux's checks and errors.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat

from loaders.image import PAGE
from syscalls.linux.fs_path import PATH_MAX, guest_path
from syscalls.registry import PARTIAL, syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import Errno

TYPE_CHECKING = False
if TYPE_CHECKING:
    from usermode.kernel.process import Process


def _source(p: Process, ptr: int) -> bytes | None:
    """A mount source: a path for bind mounts and block devices, any word for the rest
    ("none", "tmpfs"), so only an absolute name goes through the sysroot."""
    if not ptr:
        return None
    raw = p.mem.read_cstr(ptr, PATH_MAX)
    return p.paths.to_host(raw) if raw.startswith(b"/") else raw


@syscall("mount", args=("ptr", "path", "ptr", "ulong", "ptr"), support=PARTIAL,
         note="passed to the host; data is read as an option string")
def sys_mount(p: Process, source: int, target: int, fstype: int, flags: int, data: int) -> int:
    host_source = _source(p, source)
    host_target = guest_path(p, target)
    host_fstype = p.mem.read_cstr(fstype, PAGE) if fstype else None
    host_data = p.mem.read_cstr(data, PAGE) if data else None
    return hostsys.syscall(hostsys.NR["mount"], host_source, host_target, host_fstype, flags,
                           host_data)


@syscall("umount2", args=("path", "int"))
def sys_umount2(p: Process, target: int, flags: int) -> int:
    return hostsys.syscall(hostsys.NR["umount2"], guest_path(p, target), flags)


@syscall("umount", args=("path",))
def sys_umount(p: Process, target: int) -> int:
    return sys_umount2(p, target, 0)


CAP_SYS_CHROOT = 18
_CAP_V3 = 0x20080522


def _capable(cap: int) -> bool:
    """The host process (the guest) has `cap` in its effective set."""
    head = (ctypes.c_uint32 * 2)(_CAP_V3, 0)
    data = (ctypes.c_uint32 * 6)()  # {effective, permitted, inheritable} x 2
    hostsys.syscall(hostsys.NR["capget"], ctypes.addressof(head), ctypes.addressof(data))
    return bool(data[cap // 32 * 3] >> (cap % 32) & 1)


@syscall("chroot", args=("path",), support=PARTIAL,
         note="the guest's root only: its paths resolve inside; the emulator's do not move")
def sys_chroot(p: Process, path: int) -> int:
    target = guest_path(p, path)
    if not stat.S_ISDIR(os.stat(target).st_mode):  # ENOENT, ELOOP, EACCES on the way
        raise Errno(errno.ENOTDIR)
    if not os.access(target, os.X_OK, effective_ids=True):
        raise Errno(errno.EACCES)
    if not _capable(CAP_SYS_CHROOT):
        raise Errno(errno.EPERM)
    p.paths.jail = p.opts.chroot = os.fsencode(os.path.realpath(target))
    return 0
