"""inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch: the host's inotify.

struct inotify_event and the event masks are the same on every arch, so the fd is the host's
and reads pass through (they wait like any other stream: the fd is an anonymous inode).
"""

from __future__ import annotations

import errno

from syscalls.linux.fs_path import guest_path
from syscalls.registry import syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import Errno

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process


@syscall("inotify_init1", args=("int:open_flags",), ret="fd")
def sys_inotify_init1(p: Process, flags: int) -> int:
    hflags = p.abi.from_guest_open_flags(flags)
    if p.abi.to_guest_open_flags(hflags) != flags:
        raise Errno(errno.EINVAL)
    return p.fds.adopt(hostsys.syscall(hostsys.NR["inotify_init1"], hflags),
                       None if p.abi.little_endian else "inotify")


@syscall("inotify_init", ret="fd")
def sys_inotify_init(p: Process) -> int:
    return sys_inotify_init1(p, 0)


IN_DONT_FOLLOW = 0x02000000


@syscall("inotify_add_watch", args=("fd", "path", "uint"))
def sys_inotify_add_watch(p: Process, fd: int, path: int, mask: int) -> int:
    host = guest_path(p, path, not mask & IN_DONT_FOLLOW)
    return hostsys.syscall(hostsys.NR["inotify_add_watch"], fd, host, mask)


@syscall("inotify_rm_watch", args=("fd", "int"))
def sys_inotify_rm_watch(p: Process, fd: int, wd: int) -> int:
    return hostsys.syscall(hostsys.NR["inotify_rm_watch"], fd, wd)
