"""getxattr, lgetxattr, fgetxattr, listxattr, llistxattr, flistxattr, setxattr, lsetxattr,
fsetxattr, removexattr, lremovexattr, fremovexattr: extended attributes.

Names and values are plain bytes on every arch, so the host kernel reads and writes the
guest's buffers in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from syscalls.linux.fs_path import PATH_MAX
from syscalls.registry import syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.memory import PROT_R, PROT_W

if TYPE_CHECKING:
    from usermode.kernel.process import Process

# host (x86_64) numbers
_GET, _LGET, _FGET, _LIST, _LLIST, _FLIST = 191, 192, 193, 194, 195, 196
_SET, _LSET, _FSET, _REMOVE, _LREMOVE, _FREMOVE = 188, 189, 190, 197, 198, 199
XATTR_NAME_MAX = 255


def _path(p: Process, ptr: int, follow: bool) -> bytes:
    return p.paths.to_host(p.mem.read_cstr(ptr, PATH_MAX), follow)


def _name(p: Process, ptr: int) -> bytes:
    return p.mem.read_cstr(ptr, XATTR_NAME_MAX + 1)


def _out(p: Process, buf: int, size: int) -> int:
    return p.mem.host_ptr(buf, size, PROT_W) if size else 0


@syscall("getxattr", args=("path", "str", "ptr", "size"))
def sys_getxattr(p: Process, path: int, name: int, value: int, size: int) -> int:
    return hostsys.syscall(_GET, _path(p, path, True), _name(p, name), _out(p, value, size), size)


@syscall("lgetxattr", args=("path", "str", "ptr", "size"))
def sys_lgetxattr(p: Process, path: int, name: int, value: int, size: int) -> int:
    return hostsys.syscall(_LGET, _path(p, path, False), _name(p, name), _out(p, value, size),
                           size)


@syscall("fgetxattr", args=("fd", "str", "ptr", "size"))
def sys_fgetxattr(p: Process, fd: int, name: int, value: int, size: int) -> int:
    return hostsys.syscall(_FGET, fd, _name(p, name), _out(p, value, size), size)


@syscall("listxattr", args=("path", "ptr", "size"))
def sys_listxattr(p: Process, path: int, lst: int, size: int) -> int:
    return hostsys.syscall(_LIST, _path(p, path, True), _out(p, lst, size), size)


@syscall("llistxattr", args=("path", "ptr", "size"))
def sys_llistxattr(p: Process, path: int, lst: int, size: int) -> int:
    return hostsys.syscall(_LLIST, _path(p, path, False), _out(p, lst, size), size)


@syscall("flistxattr", args=("fd", "ptr", "size"))
def sys_flistxattr(p: Process, fd: int, lst: int, size: int) -> int:
    return hostsys.syscall(_FLIST, fd, _out(p, lst, size), size)


def _in(p: Process, buf: int, size: int) -> int:
    return p.mem.host_ptr(buf, size, PROT_R) if size else 0


@syscall("setxattr", args=("path", "str", "ptr", "size", "int"))
def sys_setxattr(p: Process, path: int, name: int, value: int, size: int, flags: int) -> int:
    return hostsys.syscall(_SET, _path(p, path, True), _name(p, name), _in(p, value, size),
                           size, flags)


@syscall("lsetxattr", args=("path", "str", "ptr", "size", "int"))
def sys_lsetxattr(p: Process, path: int, name: int, value: int, size: int, flags: int) -> int:
    return hostsys.syscall(_LSET, _path(p, path, False), _name(p, name), _in(p, value, size),
                           size, flags)


@syscall("fsetxattr", args=("fd", "str", "ptr", "size", "int"))
def sys_fsetxattr(p: Process, fd: int, name: int, value: int, size: int, flags: int) -> int:
    return hostsys.syscall(_FSET, fd, _name(p, name), _in(p, value, size), size, flags)


@syscall("removexattr", args=("path", "str"))
def sys_removexattr(p: Process, path: int, name: int) -> int:
    return hostsys.syscall(_REMOVE, _path(p, path, True), _name(p, name))


@syscall("lremovexattr", args=("path", "str"))
def sys_lremovexattr(p: Process, path: int, name: int) -> int:
    return hostsys.syscall(_LREMOVE, _path(p, path, False), _name(p, name))


@syscall("fremovexattr", args=("fd", "str"))
def sys_fremovexattr(p: Process, fd: int, name: int) -> int:
    return hostsys.syscall(_FREMOVE, fd, _name(p, name))
