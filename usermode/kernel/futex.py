"""Futex wait queues of one process, and robust futex lists (what a dying thread still
holds). A futex wait is one of the sources a parked thread waits on (kernel/waits.py);
FUTEX_WAKE resolves waiters directly, cheap enough inside a syscall hook."""

from __future__ import annotations

from usermode.kernel.errors import WOKEN, Errno

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.sched import Scheduler
    from usermode.kernel.threads import Thread

FUTEX_WAITERS = 0x80000000
FUTEX_OWNER_DIED = 0x40000000
FUTEX_TID_MASK = 0x3FFFFFFF
ROBUST_LIST_LIMIT = 2048  # the kernel's bound on a robust list walk


class FutexQueues:
    def __init__(self, sched: Scheduler) -> None:
        self.sched = sched
        self.queues: dict[int, list[Thread]] = {}  # uaddr -> waiters in arrival order

    def wait(self, t: Thread, uaddr: int, bitset: int) -> None:
        """Queue parked `t` on `uaddr` (its park's cleanups take it off again)."""
        t.futex = [uaddr, bitset]
        self.queues.setdefault(uaddr, []).append(t)
        t.cleanups.append(lambda: self.forget(t))

    def forget(self, t: Thread) -> None:
        f = t.futex
        t.futex = None
        if f is None:
            return
        q = self.queues.get(f[0])
        if q is not None:
            try:
                q.remove(t)
            except ValueError:
                pass
            if not q:
                del self.queues[f[0]]

    def wake(self, uaddr: int, n: int, bitset: int) -> int:
        q = self.queues.get(uaddr)
        if not q or n <= 0:
            return 0
        woken = 0
        for t in list(q):
            if woken >= n:
                break
            f = t.futex
            if f is not None and f[1] & bitset:
                self.sched.resolve(t, WOKEN)
                woken += 1
        return woken

    def requeue(self, uaddr: int, uaddr2: int, nwake: int, nmove: int) -> int:
        """Wake `nwake` waiters on uaddr and move up to `nmove` more to uaddr2."""
        done = self.wake(uaddr, nwake, 0xFFFFFFFF)
        q = self.queues.get(uaddr)
        if not q or nmove <= 0 or uaddr2 == uaddr:
            return done
        moving, rest = q[:nmove], q[nmove:]
        if rest:
            self.queues[uaddr] = rest
        else:
            del self.queues[uaddr]
        dest = self.queues.setdefault(uaddr2, [])
        for t in moving:
            assert t.futex is not None
            t.futex[0] = uaddr2
            dest.append(t)
        return done + len(moving)

    def robust_exit(self, t: Thread) -> None:
        """Mark the futexes the dying thread still owns OWNER_DIED and wake one waiter each,
        as the kernel's exit_robust_list does."""
        head = t.robust_list
        if not head:
            return
        p = self.sched.proc
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
        p = self.sched.proc
        try:
            word = int.from_bytes(p.mem.read(uaddr, 4), p.abi.byteorder)
        except Errno:
            return
        if word & FUTEX_TID_MASK != tid:
            return
        new = (word & FUTEX_WAITERS) | FUTEX_OWNER_DIED
        p.mem.write(uaddr, new.to_bytes(4, p.abi.byteorder))
        if word & FUTEX_WAITERS:
            self.wake(uaddr, 1, 0xFFFFFFFF)
