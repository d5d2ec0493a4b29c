"""The event loop: adaptive polling after QEMU's aio-posix, with 826cc324's split.

A source has a cheap, side-effect-free readiness check (`poll_check`, QEMU's io_poll) and a
handler that does the work (`poll_ready`, io_poll_ready). Only the checks fall inside the
measured blocking time `block_ns`; ready handlers, fd handlers, bottom halves and timers run
after the measurement, so a slow handler cannot knock the loop out of polling mode. The
test-only `accounting="legacy"` runs `poll_ready` inside the timed region, as QEMU did before
826cc324.

Windows are kept per source key (QEMU 2025): the loop polls for the largest window among the
armed pollable sources, and after dispatch adjusts only the sources that were ready.
Grow/shrink: QEMU's rule, with our defaults (grow start 8 µs, x2, shrink /2 with a floor:
below the grow start the window drops to 0); `poll_shrink=0` keeps QEMU's reset-to-0.
"""

from __future__ import annotations

import _heapq as heapq  # heapq.py only re-exports these C functions
import os
import time

from usermode.host.fds import move_high, ours
from usermode.host.lean import MAIN_THREAD, allocate_lock, deque, get_ident
from usermode.loop.monitor import IN, FdMonitor, default_monitor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Clock = Callable[[], int]


class Source:
    """Something the loop waits for: an fd, a poll check, or both."""

    __slots__ = ("always_ready", "events", "fd", "gil_free", "key", "on_fd", "poll_check",
                 "poll_ready")

    def __init__(self, key: Any, *, fd: int | None = None, events: int = IN,
                 on_fd: Callable[[int, int], None] | None = None,
                 poll_check: Callable[[], bool] | None = None,
                 poll_ready: Callable[[], None] | None = None, gil_free: bool = True,
                 always_ready: bool | None = None) -> None:
        self.key = key
        self.fd, self.events, self.on_fd = fd, events, on_fd
        self.always_ready = always_ready  # None: the monitor finds out (one fstat)
        # a check without a handler is dropped, as QEMU's aio_set_fd_handler does
        self.poll_check = poll_check if poll_ready is not None else None
        self.poll_ready = poll_ready
        self.gil_free = gil_free

    @property
    def pollable(self) -> bool:
        return self.poll_check is not None and self.gil_free


class Timer:
    __slots__ = ("callback", "cancelled", "deadline")

    def __init__(self, deadline: int, callback: Callable[[], None]) -> None:
        self.deadline, self.callback, self.cancelled = deadline, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class EventLoop:
    def __init__(self, *, clock: Clock = time.monotonic_ns, monitor: FdMonitor | None = None,
                 poll_max_ns: int | None = None, poll_grow: int = 2, poll_shrink: int = 2,
                 grow_start_ns: int = 8000, accounting: str = "split") -> None:
        self.clock = clock
        self.monitor = monitor if monitor is not None else default_monitor()
        if poll_max_ns is None:
            poll_max_ns = 65536 if (os.cpu_count() or 1) >= 2 else 0
        self.poll_max_ns = poll_max_ns
        self.poll_grow = poll_grow or 2
        self.poll_shrink = poll_shrink  # 0: reset to 0, as QEMU's default
        self.grow_start_ns = grow_start_ns
        if accounting not in ("split", "legacy"):
            raise ValueError(accounting)
        self.accounting = accounting
        self.sources: dict[Any, Source] = {}
        self._by_fd: dict[int, Source] = {}
        self._pollers: dict[Any, Source] = {}
        self._unpollable = 0  # armed sources without a usable poll check
        self.poll_ns: dict[Any, int] = {}
        # when each source's handler last finished: a source's blocking time is measured from
        # there, so a slow source ready in an iteration that a fast one kept short still
        # counts as slow (QEMU 2025 keeps the window per handler for this case)
        self._since: dict[Any, int] = {}  # on the loop's own clock (outside time skipped)
        self._outside = 0
        self._left_at: int | None = None
        self._bh: deque[Callable[[], None]] = deque()
        self._timers: list[tuple[int, int, Timer]] = []
        self._seq = 0
        self._cancelled = 0
        self._lock = allocate_lock()
        self.notified = False
        self.notify_me = False
        self._efd = move_high(ours(lambda: os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)))
        self.monitor.add(self._efd, IN)  # the notifier: never a source, never progress
        self.stats: dict[str, int] = dict.fromkeys(
            ("iterations", "blocking_waits", "zero_timeout_waits", "poll_windows", "poll_iters",
             "poll_hits", "poll_misses", "final_check_hits", "grows", "shrinks", "resets",
             "notify_calls", "eventfd_writes", "timers_fired", "heap_rebuilds"), 0)
        # log2 histograms (bucket b counts values in [2**(b-1), 2**b) ns), kept on request
        self.histograms: dict[str, list[int]] | None = None

    def keep_histograms(self) -> None:
        self.histograms = {k: [0] * 64 for k in ("poll_window", "block", "dispatch")}

    # ---- configuration -----------------------------------------------------------------------
    def set_params(self, *, poll_max_ns: int | None = None, poll_grow: int | None = None,
                   poll_shrink: int | None = None) -> None:
        """Change the polling parameters; every window restarts from 0 (as in QEMU)."""
        if poll_max_ns is not None:
            self.poll_max_ns = poll_max_ns
        if poll_grow is not None:
            self.poll_grow = poll_grow or 2
        if poll_shrink is not None:
            self.poll_shrink = poll_shrink
        self.poll_ns = dict.fromkeys(self.poll_ns, 0)

    # ---- sources -------------------------------------------------------------------------------
    def add(self, src: Source) -> None:
        if src.key in self.sources:
            self.remove(src.key)
        self.sources[src.key] = src
        self.poll_ns.setdefault(src.key, 0)
        if src.fd is not None:
            self.monitor.add(src.fd, src.events, src.always_ready)
            self._by_fd[src.fd] = src
        if src.pollable:
            self._pollers[src.key] = src
        else:
            self._unpollable += 1

    def update(self, key: Any, events: int) -> None:
        """Change the events an fd source waits for."""
        src = self.sources[key]
        src.events = events
        if src.fd is not None:
            self.monitor.modify(src.fd, events)

    def internal_fds(self) -> set[int]:
        """The loop's own fds (notifier, monitor): kept out of the guest's reach."""
        return {self._efd, *self.monitor.internal_fds()}

    def remove(self, key: Any) -> None:
        src = self.sources.pop(key, None)
        if src is None:
            return
        if src.fd is not None:
            self.monitor.remove(src.fd)
            self._by_fd.pop(src.fd, None)
        if src.pollable:
            self._pollers.pop(src.key, None)
        else:
            self._unpollable -= 1

    # ---- bottom halves, notifier, timers -------------------------------------------------------
    def call_soon(self, cb: Callable[[], None]) -> None:
        self._bh.append(cb)

    def call_soon_threadsafe(self, cb: Callable[[], None]) -> None:
        self._bh.append(cb)  # deque.append is atomic
        self.notify()

    def notify(self) -> None:
        """Wake the loop from any thread; costs no syscall unless the loop is asleep."""
        self.stats["notify_calls"] += 1
        self.notified = True  # write the flag first, then read notify_me
        if self.notify_me:
            self.stats["eventfd_writes"] += 1
            os.eventfd_write(self._efd, 1)

    def call_at(self, deadline_ns: int, cb: Callable[[], None]) -> Timer:
        t = Timer(deadline_ns, cb)
        with self._lock:
            self._seq += 1
            first = not self._timers or deadline_ns < self._timers[0][0]
            heapq.heappush(self._timers, (deadline_ns, self._seq, t))
        if first and get_ident() != MAIN_THREAD:
            self.notify()  # an earlier deadline from another thread: recompute the timeout
        return t

    def call_later(self, delay_ns: int, cb: Callable[[], None]) -> Timer:
        return self.call_at(self.clock() + delay_ns, cb)

    def cancel(self, t: Timer) -> None:
        if not t.cancelled:
            t.cancel()
            self._cancelled += 1
            if len(self._timers) > 100 and self._cancelled * 2 > len(self._timers):
                with self._lock:
                    self._timers = [e for e in self._timers if not e[2].cancelled]
                    heapq.heapify(self._timers)
                self._cancelled = 0
                self.stats["heap_rebuilds"] += 1

    def _next_deadline(self) -> int | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
            self._cancelled = max(0, self._cancelled - 1)
        return self._timers[0][0] if self._timers else None

    # ---- one iteration ---------------------------------------------------------------------------
    def run_once(self, block: bool = True) -> int:
        """One aio_poll iteration; returns how many callbacks ran (progress)."""
        try:
            return self._iteration(block)
        finally:
            self._left_at = self.clock()

    def _iteration(self, block: bool) -> int:
        st = self.stats
        st["iterations"] += 1
        clock = self.clock
        start = clock()
        # Time between iterations is the guest's (it ran after the last wake-up): it is no
        # part of any source's blocking time, so source clocks skip it.
        if self._left_at is not None:
            self._outside += start - self._left_at
        # 1. timeout
        if not block or self._bh:
            timeout = 0
        else:
            nd = self._next_deadline()
            timeout = -1 if nd is None else max(0, nd - start)
        pollers = list(self._pollers.values()) if self._pollers else []
        need_wait = self._unpollable > 0
        ready: list[Source] = []
        dispatched_in_window: list[Source] = []
        polled = False
        # 2. poll mode: only the checks are timed (split accounting)
        window = max((self.poll_ns.get(s.key, 0) for s in pollers), default=0) \
            if pollers and not need_wait else 0
        if timeout >= 0:
            window = min(window, timeout)
        if self.poll_max_ns and window > 0:
            polled = True
            st["poll_windows"] += 1
            if self.histograms is not None:
                self.histograms["poll_window"][min(window.bit_length(), 63)] += 1
            t0 = clock()
            while True:
                st["poll_iters"] += 1
                for s in pollers:
                    if s.poll_check():  # type: ignore[misc]
                        ready.append(s)
                        if self.accounting == "legacy":  # pre-826cc324: work timed too
                            s.poll_ready()  # type: ignore[misc]
                            dispatched_in_window.append(s)
                if ready or self.notified:
                    timeout = 0
                    break
                spent = clock() - t0
                if spent >= window:
                    if timeout > 0:
                        timeout = max(0, timeout - spent)
                    break
            if ready:
                st["poll_hits"] += 1
            else:
                st["poll_misses"] += 1
        # 3. about to sleep: publish notify_me, then re-check the flag
        if timeout != 0:
            self.notify_me = True
            if self.notified:
                timeout = 0
        # 4. leaving poll mode: one final check closes the race with a late producer
        if polled and timeout != 0:
            for s in pollers:
                if s.poll_check():  # type: ignore[misc]
                    ready.append(s)
                    st["final_check_hits"] += 1
            if ready:
                timeout = 0
        # 5. wait in the fd monitor only if something is left to wait for
        events: list[tuple[int, int]] = []
        if timeout != 0 or need_wait:
            if timeout != 0:
                st["blocking_waits"] += 1
            else:
                st["zero_timeout_waits"] += 1
            events = self.monitor.wait(timeout)
        self.notify_me = False
        if self.notified:
            self.notified = False
            try:
                os.eventfd_read(self._efd)
            except BlockingIOError:
                pass
        # 6. the measured time ends here: everything below is dispatch
        block_ns = clock() - start
        hist = self.histograms
        if hist is not None:
            hist["block"][min(block_ns.bit_length(), 63)] += 1
        progress = 0
        while self._bh:
            self._bh.popleft()()
            progress += 1
        by_fd = self._by_fd
        hit_keys = {s.key for s in ready}
        # handlers may remove sources: look each one up before dispatching it
        for fd, rev in events:
            src = by_fd.get(fd)
            if src is None:
                continue
            hit_keys.add(src.key)
            if src in ready:
                continue  # already counted as a poll hit this iteration
            if src.on_fd is not None:
                src.on_fd(fd, rev)
                progress += 1
            elif src.poll_ready is not None:
                src.poll_ready()
                progress += 1
        for s in ready:
            if s not in dispatched_in_window:
                s.poll_ready()  # type: ignore[misc]
            progress += 1
        # 7. adjust the windows of the sources that were ready (after dispatch, QEMU 2025)
        if self.poll_max_ns and hit_keys:
            block_end = start + block_ns - self._outside
            for key in hit_keys:
                if key in self._pollers:
                    self._adjust(key, block_end - self._since.get(key, start - self._outside))
            done = clock() - self._outside
            for key in hit_keys:
                if key in self._pollers:
                    self._since[key] = done
        if hist is not None:
            took = clock() - start - block_ns
            hist["dispatch"][min(took.bit_length(), 63)] += 1
        # 8. expired timers, in deadline order (FIFO among ties)
        if not self._timers:
            return progress
        now = clock()
        while True:
            nd = self._next_deadline()
            if nd is None or nd > now:
                break
            with self._lock:
                _, _, t = heapq.heappop(self._timers)
            st["timers_fired"] += 1
            t.callback()
            progress += 1
        return progress

    def _adjust(self, key: Any, block_ns: int) -> None:
        pns = self.poll_ns.get(key, 0)
        mx = self.poll_max_ns
        if block_ns <= pns:
            return  # the sweet spot
        if block_ns > mx:
            if self.poll_shrink == 0 or pns // self.poll_shrink < self.grow_start_ns:
                new = 0
                self.stats["resets"] += 1
            else:
                new = pns // self.poll_shrink
                self.stats["shrinks"] += 1
        elif pns < mx and block_ns < mx:
            new = min(self.grow_start_ns if pns == 0 else pns * self.poll_grow, mx)
            self.stats["grows"] += 1
        else:
            return
        self.poll_ns[key] = new

    def close(self) -> None:
        os.close(self._efd)
        self.monitor.close()
