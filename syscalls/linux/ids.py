"""getpid, getppid, get[e]uid/get[e]gid, getgroups, getres[ug]id, getpgid/getpgrp/getsid,
setpgid/setsid: process identity. (Thread identity and exit live in thread.py.)"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from syscalls.registry import syscall

if TYPE_CHECKING:
    from usermode.process import Process


@syscall("getpid")
def sys_getpid(p: Process) -> int:
    return p.pid


@syscall("getppid")
def sys_getppid(p: Process) -> int:
    return os.getppid()


@syscall("getuid")
def sys_getuid(p: Process) -> int:
    return os.getuid()


@syscall("geteuid")
def sys_geteuid(p: Process) -> int:
    return os.geteuid()


@syscall("getgid")
def sys_getgid(p: Process) -> int:
    return os.getgid()


@syscall("getegid")
def sys_getegid(p: Process) -> int:
    return os.getegid()


@syscall("getgroups", args=("int", "ptr"))
def sys_getgroups(p: Process, size: int, lst: int) -> int:
    groups = os.getgroups()
    if size == 0:
        return len(groups)
    if size < len(groups):
        import errno

        from syscalls.errors import Errno

        raise Errno(errno.EINVAL)
    p.mem.write(lst, b"".join(g.to_bytes(4, p.abi.byteorder) for g in groups))
    return len(groups)


def _write_ids(p: Process, ptrs: tuple[int, int, int], ids: tuple[int, int, int]) -> int:
    for ptr, v in zip(ptrs, ids, strict=True):
        p.mem.write(ptr, v.to_bytes(4, p.abi.byteorder))
    return 0


@syscall("getresuid", args=("ptr", "ptr", "ptr"))
def sys_getresuid(p: Process, r: int, e: int, s: int) -> int:
    return _write_ids(p, (r, e, s), os.getresuid())


@syscall("getresgid", args=("ptr", "ptr", "ptr"))
def sys_getresgid(p: Process, r: int, e: int, s: int) -> int:
    return _write_ids(p, (r, e, s), os.getresgid())


@syscall("getpgid", args=("int",))
def sys_getpgid(p: Process, pid: int) -> int:
    return os.getpgid(pid)


@syscall("getpgrp")
def sys_getpgrp(p: Process) -> int:
    return os.getpgrp()


@syscall("getsid", args=("int",))
def sys_getsid(p: Process, pid: int) -> int:
    return os.getsid(pid)


@syscall("setpgid", args=("int", "int"))
def sys_setpgid(p: Process, pid: int, pgid: int) -> int:
    os.setpgid(pid, pgid)
    return 0


@syscall("setsid")
def sys_setsid(p: Process) -> int:
    return os.setsid()
