"""getxattr, lgetxattr, fgetxattr, listxattr, llistxattr, flistxattr, setxattr, lsetxattr,
fsetxattr, removexattr, lremovexattr, fremovexattr: extended attributes.

Names and values are plain bytes on every arch: the host kernel reads the guest's buffers in
place; what it returns comes through a buffer of ours, so that a bad guest buffer is found
last, as Linux finds it.
"""

from __future__ import annotations

import ctypes
import errno

from syscalls.linux.fs_path import PATH_MAX
from syscalls.registry import syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import Errno
from usermode.kernel.memory import PROT_R

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable

    from usermode.kernel.process import Process

_GET, _LGET, _FGET = hostsys.NR["getxattr"], hostsys.NR["lgetxattr"], hostsys.NR["fgetxattr"]
_LIST, _LLIST, _FLIST = (hostsys.NR["listxattr"], hostsys.NR["llistxattr"],
                         hostsys.NR["flistxattr"])
_SET, _LSET, _FSET = hostsys.NR["setxattr"], hostsys.NR["lsetxattr"], hostsys.NR["fsetxattr"]
_REMOVE, _LREMOVE, _FREMOVE = (hostsys.NR["removexattr"], hostsys.NR["lremovexattr"],
                               hostsys.NR["fremovexattr"])
XATTR_NAME_MAX = 255
XATTR_SIZE_MAX = XATTR_LIST_MAX = 65536


def _path(p: Process, ptr: int, follow: bool) -> bytes:
    return p.paths.to_host(p.mem.read_cstr(ptr, PATH_MAX), follow)


def _name(p: Process, ptr: int) -> bytes:
    """The attribute's name, read first: empty or longer than 255 bytes is ERANGE."""
    try:
        name = p.mem.read_cstr(ptr, XATTR_NAME_MAX + 1)
    except Errno as e:
        if e.errno == errno.ENAMETOOLONG:
            raise Errno(errno.ERANGE) from None
        raise
    if not name:
        raise Errno(errno.ERANGE)
    return name


def _fetch(p: Process, buf: int, size: int, limit: int, call: Callable[[int, int], int]) -> int:
    """Run `call(host buffer, size)` into a buffer of ours, then copy what it returned to the
    guest: as in Linux, a bad buffer is found last (EFAULT), after the name, the file and
    the attribute (ENOENT, ENODATA, ERANGE...)."""
    if not size:
        return call(0, 0)
    tmp = ctypes.create_string_buffer(min(size, limit))
    n = call(ctypes.addressof(tmp), len(tmp))
    if n > 0:
        p.mem.write(buf, tmp.raw[:n])
    return n


@syscall("getxattr", args=("path", "str", "ptr", "size"))
def sys_getxattr(p: Process, path: int, name: int, value: int, size: int) -> int:
    key = _name(p, name)
    host = _path(p, path, True)
    return _fetch(p, value, size, XATTR_SIZE_MAX,
                  lambda buf, n: hostsys.syscall(_GET, host, key, buf, n))


@syscall("lgetxattr", args=("path", "str", "ptr", "size"))
def sys_lgetxattr(p: Process, path: int, name: int, value: int, size: int) -> int:
    key = _name(p, name)
    host = _path(p, path, False)
    return _fetch(p, value, size, XATTR_SIZE_MAX,
                  lambda buf, n: hostsys.syscall(_LGET, host, key, buf, n))


@syscall("fgetxattr", args=("fd", "str", "ptr", "size"))
def sys_fgetxattr(p: Process, fd: int, name: int, value: int, size: int) -> int:
    key = _name(p, name)
    return _fetch(p, value, size, XATTR_SIZE_MAX,
                  lambda buf, n: hostsys.syscall(_FGET, fd, key, buf, n))


@syscall("listxattr", args=("path", "ptr", "size"))
def sys_listxattr(p: Process, path: int, lst: int, size: int) -> int:
    host = _path(p, path, True)
    return _fetch(p, lst, size, XATTR_LIST_MAX,
                  lambda buf, n: hostsys.syscall(_LIST, host, buf, n))


@syscall("llistxattr", args=("path", "ptr", "size"))
def sys_llistxattr(p: Process, path: int, lst: int, size: int) -> int:
    host = _path(p, path, False)
    return _fetch(p, lst, size, XATTR_LIST_MAX,
                  lambda buf, n: hostsys.syscall(_LLIST, host, buf, n))


@syscall("flistxattr", args=("fd", "ptr", "size"))
def sys_flistxattr(p: Process, fd: int, lst: int, size: int) -> int:
    return _fetch(p, lst, size, XATTR_LIST_MAX,
                  lambda buf, n: hostsys.syscall(_FLIST, fd, buf, n))


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
