"""The scheduler: green guest threads (kernel/threads.py) take turns on the one Unicorn
engine. One thread runs at a time. It leaves the CPU when its syscall parks (kernel/waits.py),
when it exits, or when the preemption watchdog stops the engine because others are waiting
for the CPU; the run loop here then finishes parked syscalls, delivers signals, turns CPU
faults into signals, and waits in the event loop while nobody can run.

Preemption and prompt host signals come from usermode/kernel/watchdog.py: when it stops the
engine, the run loop here collects fd events and timers and switches threads.
"""

from __future__ import annotations

import time

from usermode.engine.core import GuestFault
from usermode.host.lean import deque
from usermode.kernel import signals
from usermode.kernel.errors import Errno, Park
from usermode.kernel.faultaddr import cpu_tlb_fault, fault_address
from usermode.kernel.futex import FutexQueues
from usermode.kernel.threads import DEAD, RUN, Thread, first_tid
from usermode.kernel.waits import Waits
from usermode.kernel.watchdog import Watchdog, close_reserved
from usermode.loop.aio import EventLoop
from usermode.uapi import SIGBUS, SIGSEGV

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    from usermode.kernel.process import Process

    class Debugger(Protocol):
        """What the run loop tells a debugger (usermode/gdb/stub.py)."""

        def started(self) -> None: ...
        def slice_ended(self) -> None: ...
        def waiting(self) -> None: ...
        def fault(self, signo: int) -> int: ...
        def signal(self, signo: int) -> int: ...
        def exited(self, status: int) -> None: ...

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
        self.waits = Waits(self)
        self.futex = FutexQueues(self)
        self._loop: EventLoop | None = None
        self._loop_factory = loop_factory or EventLoop
        self.poll_fds = poll_fds
        self.gen = 0  # bumped whenever another thread takes the CPU
        self._next_tid = first_tid()
        self.watchdog = Watchdog(self, quantum_ns)
        self.debugger: Debugger | None = None
        self.only: Thread | None = None  # a debugger lets just this thread run
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
        t.comm = self.current.comm  # a new thread has its creator's name
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
        p.posix_timers.clear()  # a child does not inherit its parent's timers
        t = self.current
        for other in list(self.threads.values()):
            if other is not t and other.ctx is not None and other is not self.owner:
                self.engine.free_context(other.ctx)
                other.ctx = None
        t.tid = p.pid
        self.threads = {t.tid: t}
        self.runq.clear()
        self.futex.queues.clear()
        self.waits.reset()
        if self._loop is not None:  # its epoll set is shared with the parent's: leave it
            close_reserved(p, self._loop.internal_fds())
            self._loop = None
        self.watchdog.after_fork()

    def exit_thread(self, t: Thread, status: int) -> None:
        """SYS_exit of one thread (not the last): clear_child_tid, robust futexes, gone."""
        t.state = DEAD
        t.exit_code = status
        p = self.proc
        self.futex.robust_exit(t)
        if t.clear_child_tid:
            try:
                p.mem.write(t.clear_child_tid, b"\0\0\0\0")
                self.futex.wake(t.clear_child_tid, 1, 0xFFFFFFFF)
            except Errno:
                pass
        del self.threads[t.tid]
        if t.ctx is not None and t is not self.owner:
            self.engine.free_context(t.ctx)
            t.ctx = None

    def live_threads(self) -> int:
        return len(self.threads)
















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
            if self.waits.unsynced:
                self.waits.sync_fds()
            self._loop.run_once(block=False)

    def next_thread(self) -> Thread:
        """Pick the thread to run next, switch to it and finish its parked syscall. Waits in
        the event loop while nobody is runnable."""
        cur = self.current
        only = self.only
        if cur.state == RUN:
            if self.waits.external:
                self._peek()
            if cur is only or (only is None and not self.runq):
                return cur
            self.runq.append(cur)
        p = self.proc
        while True:
            if only is not None and only.state == DEAD:
                self.only = only = None
            if not (self.runq if only is None else only in self.runq):
                if self.waits.unsynced:
                    self.waits.sync_fds()
                    continue
                self.loop.run_once(block=True)
                if self.debugger is not None:
                    self.debugger.waiting()  # gdb's Ctrl-C reaches threads that all wait
                    only = self.only
                continue
            if only is None:
                t = self.runq.popleft()
            else:
                self.runq.remove(only)
                t = only
            if t.state != RUN:
                continue  # died while queued
            self._activate(t)
            park = t.park
            if park is not None:
                t.park = None
                self.waits.finish(t, park, t.reason)
                if p.exit_status is not None or t.state != RUN:
                    if p.exit_status is not None:
                        return t
                    continue
            return t

    def park(self, t: Thread, park: Park) -> None:
        self.waits.park(t, park)

    def resolve(self, t: Thread, reason: int) -> None:
        self.waits.resolve(t, reason)

    def interrupt(self, t: Thread) -> None:
        self.waits.interrupt(t)

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
        dbg = self.debugger
        if dbg is None:
            return self._run(entry, None)
        self.engine.set_reg(self.engine.arch.REG_PC_ID, entry)  # for gdb to see (and change)
        dbg.started()
        status = self._run(self.engine.resume_pc(), dbg)
        dbg.exited(status)
        return status

    def _run(self, entry: int, dbg: Debugger | None) -> int:
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
            if dbg is not None:
                dbg.slice_ended()
                if p.exit_status is not None:
                    return p.exit_status
            park = eng.parked
            if park is not None:
                eng.parked = None
                assert isinstance(park, Park)
                self.waits.park(t, park)
            elif eng.pending_signal is not None:
                signo = eng.pending_signal
                if dbg is not None:
                    signo = dbg.fault(signo)  # gdb decides whether the guest gets it
                if signo and not signals.fault(p, t, signo, 1, eng.pc()):
                    raise GuestFault(signo, eng.pc())
            elif err:
                f = p.mem.last_fault
                p.mem.last_fault = None
                if f is None and p.mem.region_perms:  # no TLB callback saw it (mips)
                    f = cpu_tlb_fault(p, err)
                signo = eng.fault_signal(err)
                addr = f.addr if f is not None and signo == SIGSEGV else None
                if addr is not None:
                    addr = fault_address(p, eng.pc(), addr)
                code = ("SEGV_ACCERR" if f.mapped else "SEGV_MAPERR") if f is not None else ""
                if addr is not None and f is not None and f.mapped and p.mem.past_eof(f.addr):
                    signo, code = SIGBUS, "BUS_ADRERR"  # a file mapping past its file's end
                si_code = 2 if code in ("SEGV_ACCERR", "BUS_ADRERR") else 1
                if dbg is not None:
                    signo = dbg.fault(signo)  # 0: gdb kept it from the guest, which runs on
                if signo and not signals.fault(p, t, signo, si_code,
                                               addr if addr is not None else 0):
                    raise GuestFault(signo, eng.pc(), addr, code)
            if p.exit_status is not None:
                return p.exit_status
            t = self.next_thread()
            if p.exit_status is not None:
                return p.exit_status
            if t.pending:
                signals.deliver(p, t)
            pc = eng.resume_pc()
