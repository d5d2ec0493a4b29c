"""Guest signal delivery: pending sets, default actions, and the per-arch signal frames.

A signal is queued on a guest thread (`queue`) and delivered by the scheduler just before
that thread's registers go back to the CPU (`deliver`): after a syscall that stopped the
engine, a park, a preemption or a fault. Delivery builds the frame the guest's libc
expects (siginfo + ucontext with the arch's mcontext, so handlers can read and change
registers) and enters the handler, which returns through the guest's sa_restorer or, on
aarch64 without one, our own trampoline. rt_sigreturn restores the registers from the frame
(honouring changes the handler made) and the FP/SIMD state from a snapshot taken at
delivery (the frame's FP record is present but zero).
"""

from __future__ import annotations

import os

from usermode.arch.sigframe import FrameError
from usermode.host.lean import signal as host
from usermode.host.signals import VIA_FD
from usermode.kernel.errors import Errno
from usermode.kernel.fatal import die, stop
from usermode.uapi import (
    CLD_CONTINUED,
    CLD_DUMPED,
    CLD_KILLED,
    CLD_STOPPED,
    CLD_TRAPPED,
    DEFAULT_IGNORE,
    DEFAULT_STOP,
    FAULT_SIGNALS,
    POLL_HUP,
    POLL_IN,
    SA_NOCLDSTOP,
    SA_NODEFER,
    SA_RESETHAND,
    SA_RESTART,
    SI_ASYNCIO,
    SI_QUEUE,
    SI_USER,
    SIG_DFL,
    SIG_IGN,
    SIGCHLD,
    SIGCONT,
    SIGKILL,
    SIGPIPE,
    SIGRTMIN,
    SIGSEGV,
    SIGSTOP,
    UNBLOCKABLE,
)

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Iterable

    from usermode.kernel.process import Process
    from usermode.kernel.threads import Thread

def bit(signo: int) -> int:
    return 1 << (signo - 1)


def siginfo(p: Process, signo: int, code: int, *, pid: int = 0, uid: int = 0,
            addr: int | None = None, status: int | None = None,
            value: int | None = None, band_fd: tuple[int, int] | None = None) -> bytes:
    bo = p.abi.byteorder
    info = bytearray(128)
    info[0:4] = p.abi.sig_to_guest(signo).to_bytes(4, bo)
    c = p.abi.siginfo_code_errno[0]  # si_code (si_errno is 0)
    info[c:c + 4] = p.abi.si_codes.get(code, code).to_bytes(4, bo, signed=True)
    u = 16 if p.abi.wordsize == 8 else 12  # the union follows signo, errno, code
    if addr is not None:
        info[u:u + p.abi.wordsize] = addr.to_bytes(p.abi.wordsize, bo)
    elif band_fd is not None:  # an I/O signal: si_band (a long), then si_fd
        ws = p.abi.wordsize
        info[u:u + ws] = (band_fd[0] & ((1 << 8 * ws) - 1)).to_bytes(ws, bo)
        info[u + ws:u + ws + 4] = band_fd[1].to_bytes(4, bo, signed=True)
    else:
        info[u:u + 4] = pid.to_bytes(4, bo)
        info[u + 4:u + 8] = uid.to_bytes(4, bo)
        if status is not None:  # SIGCHLD's si_status (si_utime/si_stime stay 0)
            info[u + 8:u + 12] = status.to_bytes(4, bo, signed=True)
        elif value is not None:  # sigqueue's or a timer's si_value
            ws = p.abi.wordsize
            info[u + 8:u + 8 + ws] = (value & ((1 << 8 * ws) - 1)).to_bytes(ws, bo)
    return bytes(info)


def child_siginfo(p: Process) -> bytes | None:
    """A host SIGCHLD's siginfo, read back from the child it is about (waitid with WNOWAIT:
    the child stays waitable); None if no child has news."""
    try:
        r = os.waitid(os.P_ALL, 0, os.WEXITED | os.WSTOPPED | os.WCONTINUED | os.WNOHANG |
                      os.WNOWAIT)
    except (ChildProcessError, OSError):
        r = None
    if r is None:  # the guest's wait took the child already: what that wait found
        info, p.children.reaped = p.children.reaped, None
        return info
    status = r.si_status
    p.children.announced.add((r.si_pid, r.si_code))
    if r.si_code in (CLD_KILLED, CLD_DUMPED, CLD_STOPPED, CLD_TRAPPED, CLD_CONTINUED):
        status = p.abi.sig_to_guest(status)
    return siginfo(p, SIGCHLD, r.si_code, pid=r.si_pid, uid=r.si_uid, status=status)


class Action:
    """A guest's struct sigaction in host terms (SA_* flags and mask bits as on the host)."""

    __slots__ = ("flags", "handler", "mask", "restorer")

    def __init__(self, handler: int = SIG_DFL, flags: int = 0, restorer: int = 0,
                 mask: int = 0) -> None:
        self.handler, self.flags, self.restorer, self.mask = handler, flags, restorer, mask

    @classmethod
    def from_guest(cls, p: Process, raw: bytes) -> Action:
        return cls(*p.abi.from_guest_sigaction(raw))

    def to_guest(self, p: Process) -> bytes:
        abi = p.abi
        values: dict[str, int | bytes] = {
            "sa_handler": self.handler, "sa_flags": abi.sa_flags_out(self.flags),
            "sa_restorer": self.restorer, "sa_mask": abi.to_guest_sigset(self.mask)}
        return abi.sigaction.pack(*(values[n] for n in abi.sigaction.names))


DEFAULT = Action()
IGNORED = Action(SIG_IGN)


# ---- host signals -------------------------------------------------------------------------------
# Raised by the CPU, never sent to us as host signals that the guest should see as such.
HOST_UNCATCHABLE = frozenset({SIGKILL, SIGSTOP})
MIRRORED = sum(1 << (s - 1) for s in range(1, 65) if s not in FAULT_SIGNALS | HOST_UNCATCHABLE)
# What we last asked of the host for a signal: its default, ignore, our handler (the guest
# has one), or our handler without waking the engine (the guest only needs it noted).
HOST_DFL, HOST_IGN, HOST_HANDLER, HOST_QUIET = 0, 1, 2, 3


def mirror_disposition(p: Process, signo: int, *, follow: bool = True) -> bool:
    """Make the host disposition of `signo` follow the guest's: ignored stays ignored (so a
    write to a closed pipe fails with EPIPE instead of killing us), default stays default
    (the host kills us exactly as it would kill the guest), and a guest handler gets a host
    handler that queues the signal for the guest and gets the engine to stop promptly.
    Returns whether it changed; `follow=False` leaves the signalfd to `_follow`."""
    if signo in FAULT_SIGNALS or signo in HOST_UNCATCHABLE or signo >= host.NSIG:
        return False
    act = p.sigactions.get(signo, DEFAULT)
    if act.handler == SIG_IGN:
        want = HOST_IGN
    elif act.handler != SIG_DFL:
        want = HOST_HANDLER
    elif (signo == SIGCHLD and p.children.active) or any(
            t.sigmask & bit(signo) for t in p.sched.threads.values()):
        want = HOST_QUIET  # noted for the guest, which blocks it (or waits for children)
    else:
        want = HOST_DFL
    if want == HOST_DFL and signo == SIGPIPE and p.tracer is not None:
        # traced: the write sees EPIPE and the tracer raises the guest's SIGPIPE itself,
        # so the trace shows it (and the death it brings)
        want = HOST_IGN
    if p.host_dispositions.get(signo, HOST_DFL) == want:
        return False
    try:
        if want == HOST_IGN:
            host.signal(signo, host.SIG_IGN)
        elif want == HOST_DFL:
            host.signal(signo, host.SIG_DFL)
        else:
            if want == HOST_HANDLER:
                p.sched.watch_host_signals()
            host.signal(signo, lambda s, _f: _on_host_signal(p, s))
        p.host_dispositions[signo] = want
    except (OSError, ValueError):  # not the main thread, or a signal Python cannot handle
        return False
    if follow:
        _follow(p, (signo,))
    return True


def _follow(p: Process, changed: Iterable[int]) -> None:
    """The host signalfd reads (with their siginfo) the signals we catch that it can read;
    any that arrived for a signal it stops reading are handed on now."""
    caught = (HOST_HANDLER, HOST_QUIET)
    add = {s for s in changed if s in VIA_FD and p.host_dispositions.get(s) in caught}
    remove = {s for s in changed if s in VIA_FD and s not in add}
    if p.sched.watchdog.read_signals(add, remove):
        hand_on_host_records(p)


def exec_reset(p: Process) -> set[int]:
    """execve: handled signals go back to their default action on the host too; ignored ones
    stay ignored. Returns the ignored set for the next image."""
    ignored = {s for s, act in p.sigactions.items() if act.handler == SIG_IGN}
    for signo, how in p.host_dispositions.items():
        if how in (HOST_HANDLER, HOST_QUIET):
            try:
                host.signal(signo, host.SIG_DFL)
            except (OSError, ValueError):
                pass
    p.host_dispositions.clear()
    return ignored


def mask_changed(p: Process, old: int, new: int) -> None:
    """A guest thread's mask changed: a signal the guest now blocks (and leaves at its
    default action) must not kill or stop us from the host; it stays pending instead."""
    changed = (old ^ new) & MIRRORED
    moved = []
    while changed:
        low = changed & -changed
        changed ^= low
        if mirror_disposition(p, low.bit_length(), follow=False):
            moved.append(low.bit_length())
    if moved:
        _follow(p, moved)


def _on_host_signal(p: Process, signo: int) -> None:
    """A host signal the guest handles or blocks (runs on the main thread)."""
    sfd = p.sched.watchdog.sigfd
    if sfd is not None and signo in VIA_FD:
        announced = signo in sfd.announced
        sfd.announced.discard(signo)
        if hand_on_host_records(p) or announced:
            return  # (announced without a record: it went with an earlier call's records)
    info = None
    if signo == SIGCHLD:
        p.children.notify()
        info = child_siginfo(p)
        if info is None:
            # no child has news and no wait took any unannounced: a late duplicate of a
            # SIGCHLD already told (the host's arrive coalesced and possibly late)
            return
        code = int.from_bytes(info[8:12] if p.abi.siginfo_code_errno[0] == 8 else info[4:8],
                              p.abi.byteorder, signed=True)
        act = p.sigactions.get(SIGCHLD, DEFAULT)
        if act.flags & SA_NOCLDSTOP and code in (CLD_STOPPED, CLD_CONTINUED):
            return  # SA_NOCLDSTOP: waiters woke, but no signal for a stop or continue
    queue(p, _target(p, signo), signo, info or siginfo(p, signo, SI_USER))
    p.sched.wake()


def hand_on_host_records(p: Process) -> bool:
    """Queue every signal the host signalfd read, with its sender, code and value."""
    sfd = p.sched.watchdog.sigfd
    records = sfd.drain() if sfd is not None else []
    for r in records:
        value = r.value if SI_ASYNCIO <= r.code <= SI_QUEUE else None
        if POLL_IN <= r.code <= POLL_HUP and r.signo != SIGCHLD and r.signo not in FAULT_SIGNALS:
            info = siginfo(p, r.signo, r.code, band_fd=(r.band, r.fd))  # F_SETSIG's
        else:
            info = siginfo(p, r.signo, r.code, pid=r.pid, uid=r.uid, value=value)
        queue(p, _target(p, r.signo), r.signo, info)
    if records:
        p.sched.wake()
    return bool(records)


def _target(p: Process, signo: int) -> Thread:
    """The thread a process-directed signal goes to: the current one unless it blocks it."""
    target = p.sched.current
    if target.sigmask & bit(signo):
        for t in p.sched.threads.values():
            if not t.sigmask & bit(signo):
                return t
    return target


# ---- queueing ---------------------------------------------------------------------------------
def queue(p: Process, t: Thread, signo: int, info: bytes) -> None:
    """Make `signo` pending on `t` (one instance per standard signal, as Linux)."""
    if signo == SIGCONT or signo in DEFAULT_STOP:  # each cancels the other's pending ones
        for other in p.sched.threads.values():
            for s in (DEFAULT_STOP if signo == SIGCONT else (SIGCONT,)):
                other.pending.pop(s, None)
    act = p.sigactions.get(signo, DEFAULT)
    if act.handler == SIG_IGN or (act.handler == SIG_DFL and signo in DEFAULT_IGNORE):
        return  # discarded at generation time, even while blocked
    if signo in t.pending:
        if signo < SIGRTMIN:
            return
        t.queued.setdefault(signo, []).append(info)  # real-time signals queue up
    else:
        t.pending[signo] = info
    if p.fds.signalfd:
        sync_signalfds(p)
    if not t.sigmask & bit(signo) or t.sigwait & bit(signo):
        p.sched.interrupt(t)


def take(p: Process, t: Thread, signo: int) -> bytes:
    """Dequeue the pending `signo` of `t` (the next real-time instance moves up)."""
    info = t.pending.pop(signo)
    more = t.queued.get(signo)
    if more:
        t.pending[signo] = more.pop(0)
        if not more:
            del t.queued[signo]
    if p.fds.signalfd:
        sync_signalfds(p)
    return info


def sync_signalfds(p: Process) -> None:
    """A signalfd is a host eventfd whose counter we keep non-zero exactly while one of its
    signals is pending, so host poll/epoll/select see it readable when Linux would."""
    pending = 0
    for t in p.sched.threads.values():
        pending |= pending_mask(t)
    armed = p.fds.signalfd_armed
    for fd, mask in p.fds.signalfd.items():
        ready = bool(pending & mask)
        if ready == (fd in armed):
            continue
        try:
            if ready:
                os.eventfd_write(fd, 1)
                armed.add(fd)
            else:
                os.eventfd_read(fd)
                armed.discard(fd)
        except OSError:  # closed behind our back: forget it at the next close/dup
            pass


def pending_mask(t: Thread) -> int:
    m = 0
    for s in t.pending:
        m |= bit(s)
    return m


def restarts(p: Process, t: Thread) -> bool:
    """Whether the signal about to be delivered to `t` restarts an interrupted syscall."""
    ready = pending_mask(t) & ~t.sigmask
    if not ready:
        return True  # nothing to deliver after all: just wait again
    act = p.sigactions.get((ready & -ready).bit_length(), DEFAULT)
    return act.handler not in (SIG_DFL, SIG_IGN) and bool(act.flags & SA_RESTART)


def deliverable(t: Thread) -> bool:
    return bool(t.pending) and bool(pending_mask(t) & ~t.sigmask)


def deliver(p: Process, t: Thread, seen_by_debugger: bool = False) -> None:
    """Deliver one unblocked pending signal to `t`, whose registers are in the engine."""
    ready = pending_mask(t) & ~t.sigmask
    if not ready:
        return
    signo = (ready & -ready).bit_length()
    dbg = p.sched.debugger
    if dbg is not None and not seen_by_debugger:
        chosen = dbg.signal(signo)  # gdb sees it first, and may keep it from the guest
        if chosen != signo:
            take(p, t, signo)
            if chosen:
                queue(p, t, chosen, siginfo(p, chosen, 0))
                deliver(p, t, seen_by_debugger=True)
            return
    info = take(p, t, signo)
    act = p.sigactions.get(signo, DEFAULT)
    if act.handler == SIG_IGN:
        return
    if p.tracer is not None and not (act.handler == SIG_DFL and signo in DEFAULT_IGNORE):
        p.tracer.signal(t.tid, signo, info)
    if act.handler == SIG_DFL:
        if signo in DEFAULT_STOP:
            stop(signo)
        elif signo not in DEFAULT_IGNORE:
            if p.tracer is not None:
                p.tracer.killed(signo)
            die(signo)
        return
    if t.restore_mask is not None:  # sigsuspend/ppoll: the frame keeps the caller's mask
        temp, t.sigmask = t.sigmask, t.restore_mask
        t.restore_mask = None
    else:
        temp = t.sigmask
    try:
        p.arch.frame.build(p, t, signo, info, act)
    except (FrameError, Errno):  # no usable stack or restorer: Linux forces SIGSEGV
        if p.tracer is not None:
            p.tracer.killed(SIGSEGV)
        die(SIGSEGV)
    t.sigmask = temp | act.mask | (0 if act.flags & SA_NODEFER else bit(signo))
    t.sigmask &= ~UNBLOCKABLE
    if act.flags & SA_RESETHAND:  # the handler only: the flags stay, as in Linux
        p.sigactions[signo] = Action(SIG_DFL, act.flags, act.restorer, act.mask)


def fault(p: Process, t: Thread, signo: int, code: int, addr: int | None) -> bool:
    """A CPU fault in `t`: deliver it to a handler if there is one (True), else False
    (the caller ends the process). A blocked or ignored fault signal kills, as in Linux."""
    act = p.sigactions.get(signo, DEFAULT)
    if act.handler in (SIG_DFL, SIG_IGN) or t.sigmask & bit(signo):
        return False
    t.pending[signo] = siginfo(p, signo, code, addr=addr or 0)
    deliver(p, t, seen_by_debugger=True)  # (the run loop showed a debugger the fault)
    return True


def sigreturn(p: Process, old: bool = False) -> int:
    """rt_sigreturn (or a 32-bit ABI's old sigreturn): the registers and mask from the frame."""
    return int((p.arch.frame.sigreturn if old else p.arch.frame.rt_sigreturn)(p, p.thread))
