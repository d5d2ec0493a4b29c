"""What a parked guest thread waits for, and how the wait ends.

A handler that cannot finish raises `Park` (kernel/errors.py) naming what it waits for: fds
with poll events, a CLOCK_MONOTONIC deadline, a futex word, a blocking host call made on a
helper thread, or only a signal. `park` registers each with its source (the event loop's fd
sources and timers, the futex queues, a helper thread); the first source to fire resolves
the wait exactly once, cancels the others and queues the thread. Resolving does nothing
else, so it is cheap enough inside a syscall hook (FUTEX_WAKE) or a loop handler. When the
thread is switched in, `finish` re-runs the operation outside any hook.

Fd waits reach the loop lazily: a park only records the waiter and `sync_fds` tells the
kernel just before the loop runs, so a wait that another guest thread ends directly (a
write to a pipe whose two ends we know: `peer_activity`) costs no syscall.
"""

from __future__ import annotations

import errno

from usermode.host.lean import start_thread
from usermode.host.signals import block_ours
from usermode.host.syscalls import ready_now
from usermode.kernel import signals
from usermode.kernel.errors import INTERRUPTED, NOW, TIMEOUT, WOKEN, Park, errno_of
from usermode.kernel.threads import PARKED, RUN, Thread
from usermode.loop.aio import Source, Timer
from usermode.loop.monitor import ERR, HUP, IN, OUT

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.sched import Scheduler

NVAL = 0x20


class Waits:
    def __init__(self, sched: Scheduler) -> None:
        self.sched = sched
        self.fd_waits: dict[int, list[tuple[Thread, int]]] = {}  # parked threads per fd
        self._fd_mask: dict[int, int] = {}  # what the loop's fd sources watch
        self._fd_dirty: set[int] = set()
        self.external = 0  # parked threads waiting on something outside (fd, timer, helper)

    def reset(self) -> None:
        """In a forked child: no thread waits any more."""
        self.fd_waits.clear()
        self._fd_mask.clear()
        self._fd_dirty.clear()
        self.external = 0

    # ---- parking ---------------------------------------------------------------------------------
    def park(self, t: Thread, park: Park) -> None:
        """Register `t`'s wait (or, for a Park with nothing to wait for, finish it now)."""
        if not park.waits:
            self.finish(t, park, NOW)
            return
        if park.interruptible and t.pending and (
                signals.deliverable(t) or signals.pending_mask(t) & t.sigwait):
            # a host signal's handler ran after the syscall looked (between the hook and
            # here): the wait ends before anything (a helper thread) starts for it
            self.finish(t, park, INTERRUPTED)
            return
        s = self.sched
        s.stats["parks"] += 1
        t.state = PARKED
        t.park = park
        t.reason = WOKEN
        if park.futex is not None:
            s.futex.wait(t, *park.futex)
        external = False
        for fd, events in park.fds:
            self._watch_fd(t, fd, events)
            external = True
        if park.deadline is not None:
            timer = s.loop.call_at(park.deadline, lambda: self.resolve(t, TIMEOUT))
            t.cleanups.append(lambda: self._cancel_timer(timer))
            external = True
        if park.helper is not None:
            self._start_helper(t, park)
            external = True
        if external:
            self.external += 1
            t.cleanups.append(self._external_done)

    def _external_done(self) -> None:
        self.external -= 1

    def _cancel_timer(self, timer: Timer) -> None:
        if self.sched.has_loop:
            self.sched.loop.cancel(timer)

    def resolve(self, t: Thread, reason: int) -> None:
        """The first source to fire wins: `t` becomes runnable and its other waits go."""
        if t.state != PARKED:
            return
        t.state = RUN
        t.reason = reason
        cleanups, t.cleanups = t.cleanups, []
        for c in cleanups:
            c()
        self.sched.runq.append(t)

    def interrupt(self, t: Thread) -> None:
        """A signal for a parked thread: its wait ends with EINTR or a restart."""
        if t.state == PARKED and t.park is not None and t.park.interruptible:
            self.resolve(t, INTERRUPTED)

    def finish(self, t: Thread, park: Park, reason: int) -> None:
        """Run `t`'s retry (its registers are in the engine) and write the result, or park
        it again."""
        p = self.sched.proc
        eng = p.engine
        if reason == INTERRUPTED and park.helper is not None and not park.abandon():
            reason = WOKEN  # the helper's call returned before the signal: its result stands
        if reason == INTERRUPTED and not park.own_eintr:
            done = park.progress() if park.progress is not None else 0
            if done > 0:  # part of the work is done: its count, never EINTR or a re-run
                eng.write_return(done, p.abi.mask)
                return
            if signals.restarts(p, t):  # SA_RESTART: the syscall runs again after the
                # handler (its arguments are still in the registers)
                eng.set_reg(p.arch.REG_PC_ID, eng.resume_pc() - eng.syscall_insn_size())
                return
            eng.write_return(-p.abi.to_guest_errno(errno.EINTR), p.abi.mask)
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
            r = -p.abi.to_guest_errno(err)
        if t.state == RUN:
            eng.write_return(r, p.abi.mask)

    # ---- fds -------------------------------------------------------------------------------------
    def _watch_fd(self, t: Thread, fd: int, events: int) -> None:
        """Record the waiter only; the kernel hears of it when the loop is about to run
        (`sync_fds`), so a wait that a guest thread ends directly costs no syscall."""
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

    @property
    def unsynced(self) -> bool:
        return bool(self._fd_dirty)

    def sync_fds(self) -> None:
        """Bring the loop's fd sources in line with the waiters: add, widen, drop."""
        loop = self.sched.loop
        poll_fds = self.sched.poll_fds
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
                elif have is None or poll_fds:
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
        if self.sched.poll_fds:  # --poll-fds: a one-fd poll(0) is the cheap readiness check
            return Source(("fd", fd), fd=fd, events=mask, on_fd=self._on_fd,
                          always_ready=False, poll_check=lambda: ready_now(fd, mask),
                          poll_ready=lambda: self._on_fd(fd, mask | ERR))
        return Source(("fd", fd), fd=fd, events=mask, on_fd=self._on_fd, always_ready=False)

    def _on_fd(self, fd: int, revents: int) -> None:
        for t, events in list(self.fd_waits.get(fd, ())):
            if revents & (events | ERR | HUP | NVAL):
                self.resolve(t, WOKEN)

    def peer_activity(self, fd: int, events: int) -> None:
        """The guest just read (`events` POLLIN) or wrote (POLLOUT) `fd`: threads waiting on
        the other end of that pipe or socketpair for the opposite direction may go on."""
        other = self.sched.proc.fds.peer.get(fd)
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
        if fd in self._fd_mask and self.sched.has_loop:
            del self._fd_mask[fd]
            self.sched.loop.remove(("fd", fd))
            self._fd_dirty.add(fd)

    # ---- helper threads --------------------------------------------------------------------------
    def _start_helper(self, t: Thread, park: Park) -> None:
        loop = self.sched.loop
        self.sched.stats["helpers"] += 1
        fn = park.helper
        assert fn is not None

        def work() -> None:
            block_ours()  # host signals are the main thread's (or the signalfd's)
            result: int | BaseException
            try:
                result = fn()
            except BaseException as e:  # delivered to the guest thread as its result
                result = e
            try:
                park.helper_done(result)
            finally:  # (a thread that stopped waiting may be parked on something else now)
                loop.call_soon_threadsafe(
                    lambda: self.resolve(t, WOKEN) if t.park is park else None)

        start_thread(work)
