"""Green guest threads on the one Unicorn engine, and the scheduler that runs them.

A guest thread is a saved Unicorn context plus the kernel state Linux keeps per task (tid,
clear_child_tid, robust list, signal mask, alternate stack). One thread runs at a time. It
leaves the CPU when its syscall parks (see `usermode.kernel.errors.Park`), when it exits, or when
the preemption watchdog stops the engine because others are waiting for the CPU.

Parking: the handler has already tried the non-blocking operation. The thread's wait is
registered with the event loop (fd sources, a timer) or the futex table or a helper thread;
the first of these to fire resolves the wait exactly once, cancels the others and puts the
thread on the run queue; resolution does nothing else, so it is cheap enough to run inside
a syscall hook (FUTEX_WAKE) or a loop handler. The thread re-executes the operation when it
is switched in, outside any hook.

Preemption and prompt host signals come from usermode/kernel/watchdog.py: when it stops the
engine, the run loop here collects fd events and timers and switches threads.
"""

from __future__ import annotations

import ctypes
import errno
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from usermode.engine.core import GuestFault
from usermode.host.signals import block_ours
from usermode.host.syscalls import ready_now
from usermode.kernel import signals
from usermode.kernel.errors import INTERRUPTED, NOW, TIMEOUT, WOKEN, Errno, Park, errno_of
from usermode.kernel.faultaddr import cpu_tlb_fault, fault_address
from usermode.kernel.watchdog import Watchdog, close_reserved
from usermode.loop.aio import EventLoop, Source, Timer
from usermode.loop.monitor import ERR, HUP, IN, OUT

if TYPE_CHECKING:
    from usermode.kernel.process import Process

RUN, PARKED, DEAD = 0, 1, 2
NVAL = 0x20
FUTEX_WAITERS = 0x80000000
FUTEX_OWNER_DIED = 0x40000000
FUTEX_TID_MASK = 0x3FFFFFFF
ROBUST_LIST_LIMIT = 2048


class Thread:
    """One guest thread: its saved registers and per-task kernel state."""

    __slots__ = ("altstack", "cleanups", "clear_child_tid", "ctx", "exit_code", "futex", "park",
                 "pending", "queued", "reason", "restore_mask", "robust_list", "sigmask",
                 "sigsnapshots", "sigwait", "state", "tid")

    def __init__(self, tid: int) -> None:
        self.tid = tid
        self.ctx: ctypes.c_void_p | None = None
        self.state = RUN
        self.park: Park | None = None
        self.reason = WOKEN
        self.cleanups: list[Callable[[], None]] = []
        self.futex: list[int] | None = None  # [uaddr, bitset] while in a futex wait
        self.clear_child_tid = 0
        self.robust_list = 0
        self.sigmask = 0
        self.altstack: tuple[int, int, int] | None = None  # (ss_sp, ss_flags, ss_size)
        self.exit_code = 0
        self.pending: dict[int, bytes] = {}  # signo -> siginfo
        self.queued: dict[int, list[bytes]] = {}  # further instances of real-time signals
        self.restore_mask: int | None = None  # the mask to put back after sigsuspend & co
        self.sigwait = 0  # signals rt_sigtimedwait is waiting for (blocked ones included)
        self.sigsnapshots: dict[int, ctypes.c_void_p] = {}  # frame -> registers at delivery


class Scheduler:
    def __init__(self, proc: Process, *, quantum_ns: int = 10_000_000,
                 loop_factory: Callable[[], EventLoop] | None = None,
                 poll_fds: bool = False) -> None:
        self.proc = proc
        self.engine = proc.engine
        main = Thread(proc.pid)
        self.threads: dict[int, Thread] = {main.tid: main}
        self.current = main
        self.owner = main  # whose registers are in the engine
        self.runq: deque[Thread] = deque()
        self.futexes: dict[int, list[Thread]] = {}
        self.fd_waits: dict[int, list[tuple[Thread, int]]] = {}  # parked threads per fd
        self._fd_mask: dict[int, int] = {}  # what the loop's fd sources watch
        self._fd_dirty: set[int] = set()
        self._loop: EventLoop | None = None
        self._loop_factory = loop_factory or EventLoop
        self.external_waits = 0
        self.poll_fds = poll_fds
        self.gen = 0  # bumped whenever another thread takes the CPU
        self._next_tid = _first_tid()
        self.watchdog = Watchdog(self, quantum_ns)
        self._last_peek = 0
        self.stats: dict[str, int] = dict.fromkeys(
            ("threads", "parks", "switches", "helpers", "peeks"), 0)
        self.stats["threads"] = 1

    # ---- the loop, created on first use ----------------------------------------------------------
    @property
    def loop(self) -> EventLoop:
        if self._loop is None:
            self._loop = self._loop_factory()
            self.proc.fds.reserved.update(self._loop.internal_fds())
            self.watchdog.watch_in_loop(self._loop)
        return self._loop

    @property
    def has_loop(self) -> bool:
        return self._loop is not None

    # ---- thread life -----------------------------------------------------------------------------
    def new_tid(self) -> int:
        tid = self._next_tid
        self._next_tid += 1
        return tid

    def spawn(self, tid: int, regs: tuple[tuple[int, int], ...]) -> Thread:
        """Create a runnable thread whose registers are the current thread's (the engine is
        stopped right after the clone syscall) with `regs` overridden."""
        eng = self.engine
        t = Thread(tid)
        t.sigmask = self.current.sigmask
        parent = eng.new_context()
        eng.save_context(parent)
        for reg, val in regs:
            eng.set_reg(reg, val)
        t.ctx = eng.new_context()
        eng.save_context(t.ctx)
        eng.restore_context(parent)
        eng.free_context(parent)
        self.threads[tid] = t
        self.runq.append(t)
        self.stats["threads"] += 1
        self.watchdog.start()
        return t

    def after_fork(self) -> None:
        """In the child of a host fork: only the calling thread goes on (as in Linux), with
        the new pid as its tid; the loop, the watchdog and helpers stay with the parent."""
        p = self.proc
        t = self.current
        for other in list(self.threads.values()):
            if other is not t and other.ctx is not None and other is not self.owner:
                self.engine.free_context(other.ctx)
                other.ctx = None
        t.tid = p.pid
        self.threads = {t.tid: t}
        self.runq.clear()
        self.futexes.clear()
        self.fd_waits.clear()
        self._fd_mask.clear()
        self._fd_dirty.clear()
        self.external_waits = 0
        if self._loop is not None:  # its epoll set is shared with the parent's: leave it
            close_reserved(p, self._loop.internal_fds())
            self._loop = None
        self.watchdog.after_fork()

    def exit_thread(self, t: Thread, status: int) -> None:
        """SYS_exit of one thread (not the last): clear_child_tid, robust futexes, gone."""
        t.state = DEAD
        t.exit_code = status
        p = self.proc
        self._robust_exit(t)
        if t.clear_child_tid:
            try:
                p.mem.write(t.clear_child_tid, b"\0\0\0\0")
                self.futex_wake(t.clear_child_tid, 1, 0xFFFFFFFF)
            except Errno:
                pass
        del self.threads[t.tid]
        if t.ctx is not None and t is not self.owner:
            self.engine.free_context(t.ctx)
            t.ctx = None

    def live_threads(self) -> int:
        return len(self.threads)

    def _robust_exit(self, t: Thread) -> None:
        """Mark the futexes the dying thread still owns OWNER_DIED and wake one waiter each,
        as the kernel's exit_robust_list does."""
        head = t.robust_list
        if not head:
            return
        p = self.proc
        w = p.abi.wordsize
        try:
            raw = p.mem.read(head, 3 * w)
        except Errno:
            return
        first, offset, pending = (int.from_bytes(raw[i * w:(i + 1) * w], p.abi.byteorder)
                                  for i in range(3))
        if offset & (1 << (8 * w - 1)):
            offset -= 1 << (8 * w)
        entry = first & ~1
        seen = 0
        while entry != head and seen < ROBUST_LIST_LIMIT:
            try:
                nxt = int.from_bytes(p.mem.read(entry, w), p.abi.byteorder) & ~1
            except Errno:
                break
            if entry != pending & ~1:
                self._owner_died(entry + offset, t.tid)
            entry = nxt
            seen += 1
        if pending:
            self._owner_died((pending & ~1) + offset, t.tid)

    def _owner_died(self, uaddr: int, tid: int) -> None:
        p = self.proc
        try:
            word = int.from_bytes(p.mem.read(uaddr, 4), p.abi.byteorder)
        except Errno:
            return
        if word & FUTEX_TID_MASK != tid:
            return
        new = (word & FUTEX_WAITERS) | FUTEX_OWNER_DIED
        p.mem.write(uaddr, new.to_bytes(4, p.abi.byteorder))
        if word & FUTEX_WAITERS:
            self.futex_wake(uaddr, 1, 0xFFFFFFFF)

    # ---- parking ---------------------------------------------------------------------------------
    def park(self, t: Thread, park: Park) -> None:
        """Register `t`'s wait (or, for a Park with nothing to wait for, finish it now)."""
        if not park.waits:
            self._finish(t, park, NOW)
            return
        if park.interruptible and t.pending and (
                signals.deliverable(t) or signals.pending_mask(t) & t.sigwait):
            # a host signal's handler ran after the syscall looked (between the hook and
            # here): the wait ends before anything (a helper thread) starts for it
            self._finish(t, park, INTERRUPTED)
            return
        self.stats["parks"] += 1
        t.state = PARKED
        t.park = park
        t.reason = WOKEN
        if park.futex is not None:
            uaddr, bitset = park.futex
            t.futex = [uaddr, bitset]
            self.futexes.setdefault(uaddr, []).append(t)
            t.cleanups.append(lambda: self._futex_forget(t))
        external = False
        for fd, events in park.fds:
            self._watch_fd(t, fd, events)
            external = True
        if park.deadline is not None:
            timer = self.loop.call_at(park.deadline, lambda: self.resolve(t, TIMEOUT))
            t.cleanups.append(lambda: self._cancel_timer(timer))
            external = True
        if park.helper is not None:
            self._start_helper(t, park)
            external = True
        if external:
            self.external_waits += 1
            t.cleanups.append(self._external_done)

    def _external_done(self) -> None:
        self.external_waits -= 1

    def _cancel_timer(self, timer: Timer) -> None:
        if self._loop is not None:
            self._loop.cancel(timer)

    def resolve(self, t: Thread, reason: int) -> None:
        """The first source to fire wins: `t` becomes runnable and its other waits go."""
        if t.state != PARKED:
            return
        t.state = RUN
        t.reason = reason
        cleanups, t.cleanups = t.cleanups, []
        for c in cleanups:
            c()
        self.runq.append(t)

    def interrupt(self, t: Thread) -> None:
        """A signal for a parked thread (issue 5): its wait ends with EINTR or a restart."""
        if t.state == PARKED and t.park is not None and t.park.interruptible:
            self.resolve(t, INTERRUPTED)

    def _finish(self, t: Thread, park: Park, reason: int) -> None:
        """Run `t`'s retry (its registers are in the engine) and write the result, or park
        it again."""
        if reason == INTERRUPTED and not park.own_eintr:
            if signals.restarts(self.proc, t):  # SA_RESTART: the syscall runs again after
                eng = self.engine  # the handler (its arguments are still in the registers)
                eng.set_reg(self.proc.arch.REG_PC_ID,
                            eng.resume_pc() - eng.syscall_insn_size())
                return
            self.engine.write_return(-self.proc.abi.to_guest_errno(errno.EINTR),
                                     self.proc.abi.mask)
            return
        try:
            r = park.retry(reason)
        except Park as again:
            self.park(t, again)
            return
        except Exception as e:
            err = errno_of(e)
            if err is None:
                raise
            r = -self.proc.abi.to_guest_errno(err)
        if t.state == RUN:
            self.engine.write_return(r, self.proc.abi.mask)

    # ---- fds -------------------------------------------------------------------------------------
    def _watch_fd(self, t: Thread, fd: int, events: int) -> None:
        """Record the waiter only; the kernel hears of it when the loop is about to run
        (`_sync_fds`), so a wait that a guest thread ends directly costs no syscall."""
        waiters = self.fd_waits.get(fd)
        entry = (t, events)
        if waiters is None:
            self.fd_waits[fd] = [entry]
        else:
            waiters.append(entry)
        self._fd_dirty.add(fd)
        t.cleanups.append(lambda: self._unwatch_fd(fd, entry))

    def _unwatch_fd(self, fd: int, entry: tuple[Thread, int]) -> None:
        waiters = self.fd_waits.get(fd)
        if waiters is None:
            return
        try:
            waiters.remove(entry)
        except ValueError:
            return
        if not waiters:
            del self.fd_waits[fd]
        self._fd_dirty.add(fd)

    def _sync_fds(self) -> None:
        """Bring the loop's fd sources in line with the waiters: add, widen, drop."""
        loop = self.loop
        dirty, self._fd_dirty = self._fd_dirty, set()
        for fd in dirty:
            waiters = self.fd_waits.get(fd)
            mask = 0
            for _t, ev in waiters or ():
                mask |= ev
            have = self._fd_mask.get(fd)
            if have == mask or (have is None and not mask):
                continue
            key = ("fd", fd)
            try:
                if not mask:
                    del self._fd_mask[fd]
                    loop.remove(key)
                elif have is None or self.poll_fds:
                    loop.add(self._fd_source(fd, mask))
                    self._fd_mask[fd] = mask
                else:
                    loop.update(key, mask)
                    self._fd_mask[fd] = mask
            except OSError:  # closed under the waiters: let them retry and see EBADF
                self._fd_mask.pop(fd, None)
                if key in loop.sources:
                    loop.remove(key)
                for t, _ev in list(waiters or ()):
                    self.resolve(t, WOKEN)

    def _fd_source(self, fd: int, mask: int) -> Source:
        src = Source(("fd", fd), fd=fd, events=mask, on_fd=self._on_fd, always_ready=False)
        if self.poll_fds:  # --poll-fds: a one-fd poll(0) is the cheap readiness check
            src = Source(("fd", fd), fd=fd, events=mask, on_fd=self._on_fd, always_ready=False,
                         poll_check=lambda: ready_now(fd, mask),
                         poll_ready=lambda: self._on_fd(fd, mask | ERR))
        return src

    def _on_fd(self, fd: int, revents: int) -> None:
        for t, events in list(self.fd_waits.get(fd, ())):
            if revents & (events | ERR | HUP | NVAL):
                self.resolve(t, WOKEN)

    def peer_activity(self, fd: int, events: int) -> None:
        """The guest just read (`events` POLLIN) or wrote (POLLOUT) `fd`: threads waiting on
        the other end of that pipe or socketpair for the opposite direction may go on."""
        other = self.proc.fds.peer.get(fd)
        if other is None:
            return
        waiters = self.fd_waits.get(other)
        if not waiters:
            return
        want = OUT if events & IN else IN
        for t, ev in list(waiters):
            if ev & want:
                self.resolve(t, WOKEN)

    def fd_closing(self, fd: int) -> None:
        """The guest is closing `fd`: drop it from the monitor while it is still open (the
        waiters, if any, are re-registered at the next sync and then see EBADF)."""
        if fd in self._fd_mask and self._loop is not None:
            del self._fd_mask[fd]
            self._loop.remove(("fd", fd))
            self._fd_dirty.add(fd)

    # ---- futexes ---------------------------------------------------------------------------------
    def _futex_forget(self, t: Thread) -> None:
        f = t.futex
        t.futex = None
        if f is None:
            return
        q = self.futexes.get(f[0])
        if q is not None:
            try:
                q.remove(t)
            except ValueError:
                pass
            if not q:
                del self.futexes[f[0]]

    def futex_wake(self, uaddr: int, n: int, bitset: int) -> int:
        q = self.futexes.get(uaddr)
        if not q or n <= 0:
            return 0
        woken = 0
        for t in list(q):
            if woken >= n:
                break
            f = t.futex
            if f is not None and f[1] & bitset:
                self.resolve(t, WOKEN)
                woken += 1
        return woken

    def futex_requeue(self, uaddr: int, uaddr2: int, nwake: int, nmove: int) -> int:
        """Wake `nwake` waiters on uaddr and move up to `nmove` more to uaddr2."""
        done = self.futex_wake(uaddr, nwake, 0xFFFFFFFF)
        q = self.futexes.get(uaddr)
        if not q or nmove <= 0 or uaddr2 == uaddr:
            return done
        moving, rest = q[:nmove], q[nmove:]
        if rest:
            self.futexes[uaddr] = rest
        else:
            del self.futexes[uaddr]
        dest = self.futexes.setdefault(uaddr2, [])
        for t in moving:
            assert t.futex is not None
            t.futex[0] = uaddr2
            dest.append(t)
        return done + len(moving)

    # ---- helper threads --------------------------------------------------------------------------
    def _start_helper(self, t: Thread, park: Park) -> None:
        loop = self.loop
        self.stats["helpers"] += 1
        fn = park.helper
        assert fn is not None

        def work() -> None:
            block_ours()  # host signals are the main thread's (or the signalfd's)
            try:
                park.result = fn()
            except BaseException as e:  # delivered to the guest thread as its result
                park.result = e
            loop.call_soon_threadsafe(lambda: self.resolve(t, WOKEN))

        threading.Thread(target=work, name=f"usermode-helper-{t.tid}", daemon=True).start()

    # ---- switching -------------------------------------------------------------------------------
    def _activate(self, t: Thread) -> None:
        if self.owner is not t:
            eng = self.engine
            o = self.owner
            if o.state != DEAD:
                if o.ctx is None:
                    o.ctx = eng.new_context()
                eng.save_context(o.ctx)
            elif o.ctx is not None:
                eng.free_context(o.ctx)
                o.ctx = None
            assert t.ctx is not None
            eng.restore_context(t.ctx)
            self.owner = t
            self.stats["switches"] += 1
        if self.current is not t:
            self.current = t
            self.gen += 1

    def _peek(self) -> None:
        """Collect fd events and expired timers without waiting, at most about once per ms."""
        if self._loop is None:
            return
        now = time.monotonic_ns()
        if now - self._last_peek >= 1_000_000:
            self._last_peek = now
            self.stats["peeks"] += 1
            if self._fd_dirty:
                self._sync_fds()
            self._loop.run_once(block=False)

    def next_thread(self) -> Thread:
        """Pick the thread to run next, switch to it and finish its parked syscall. Waits in
        the event loop while nobody is runnable."""
        cur = self.current
        if cur.state == RUN:
            if self.external_waits:
                self._peek()
            if not self.runq:
                return cur
            self.runq.append(cur)
        p = self.proc
        while True:
            if not self.runq:
                if self._fd_dirty:
                    self._sync_fds()
                    if self.runq:
                        continue
                self.loop.run_once(block=True)
                continue
            t = self.runq.popleft()
            if t.state != RUN:
                continue  # died while queued
            self._activate(t)
            park = t.park
            if park is not None:
                t.park = None
                self._finish(t, park, t.reason)
                if p.exit_status is not None or t.state != RUN:
                    if p.exit_status is not None:
                        return t
                    continue
            return t

    # ---- outside events -------------------------------------------------------------------------
    def watch_host_signals(self) -> None:
        self.watchdog.watch_host_signals()

    def close(self) -> None:
        self.watchdog.close()

    def wake(self) -> None:
        """Something for a guest thread arrived from outside (a host signal)."""
        if self._loop is not None:
            self._loop.notify()
        self.watchdog.request_stop()

    # ---- the run loop ----------------------------------------------------------------------------
    def run(self, entry: int) -> int:
        p = self.proc
        eng = self.engine
        pc = entry
        while True:
            err = eng.run_slice(pc)
            if eng.error is not None:
                raise eng.error
            if p.exit_status is not None:
                return p.exit_status
            t = self.current
            park = eng.parked
            if park is not None:
                eng.parked = None
                assert isinstance(park, Park)
                self.park(t, park)
            elif eng.pending_signal is not None:
                signo = eng.pending_signal
                if not signals.fault(p, t, signo, 1, eng.pc()):
                    raise GuestFault(signo, eng.pc())
            elif err:
                f = p.mem.last_fault
                p.mem.last_fault = None
                if f is None and p.mem.region_perms:  # no TLB callback saw it (mips)
                    f = cpu_tlb_fault(p, err)
                signo = eng.fault_signal(err)
                addr = f.addr if f is not None and signo == 11 else None
                if addr is not None:
                    addr = fault_address(p, eng.pc(), addr)
                code = ("SEGV_ACCERR" if f.mapped else "SEGV_MAPERR") if f is not None else ""
                si_code = 2 if code == "SEGV_ACCERR" else 1
                if not signals.fault(p, t, signo, si_code, addr if addr is not None else 0):
                    raise GuestFault(signo, eng.pc(), addr, code)
            if p.exit_status is not None:
                return p.exit_status
            t = self.next_thread()
            if p.exit_status is not None:
                return p.exit_status
            if t.pending:
                signals.deliver(p, t)
            pc = eng.resume_pc()


def _first_tid() -> int:
    """Thread ids above pid_max: never a real process's pid, so a guest kill() aimed at one
    of our threads cannot reach a stranger."""
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            return int(f.read()) + 1
    except (OSError, ValueError):
        return 4194305

