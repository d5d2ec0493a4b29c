"""The 32-bit ABIs' own entry points (arm EABI, i386, mips o32): the *32 uid calls, the
*64 file calls, mmap2 (offset in 4096-byte units), _llseek (a 64-bit offset in two words,
the result stored through a pointer). Most are the 64-bit ABIs' handlers under another name;
the ABI layer already gives them the 32-bit layouts (stat64 on arm, 32-bit iovecs, ...)."""

from __future__ import annotations

import errno
import os

from syscalls.linux import (  # noqa: F401  (rows aliased below)
    epoll,
    fs_fd,
    fs_path,
    fs_stat,
    futex,
    ids,
    info,
    mqueue,
    poll,
    signal,
    socket,
    sysvipc,
    time,
    timers,
)
from syscalls.linux.mm import sys_mmap
from syscalls.registry import PARTIAL, ROWS, SIGNED32, alias, syscall
from usermode.kernel.errors import Errno, Park
from usermode.uapi import F_GETLK

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable

    from syscalls.registry import Handler
    from usermode.kernel.process import Process

MMAP2_UNIT = 4096  # not the page size: the unit is fixed (docs/abi.md §2)

for _name in ("getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid",
              "getresgid", "setuid", "setgid", "setreuid", "setregid", "setresuid",
              "setresgid", "setgroups", "chown", "fchown", "lchown", "setfsuid", "setfsgid"):
    if _name in ROWS:
        alias(f"{_name}32", _name)
alias("fstatat64", "newfstatat")
alias("_newselect", "select")
alias("ftruncate64", "ftruncate", ("fd", "off64"))
alias("truncate64", "truncate", ("path", "off64"))


def _time64(fn: Handler) -> Handler:
    """A *_time64 variant: the same handler, with 64-bit timespecs in guest memory, also in
    the retry of a call that parks (a sleep writing its remaining time after EINTR)."""
    def wide(p: Process, *args: int) -> int:
        return _in_time64(p, lambda: fn(p, *args))

    return wide


def _in_time64(p: Process, call: Callable[[], int]) -> int:
    abi = p.abi
    p.abi = p.abi_time64
    try:
        return call()
    except Park as park:
        retry = park.retry
        park.retry = lambda reason: _in_time64(p, lambda: retry(reason))
        raise
    finally:
        p.abi = abi


for _name, _target in (("clock_gettime64", "clock_gettime"), ("clock_settime64", "clock_settime"),
                       ("clock_getres_time64", "clock_getres"),
                       ("clock_nanosleep_time64", "clock_nanosleep"),
                       ("futex_time64", "futex"), ("ppoll_time64", "ppoll"),
                       ("pselect6_time64", "pselect6"), ("utimensat_time64", "utimensat"),
                       ("timerfd_settime64", "timerfd_settime"),
                       ("timerfd_gettime64", "timerfd_gettime"),
                       ("rt_sigtimedwait_time64", "rt_sigtimedwait"),
                       ("recvmmsg_time64", "recvmmsg"), ("semtimedop_time64", "semtimedop"),
                       ("sched_rr_get_interval_time64", "sched_rr_get_interval"),
                       ("timer_settime64", "timer_settime"),
                       ("timer_gettime64", "timer_gettime"),
                       ("mq_timedsend_time64", "mq_timedsend"),
                       ("mq_timedreceive_time64", "mq_timedreceive")):
    if _target in ROWS:
        alias(_name, _target, wrap=_time64)


F_GETLK64, F_SETLK64, F_SETLKW64 = 12, 13, 14  # arm, i386 (mips: 33-35)


@syscall("fcntl64", args=("fd", "int:fcntl_cmd", "ulong"))
def sys_fcntl64(p: Process, fd: int, cmd: int, arg: int) -> int:
    if cmd in (F_GETLK64, F_SETLK64, F_SETLKW64):
        return fs_fd.fcntl_cmd(p, fd, cmd - F_GETLK64 + F_GETLK, arg, lk64=True)
    return fs_fd.fcntl_cmd(p, fd, cmd, arg, lk64=False)


@syscall("send", args=("fd", "ptr", "size", "int:msg_flags"))
def sys_send(p: Process, fd: int, buf: int, n: int, flags: int) -> int:
    return socket.sys_sendto(p, fd, buf, n, flags, 0, 0)


@syscall("recv", args=("fd", "ptr", "size", "int:msg_flags"))
def sys_recv(p: Process, fd: int, buf: int, n: int, flags: int) -> int:
    return socket.sys_recvfrom(p, fd, buf, n, flags, 0, 0)


# socketcall(call, args): i386's (and mips o32's) one entry for the socket calls
_SOCKETCALL = {1: "socket", 2: "bind", 3: "connect", 4: "listen", 5: "accept",
               6: "getsockname", 7: "getpeername", 8: "socketpair", 9: "send", 10: "recv",
               11: "sendto", 12: "recvfrom", 13: "shutdown", 14: "setsockopt",
               15: "getsockopt", 16: "sendmsg", 17: "recvmsg", 18: "accept4", 19: "recvmmsg",
               20: "sendmmsg"}


@syscall("socketcall", args=("int", "ptr"), support=PARTIAL, note="calls 1-20")
def sys_socketcall(p: Process, call: int, args: int) -> int:
    name = _SOCKETCALL.get(call)
    row = ROWS.get(name or "")
    if row is None or row.handler is None:
        raise Errno(errno.EINVAL)
    words = p.abi.unpack_words(p.mem.read(args, len(row.args) * p.abi.wordsize))
    vals = []
    for kind, v in zip(row.base_kinds, words, strict=True):
        if kind in SIGNED32:
            v = p.abi.s32(v)
            if kind == "fd" and v < 0:
                raise Errno(errno.EBADF)
        vals.append(v)
    return row.handler(p, *vals)


@syscall("mmap2", args=("ptr", "size", "int:prot", "int:map_flags", "int:fd", "ulong"),
         ret="ptr")
def sys_mmap2(p: Process, addr: int, length: int, prot: int, flags: int, fd: int,
              pgoff: int) -> int:
    return sys_mmap(p, addr, length, prot, flags, fd, pgoff * MMAP2_UNIT)


@syscall("old_mmap", args=("ptr",), ret="ptr")
def sys_old_mmap(p: Process, args: int) -> int:
    """i386's and s390x's mmap (90): the six arguments in a struct of words, the offset in
    bytes."""
    addr, length, prot, flags, fd, off = p.abi.unpack_words(p.mem.read(args,
                                                                       6 * p.abi.wordsize))
    return sys_mmap(p, addr, length, prot, flags, p.abi.s32(fd), off)


@syscall("old_select", args=("ptr",))
def sys_old_select(p: Process, args: int) -> int:
    """i386's select (82): n and the four pointers in a struct."""
    n, rd, wr, ex, tv = p.abi.unpack_words(p.mem.read(args, 5 * 4))
    return poll.sys_select(p, p.abi.s32(n), rd, wr, ex, tv)


@syscall("_llseek", args=("fd", "ulong", "ulong", "ptr", "int:whence"))
def sys_llseek(p: Process, fd: int, hi: int, lo: int, result: int, whence: int) -> int:
    if whence not in (0, 1, 2, 3, 4):
        raise Errno(errno.EINVAL)
    off = (hi & 0xFFFFFFFF) << 32 | (lo & 0xFFFFFFFF)
    if off >> 63:
        off -= 1 << 64
    pos = os.lseek(fd, off, whence)
    p.mem.write(result, pos.to_bytes(8, p.abi.byteorder, signed=True))
    return 0
