"""rt_sigaction, rt_sigprocmask, rt_sigpending, rt_sigsuspend, pause, rt_sigreturn,
sigaltstack, kill, tkill, tgkill: signals. Delivery and frames are usermode/kernel/signals.py's."""

from __future__ import annotations

import errno
import os
import time

from syscalls.registry import PARTIAL, syscall
from usermode.host.lean import nullcontext
from usermode.host.lean import signal as host
from usermode.kernel import signals
from usermode.kernel.errors import TIMEOUT, Errno, Park
from usermode.uapi import (
    SI_TKILL,
    SI_USER,
    SIG_BLOCK,
    SIG_SETMASK,
    SIG_UNBLOCK,
    SIGKILL,
    SIGSTOP,
    SS_AUTODISARM,
    SS_DISABLE,
    SS_ONSTACK,
    UNBLOCKABLE,
)

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process
    from usermode.kernel.threads import Thread



@syscall("rt_sigaction", args=("int:signal", "ptr", "ptr", "size"), support=PARTIAL,
         note="handlers run on aarch64 and x86_64")
def sys_rt_sigaction(p: Process, sig: int, act: int, oact: int, setsize: int) -> int:
    if setsize != p.abi.sigset_size or not 1 <= sig <= 64:
        raise Errno(errno.EINVAL)
    new = p.mem.read(act, p.abi.sigaction.size) if act else None
    if new is not None and sig in (SIGKILL, SIGSTOP):
        raise Errno(errno.EINVAL)
    if oact:
        p.mem.write(oact, p.sigactions.get(sig, signals.DEFAULT).to_guest(p))
    if new is not None:
        p.sigactions[sig] = signals.Action.from_guest(p, new)
        signals.mirror_disposition(p, sig)
    return 0


@syscall("rt_sigprocmask", args=("int:sighow", "ptr", "ptr", "size"), support=PARTIAL,
         note="mask recorded")
def sys_rt_sigprocmask(p: Process, how: int, set_ptr: int, oset: int, setsize: int) -> int:
    if setsize != p.abi.sigset_size:
        raise Errno(errno.EINVAL)
    new = p.abi.from_guest_sigset(p.mem.read(set_ptr, setsize)) if set_ptr else None
    if new is not None and how not in (SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK):
        raise Errno(errno.EINVAL)
    if oset:
        p.mem.write(oset, p.abi.to_guest_sigset(p.thread.sigmask))
    if new is not None:
        t = p.thread
        before = t.sigmask
        if how == SIG_BLOCK:
            t.sigmask |= new
        elif how == SIG_UNBLOCK:
            t.sigmask &= ~new
        else:
            t.sigmask = new
        t.sigmask &= ~UNBLOCKABLE
        if t.sigmask != before:
            signals.mask_changed(p, before, t.sigmask)
        return check_delivery(p)
    return 0


@syscall("sigaltstack", args=("ptr", "ptr"), support=PARTIAL, note="recorded")
def sys_sigaltstack(p: Process, ss: int, old: int) -> int:
    new = p.abi.from_guest_stack_t(p.mem.read(ss, p.abi.stack_t.size)) if ss else None
    if new is not None:  # ss may equal old: checked before anything is written
        _sp, flags, size = new
        if flags & ~SS_AUTODISARM not in (0, SS_ONSTACK, SS_DISABLE):
            raise Errno(errno.EINVAL)
        if not flags & SS_DISABLE and size < p.arch.MINSIGSTKSZ:
            raise Errno(errno.ENOMEM)
    if old:
        p.mem.write(old, p.abi.to_guest_stack_t(*p.thread.altstack or (0, SS_DISABLE, 0)))
    if new is not None:
        p.thread.altstack = new
    return 0


def check_delivery(p: Process) -> int:
    """Return 0, but first leave the hook if a signal became deliverable to the caller, so
    the run loop delivers it before the next guest instruction (as Linux does on return
    from the syscall)."""
    if signals.deliverable(p.thread):
        raise Park.outside(lambda: 0)
    return 0


def _send(p: Process, t: Thread, sig: int, code: int) -> int:
    if sig == 0:
        return 0
    if not 1 <= sig <= 64:
        raise Errno(errno.EINVAL)
    signals.queue(p, t, sig, signals.siginfo(p, sig, code, pid=p.pid, uid=os.getuid()))
    return check_delivery(p) if t is p.thread else 0


def target_for_process(p: Process, sig: int) -> Thread:
    """A process-directed signal goes to a thread that does not block it (the caller if
    it can take it), as Linux picks one."""
    cur = p.thread
    if not cur.sigmask & signals.bit(sig):
        return cur
    for t in p.sched.threads.values():
        if not t.sigmask & signals.bit(sig):
            return t
    return cur


@syscall("kill", args=("int", "int:signal"), support=PARTIAL,
         note="our process (queued, delivered to a handler); others through the host")
def sys_kill(p: Process, pid: int, sig: int) -> int:
    if pid in (p.pid, 0):  # process group 0: the others of the group get it from the host
        if pid == 0 and sig:
            _signal_group_others(p, sig)
        return _send(p, target_for_process(p, sig), sig, SI_USER)
    if not 0 <= sig <= 64:
        raise Errno(errno.EINVAL)
    os.kill(pid, sig)
    return 0


def _signal_group_others(p: Process, sig: int) -> None:
    """kill(0, sig): every other process of our group, through the host."""
    sfd = p.sched.watchdog.sigfd
    lock = sfd.lock if sfd is not None else nullcontext()
    old = host.pthread_sigmask(host.SIG_BLOCK, [sig])
    try:
        with lock:  # the watchdog's signalfd read must not take our own copy first
            os.killpg(os.getpgrp(), sig)
            host.sigtimedwait([sig], 0)  # our own copy: delivered as a guest signal
    finally:
        host.pthread_sigmask(host.SIG_SETMASK, old)


@syscall("tkill", args=("int", "int:signal"), support=PARTIAL, note="our own threads")
def sys_tkill(p: Process, tid: int, sig: int) -> int:
    if tid <= 0:
        raise Errno(errno.EINVAL)
    t = p.sched.threads.get(tid)
    if t is None:
        raise Errno(errno.ESRCH)
    return _send(p, t, sig, SI_TKILL)


@syscall("tgkill", args=("int", "int", "int:signal"), support=PARTIAL, note="our own threads")
def sys_tgkill(p: Process, tgid: int, tid: int, sig: int) -> int:
    if tgid <= 0 or tid <= 0:
        raise Errno(errno.EINVAL)
    t = p.sched.threads.get(tid)
    if tgid != p.pid or t is None:
        raise Errno(errno.ESRCH)
    return _send(p, t, sig, SI_TKILL)


@syscall("rt_sigreturn", support=PARTIAL, note="aarch64, x86_64, riscv64 and arm frames")
def sys_rt_sigreturn(p: Process) -> int:
    return _sigreturn(p, old=False)


@syscall("sigreturn", support=PARTIAL, note="arm's non-SA_SIGINFO frame")
def sys_sigreturn(p: Process) -> int:
    return _sigreturn(p, old=True)


def _sigreturn(p: Process, old: bool) -> int:
    def restore() -> int:
        before = p.thread.sigmask
        r = signals.sigreturn(p, old)
        if p.thread.sigmask != before:
            signals.mask_changed(p, before, p.thread.sigmask)
        return r

    raise Park.outside(restore)


@syscall("rt_sigpending", args=("ptr", "size"))
def sys_rt_sigpending(p: Process, set_ptr: int, size: int) -> int:
    if size > p.abi.sigset_size:
        raise Errno(errno.EINVAL)
    p.mem.write(set_ptr, p.abi.to_guest_sigset(signals.pending_mask(p.thread))[:size])
    return 0


def _wait_for_signal(p: Process, temp_mask: int | None) -> int:
    t = p.thread
    old = t.sigmask
    if temp_mask is not None:
        t.sigmask = temp_mask & ~UNBLOCKABLE

    def resumed(_reason: int) -> int:
        if temp_mask is not None:
            t.restore_mask = old  # the handler's frame keeps the caller's own mask
        raise Errno(errno.EINTR)

    if signals.deliverable(t):
        # a signal already pending: finish outside the syscall hook, so the scheduler
        # delivers it (under the temporary mask) before the guest runs on
        raise Park.outside(lambda: resumed(0))
    raise Park(resumed, forever=True, own_eintr=True)


@syscall("rt_sigsuspend", args=("ptr", "size"))
def sys_rt_sigsuspend(p: Process, mask_ptr: int, size: int) -> int:
    if size != p.abi.sigset_size:
        raise Errno(errno.EINVAL)
    return _wait_for_signal(p, p.abi.from_guest_sigset(p.mem.read(mask_ptr, size)))


@syscall("pause")
def sys_pause(p: Process) -> int:
    return _wait_for_signal(p, None)


# ---- timers that send signals: the host's own, so the host signal reaches us as the guest's
def _itimerval(p: Process, interval: float, value: float) -> bytes:
    def tv(sec: float) -> tuple[int, int]:
        us = round(sec * 1_000_000)
        return us // 1_000_000, us % 1_000_000

    return p.abi.timeval.pack(*tv(interval)) + p.abi.timeval.pack(*tv(value))


@syscall("setitimer", args=("int", "ptr", "ptr"), support=PARTIAL,
         note="the host's ITIMER_REAL/VIRTUAL/PROF (virtual and prof count our CPU time)")
def sys_setitimer(p: Process, which: int, new: int, old: int) -> int:
    if which not in (0, 1, 2):
        raise Errno(errno.EINVAL)
    tv = p.abi.timeval
    raw = p.mem.read(new, 2 * tv.size) if new else bytes(2 * tv.size)
    isec, iusec = tv.unpack(raw[:tv.size])
    vsec, vusec = tv.unpack(raw[tv.size:])
    if not 0 <= iusec < 1_000_000 or not 0 <= vusec < 1_000_000:
        raise Errno(errno.EINVAL)
    prev = host.setitimer(which, vsec + vusec / 1e6, isec + iusec / 1e6)
    if old:
        p.mem.write(old, _itimerval(p, prev[1], prev[0]))
    return 0


@syscall("getitimer", args=("int", "ptr"))
def sys_getitimer(p: Process, which: int, cur: int) -> int:
    if which not in (0, 1, 2):
        raise Errno(errno.EINVAL)
    value, interval = host.getitimer(which)
    p.mem.write(cur, _itimerval(p, interval, value))
    return 0


@syscall("alarm", args=("uint",))
def sys_alarm(p: Process, seconds: int) -> int:
    prev = host.setitimer(host.ITIMER_REAL, float(seconds), 0.0)[0]
    return int(prev + 0.999999) if prev else 0


@syscall("rt_sigtimedwait", args=("ptr", "ptr", "ptr", "size"))
def sys_rt_sigtimedwait(p: Process, set_ptr: int, info_ptr: int, ts_ptr: int,
                        size: int) -> int:
    from syscalls.linux.poll import deadline_from_timespec

    if size != p.abi.sigset_size:
        raise Errno(errno.EINVAL)
    want = p.abi.from_guest_sigset(p.mem.read(set_ptr, size)) & ~UNBLOCKABLE
    t = p.thread

    def take() -> int:
        for signo in sorted(t.pending):
            if want & signals.bit(signo):
                info = signals.take(p, t, signo)
                if info_ptr:
                    p.mem.write(info_ptr, info)
                return p.abi.sig_to_guest(signo)
        return 0

    got = take()
    if got:
        return got
    deadline = deadline_from_timespec(p, ts_ptr)
    if deadline is not None and deadline <= time.monotonic_ns():
        raise Errno(errno.EAGAIN)
    t.sigwait = want

    def resumed(reason: int) -> int:
        t.sigwait = 0
        got = take()
        if got:
            return got
        raise Errno(errno.EAGAIN if reason == TIMEOUT else errno.EINTR)

    raise Park(resumed, deadline=deadline, forever=True, own_eintr=True)

