"""rt_sigaction, rt_sigprocmask, sigaltstack, kill, tkill, tgkill: signal bookkeeping.

Until the signals issue lands, handlers are recorded but never run; a signal sent to
ourselves whose disposition is the default ends the process with that signal, as Linux
does, and an ignored one is dropped.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from syscalls.errors import Errno
from syscalls.registry import PARTIAL, syscall

if TYPE_CHECKING:
    from usermode.process import Process

SIGKILL, SIGSTOP = 9, 19
SIG_DFL, SIG_IGN = 0, 1
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SIGACTION_SIZE = 32  # kernel struct sigaction on x86_64/aarch64: handler, flags, restorer, mask
# Signals whose default action is to ignore (SIGCHLD, SIGCONT, SIGURG, SIGWINCH).
DEFAULT_IGNORE = frozenset({17, 18, 23, 28})


@syscall("rt_sigaction", args=("int:signal", "ptr", "ptr", "size"), support=PARTIAL,
         note="recorded; delivery arrives with the signals issue")
def sys_rt_sigaction(p: Process, sig: int, act: int, oact: int, setsize: int) -> int:
    if setsize != 8 or not 1 <= sig <= 64:
        raise Errno(errno.EINVAL)
    new = p.mem.read(act, SIGACTION_SIZE) if act else None
    if new is not None and sig in (SIGKILL, SIGSTOP):
        raise Errno(errno.EINVAL)
    if oact:
        p.mem.write(oact, p.sigactions.get(sig, bytes(SIGACTION_SIZE)))
    if new is not None:
        p.sigactions[sig] = new
    return 0


@syscall("rt_sigprocmask", args=("int:sighow", "ptr", "ptr", "size"), support=PARTIAL,
         note="mask recorded")
def sys_rt_sigprocmask(p: Process, how: int, set_ptr: int, oset: int, setsize: int) -> int:
    if setsize != 8:
        raise Errno(errno.EINVAL)
    new = int.from_bytes(p.mem.read(set_ptr, 8), p.abi.byteorder) if set_ptr else None
    if new is not None and how not in (SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK):
        raise Errno(errno.EINVAL)
    if oset:
        p.mem.write(oset, p.thread.sigmask.to_bytes(8, p.abi.byteorder))
    if new is not None:
        if how == SIG_BLOCK:
            p.thread.sigmask |= new
        elif how == SIG_UNBLOCK:
            p.thread.sigmask &= ~new
        else:
            p.thread.sigmask = new
        p.thread.sigmask &= ~((1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)))
    return 0


@syscall("sigaltstack", args=("ptr", "ptr"), support=PARTIAL, note="recorded")
def sys_sigaltstack(p: Process, ss: int, old: int) -> int:
    size = 3 * p.abi.wordsize
    new = p.mem.read(ss, size) if ss else None  # read before writing: ss may equal old
    if old:
        disabled = b"\0" * p.abi.wordsize + (2).to_bytes(4, p.abi.byteorder)  # SS_DISABLE
        p.mem.write(old, p.thread.altstack or disabled.ljust(size, b"\0"))
    if new is not None:
        p.thread.altstack = new
    return 0


def _send_self(p: Process, sig: int) -> int:
    if sig == 0:
        return 0
    if not 1 <= sig <= 64:
        raise Errno(errno.EINVAL)
    act = p.sigactions.get(sig)
    handler = int.from_bytes(act[:8], p.abi.byteorder) if act else SIG_DFL
    if handler == SIG_IGN or (handler == SIG_DFL and sig in DEFAULT_IGNORE):
        return 0
    if handler == SIG_DFL and sig not in (SIGSTOP, 20, 21, 22):
        p.die_by_signal(sig)
    return 0  # a guest handler or a stop signal: delivery comes with the signals issue


@syscall("kill", args=("int", "int:signal"), support=PARTIAL, note="to ourselves only")
def sys_kill(p: Process, pid: int, sig: int) -> int:
    if pid == -1:  # every process we may signal except ourselves, as Linux does
        import os

        os.kill(-1, sig)
        return 0
    if pid in (p.pid, 0):  # process group 0: only ourselves until processes land (issue 5)
        return _send_self(p, sig)
    import os

    os.kill(pid, sig)
    return 0


@syscall("tkill", args=("int", "int:signal"), support=PARTIAL,
         note="our own threads; handlers run with the signals issue")
def sys_tkill(p: Process, tid: int, sig: int) -> int:
    if tid <= 0:
        raise Errno(errno.EINVAL)
    if tid not in p.sched.threads:
        raise Errno(errno.ESRCH)
    return _send_self(p, sig)


@syscall("tgkill", args=("int", "int", "int:signal"), support=PARTIAL,
         note="our own threads; handlers run with the signals issue")
def sys_tgkill(p: Process, tgid: int, tid: int, sig: int) -> int:
    if tgid <= 0 or tid <= 0:
        raise Errno(errno.EINVAL)
    if tgid != p.pid or tid not in p.sched.threads:
        raise Errno(errno.ESRCH)
    return _send_self(p, sig)
