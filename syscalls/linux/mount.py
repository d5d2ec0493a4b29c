"""mount, umount2, umount: the host's mounts, as qemu-user passes them through.

Paths go through the sysroot overlay like any other path argument; mount flags are the same
on every arch. `data` is the filesystem's option string (at most a page, as the kernel copies
it). A mount changes the host process's view, which is the guest's: they are one process.
"""

from __future__ import annotations

from loaders.image import PAGE
from syscalls.linux.fs_path import PATH_MAX, guest_path
from syscalls.registry import PARTIAL, syscall
from usermode.host import syscalls as hostsys

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
