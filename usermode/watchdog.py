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

import os
import select
import threading
import time
from typing import TYPE_CHECKING

from usermode.loop.monitor import move_high

if TYPE_CHECKING:
    from usermode.engine.preempt import BlockStopper
    from usermode.sched import Scheduler


class Watchdog:
    def __init__(self, sched: Scheduler, quantum_ns: int) -> None:
        self.sched = sched
        self.quantum_ns = quantum_ns
        self.closed = False
        self.preemptions = 0
        self._thread: threading.Thread | None = None
        self._stopper: BlockStopper | None = None
        self._wakeup: tuple[int, int] | None = None  # (read end, write end)

    def start(self) -> None:
        if self._thread is None:
            self._stopper = self.sched.engine.enable_preemption()  # before any stop request
            self._thread = threading.Thread(target=self._run, name="usermode-watchdog",
                                            daemon=True)
            self._thread.start()

    def watch_host_signals(self) -> None:
        if self._wakeup is not None:
            return
        import signal as host

        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._wakeup = (move_high(r), move_high(w))
        self.sched.proc.fds.reserved.update(self._wakeup)
        host.set_wakeup_fd(self._wakeup[1], warn_on_full_buffer=False)
        self.start()

    def request_stop(self) -> None:
        if self._stopper is not None:
            self._stopper.request()

    def close(self) -> None:
        """The image is going away (execve): the thread ends, host signals stop here."""
        self.closed = True
        if self._wakeup is not None:
            import signal as host

            host.set_wakeup_fd(-1)

    def after_fork(self) -> None:
        """In a forked child: the thread did not survive, and the wakeup pipe is shared
        with the parent, so both are made anew if they were in use."""
        self._thread = None
        if self._wakeup is not None:
            close_reserved(self.sched.proc, self._wakeup)
            self._wakeup = None
            self.watch_host_signals()

    def _run(self) -> None:
        stopper = self._stopper
        assert stopper is not None
        sched = self.sched
        last = -1
        q = self.quantum_ns / 1e9
        while not self.closed:
            if self._wakeup is None:
                time.sleep(q)
            else:
                r = self._wakeup[0]
                try:
                    ready = select.select([r], [], [], q)[0]
                    if ready:
                        os.read(r, 512)
                except OSError:  # closed under us: this image is going away (execve)
                    if self.closed:
                        return
                    time.sleep(q)
                    continue
                if ready:
                    stopper.request()  # a host signal: let the main thread run its handler
                    continue
            g = sched.gen
            if g == last and (sched.runq or sched.external_waits) and len(sched.threads) > 1:
                self.preemptions += 1
                stopper.request()
            last = g


def close_reserved(proc: object, fds: tuple[int, ...] | set[int]) -> None:
    """Close emulator-owned fds and hand their numbers back to the guest."""
    reserved = proc.fds.reserved  # type: ignore[attr-defined]
    for fd in fds:
        reserved.discard(fd)
        try:
            os.close(fd)
        except OSError:
            pass
