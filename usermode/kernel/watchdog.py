"""The watchdog: a host thread that gets the engine to stop when a guest thread must.

Two reasons to stop the one Unicorn engine from outside the emulating thread:
- preemption: the same guest thread held the CPU for a whole quantum while another could use
  it (a runnable thread, or one waiting on an fd, a timer or a helper, which the loop looks at
  when the engine stops);
- a host signal for which the guest has a handler: CPython runs Python-level handlers only
  between bytecodes, so its C-level handler's write to a wakeup fd (`signal.set_wakeup_fd`)
  wakes this thread instead.
It never calls `uc_emu_stop` itself (that corrupted CPython guests, see engine/preempt.py):
it sets the native block hook's flag and the engine stops at the next block with an exact
PC. The thread starts with the second guest thread or the first guest signal handler, so a
single-threaded program without handlers pays nothing.
"""

from __future__ import annotations

import _thread
import os
import select
import time

from usermode.host.fds import move_high, ours
from usermode.host.lean import signal as host
from usermode.host.lean import start_thread
from usermode.host.signals import HostSignalFd, block_ours
from usermode.loop.aio import Source
from usermode.loop.monitor import IN

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.engine.native import NativeStopper
    from usermode.engine.preempt import BlockStopper
    from usermode.kernel.sched import Scheduler
    from usermode.loop.aio import EventLoop


class Watchdog:
    def __init__(self, sched: Scheduler, quantum_ns: int) -> None:
        self.sched = sched
        self.quantum_ns = quantum_ns
        self.closed = False
        self.preemptions = 0
        self._thread: int | None = None  # the host thread's ident
        self._stopper: BlockStopper | NativeStopper | None = None
        self._wakeup: tuple[int, int] | None = None  # (read end, write end)
        self.sigfd: HostSignalFd | None = None  # host signals read with their siginfo

    def start(self, preempt: bool = True) -> None:
        if preempt and self._stopper is None:
            self._stopper = self.sched.engine.enable_preemption()  # before any stop request
            self._poke()  # a thread waiting without a timeout starts counting quanta
        if self._thread is None:
            self._thread = start_thread(self._run)

    def watch_host_signals(self, preempt: bool = True) -> None:
        """Python-level host handlers are in use: their wakeup-fd writes reach this thread
        (which, with `preempt`, gets the engine to stop so the handler runs promptly)."""
        if self._wakeup is None:
            r, w = ours(lambda: os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC))
            self._wakeup = (move_high(r), move_high(w))
            self.sched.proc.fds.reserved.update(self._wakeup)
            host.set_wakeup_fd(self._wakeup[1], warn_on_full_buffer=False)
        self.start(preempt)

    def read_signals(self, add: set[int], remove: set[int]) -> bool:
        """Read `add` through the host signalfd from now on, and stop reading `remove`
        (main thread). Returns whether records wait to be handed on."""
        sfd = self.sigfd
        if sfd is None:
            if not add:
                return False
            sfd = self.sigfd = HostSignalFd(self.sched.proc.fds.reserved.add)
        created = sfd.fd < 0
        arrived = sfd.change(add, remove)
        if created and self.sched.has_loop:
            self.watch_in_loop(self.sched.loop)
        if add:
            self.watch_host_signals(preempt=False)  # (a handler's signal also preempts)
            self._poke()  # the thread waits on the signalfd from now on
        return arrived

    def watch_in_loop(self, loop: EventLoop) -> None:
        """The loop also waits on the host signalfd: a signal sent to our main thread alone
        (which this thread's read cannot see) wakes it, and the main thread reads it."""
        sfd = self.sigfd
        if sfd is None or sfd.fd < 0 or not sfd.signals:
            return
        proc = self.sched.proc

        def ready(_fd: int, _revents: int) -> None:
            from usermode.kernel import signals

            with sfd.lock:
                sfd.read()
            signals.hand_on_host_records(proc)

        # a check that never fires keeps adaptive polling possible (QEMU polls only while
        # every handler can be polled); the fd wakes the blocking wait that follows
        loop.add(Source("host-signalfd", fd=sfd.fd, events=IN, on_fd=ready,
                        poll_check=lambda: False, poll_ready=lambda: None, always_ready=False))

    def _poke(self) -> None:
        if self._wakeup is not None and self._thread is not None:
            try:
                os.write(self._wakeup[1], b"\0")
            except OSError:
                pass

    def request_stop(self) -> None:
        if self._stopper is not None:
            self._stopper.request()

    def close(self) -> None:
        """The image is going away (execve): the thread ends, host signals stop here."""
        self.closed = True
        if self.sigfd is not None:
            reserved = self.sched.proc.fds.reserved
            reserved.discard(self.sigfd.fd)
            self.sigfd.close()  # the signals it read go back to plain delivery
        if self._wakeup is not None:
            self._poke()
            host.set_wakeup_fd(-1)

    def after_fork(self) -> None:
        """In a forked child: the thread did not survive, and the wakeup pipe is shared
        with the parent, so both are made anew if they were in use."""
        self._thread = None
        preempt = self._stopper is not None
        if self.sigfd is not None:  # the fd reads this process's signals: kept
            self.sigfd.forget()  # records of signals sent to the parent
        if self._wakeup is not None:
            close_reserved(self.sched.proc, self._wakeup)
            self._wakeup = None
            self.watch_host_signals(preempt)

    def _run(self) -> None:
        block_ours()
        sched = self.sched
        last = -1
        q = self.quantum_ns / 1e9
        while not self.closed:
            stopper = self._stopper
            sfd = self.sigfd
            if self._wakeup is None:
                time.sleep(q)
            else:
                fds = [self._wakeup[0]]
                if sfd is not None and sfd.signals:
                    fds.append(sfd.fd)
                try:
                    ready = select.select(fds, [], [], q if stopper is not None else None)[0]
                    if self._wakeup[0] in ready:
                        os.read(self._wakeup[0], 512)
                except (OSError, TypeError, ValueError):  # closed under us (execve)
                    if self.closed:
                        return
                    time.sleep(q)
                    continue
                if sfd is not None and sfd.fd in ready:
                    with sfd.lock:
                        got = sfd.read()
                    self._hand_on(got)
                elif ready:  # the C handler may have run on this thread: the main
                    self._wake_loop()  # thread can be asleep in the loop, not interrupted
                if ready:
                    if stopper is not None:
                        stopper.request()  # a host signal: the main thread runs its handler
                    continue
            g = sched.gen
            if (stopper is not None and g == last and (sched.runq or sched.waits.external)
                    and len(sched.threads) > 1):
                self.preemptions += 1
                stopper.request()
            last = g

    def _hand_on(self, signos: list[int]) -> None:
        """Signals read from the signalfd: their Python handler runs on the main thread
        as if each had been delivered there, and the loop wakes if it sleeps."""
        sfd = self.sigfd
        for signo in dict.fromkeys(signos):
            if sfd is not None:
                sfd.announced.add(signo)
            _thread.interrupt_main(signo)  # type: ignore[arg-type]  # any signal number
        self._wake_loop()

    def _wake_loop(self) -> None:
        loop = self.sched._loop
        if loop is not None:
            loop.notify()


def close_reserved(proc: object, fds: tuple[int, ...] | set[int]) -> None:
    """Close emulator-owned fds and hand their numbers back to the guest."""
    reserved = proc.fds.reserved  # type: ignore[attr-defined]
    for fd in fds:
        reserved.discard(fd)
        try:
            os.close(fd)
        except OSError:
            pass
