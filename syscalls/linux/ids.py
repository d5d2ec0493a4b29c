"""getpid, getppid, get[e]uid/get[e]gid, getgroups, getres[ug]id, getpgid/getpgrp/getsid,
setpgid/setsid, the set*id calls and setgroups: process identity. (Thread identity and exit
live in thread.py.) An id of -1 means "unchanged" where Linux says so; the host's libc
applies a change to every host thread, as the guest's libc does for its threads."""

from __future__ import annotations

import os

from syscalls.registry import syscall
from usermode.host import syscalls as hostsys
from usermode.host.syscalls import NR

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process


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

        from usermode.kernel.errors import Errno

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
    os.setsid()
    return os.getsid(0)  # the new session's id (the caller's pid)


NGROUPS_MAX = 65536


@syscall("setuid", args=("int",))
def sys_setuid(p: Process, uid: int) -> int:
    os.setuid(uid)
    return 0


@syscall("setgid", args=("int",))
def sys_setgid(p: Process, gid: int) -> int:
    os.setgid(gid)
    return 0


@syscall("setreuid", args=("int", "int"))
def sys_setreuid(p: Process, ruid: int, euid: int) -> int:
    os.setreuid(ruid, euid)
    return 0


@syscall("setregid", args=("int", "int"))
def sys_setregid(p: Process, rgid: int, egid: int) -> int:
    os.setregid(rgid, egid)
    return 0


@syscall("setresuid", args=("int", "int", "int"))
def sys_setresuid(p: Process, r: int, e: int, s: int) -> int:
    os.setresuid(r, e, s)
    return 0


@syscall("setresgid", args=("int", "int", "int"))
def sys_setresgid(p: Process, r: int, e: int, s: int) -> int:
    os.setresgid(r, e, s)
    return 0


@syscall("setfsuid", args=("uint",))
def sys_setfsuid(p: Process, uid: int) -> int:
    return hostsys.syscall(NR["setfsuid"], uid)  # the previous fsuid, never an error


@syscall("setfsgid", args=("uint",))
def sys_setfsgid(p: Process, gid: int) -> int:
    return hostsys.syscall(NR["setfsgid"], gid)


@syscall("setgroups", args=("int", "ptr"))
def sys_setgroups(p: Process, size: int, lst: int) -> int:
    if size < 0 or size > NGROUPS_MAX:
        import errno

        from usermode.kernel.errors import Errno

        raise Errno(errno.EINVAL)
    raw = p.mem.read(lst, 4 * size) if size else b""
    os.setgroups([int.from_bytes(raw[i:i + 4], p.abi.byteorder) for i in range(0, len(raw), 4)])
    return 0
