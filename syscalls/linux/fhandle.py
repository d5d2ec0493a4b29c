"""name_to_handle_at, open_by_handle_at: file handles.

`struct file_handle` (u32 handle_bytes, int handle_type, then the handle) has one layout on
every arch, so the host kernel reads and writes the guest's own struct in place (a
big-endian guest's header is turned around before and after); a guest pointer we cannot
translate becomes one the host refuses, so EFAULT comes in Linux's order.
"""

from __future__ import annotations

import ctypes
import errno

from syscalls.linux.fs_path import AT_SYMLINK_FOLLOW, PATH_MAX
from syscalls.registry import syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import Errno
from usermode.kernel.memory import PROT_R, PROT_W

TYPE_CHECKING = False
if TYPE_CHECKING:
    from usermode.kernel.process import Process

MAX_HANDLE_SZ = 128
_UNUSABLE = 1 << 63  # a non-canonical address: the host answers EFAULT for it


def _host_ptr(p: Process, addr: int, n: int, need: int) -> int:
    try:
        return p.mem.host_ptr(addr, n, need)
    except Errno:
        return _UNUSABLE


def _handle_size(p: Process, handle: int) -> int:
    """The struct's whole size as the guest declares it (its header when unreadable or too
    big: the host then fails it as Linux does)."""
    try:
        declared = int.from_bytes(p.mem.read(handle, 4), p.abi.byteorder)
    except Errno:
        return 8
    return 8 + declared if declared <= MAX_HANDLE_SZ else 8


@syscall("name_to_handle_at", args=("fd:dirfd", "ptr", "ptr", "ptr", "int"))
def sys_name_to_handle_at(p: Process, dfd: int, path: int, handle: int, mount_id: int,
                          flags: int) -> int:
    try:
        raw = p.mem.read_cstr(path, PATH_MAX)
    except Errno:
        host_path: bytes | int = _UNUSABLE
    else:
        host_path = p.paths.to_host(raw, bool(flags & AT_SYMLINK_FOLLOW)) if raw else raw
    ptr = _host_ptr(p, handle, _handle_size(p, handle), PROT_R | PROT_W)
    big = ptr != _UNUSABLE and not p.abi.little_endian
    if big:
        _flip_header(p, handle)
    try:
        return hostsys.syscall(hostsys.NR["name_to_handle_at"], dfd, host_path, ptr,
                               _host_ptr(p, mount_id, 4, PROT_W), flags)
    finally:
        if big:
            _flip_header(p, handle)
            if mount_id:
                try:
                    _flip(p, mount_id)
                except Errno:
                    pass


def _flip(p: Process, addr: int) -> None:
    p.mem.write(addr, p.mem.read(addr, 4)[::-1])


def _flip_header(p: Process, handle: int) -> None:
    """handle_bytes and handle_type between the guest's byte order and the host's."""
    _flip(p, handle)
    _flip(p, handle + 4)


@syscall("open_by_handle_at", args=("fd:dirfd", "ptr", "int:open_flags"), ret="fd")
def sys_open_by_handle_at(p: Process, mount_fd: int, handle: int, flags: int) -> int:
    if mount_fd < 0 and mount_fd != -100:  # AT_FDCWD names the cwd's mount
        raise Errno(errno.EBADF)
    ptr = _host_ptr(p, handle, _handle_size(p, handle), PROT_R)
    if ptr != _UNUSABLE and not p.abi.little_endian:  # a copy with the header turned around
        raw = p.mem.read(handle, _handle_size(p, handle))
        copy = ctypes.create_string_buffer(raw[3::-1] + raw[7:3:-1] + raw[8:], len(raw))
        ptr = ctypes.addressof(copy)
    fd = hostsys.syscall(hostsys.NR["open_by_handle_at"], mount_fd, ptr,
                         p.abi.from_guest_open_flags(flags))
    p.fds.forget(fd)
    return fd
