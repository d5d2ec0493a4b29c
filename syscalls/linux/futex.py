"""futex: the single-threaded subset (issue 4 adds waiting threads and the other operations).

With one guest thread nobody else can change the word or wake us, so WAIT either fails
with EAGAIN (the word differs), times out, or waits for good; WAKE finds no waiters.
"""

from __future__ import annotations

import errno
import time
from typing import TYPE_CHECKING

from syscalls.errors import Errno, Park
from syscalls.registry import PARTIAL, syscall

if TYPE_CHECKING:
    from usermode.process import Process

FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE = 0, 1, 3, 4
FUTEX_WAKE_OP, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 5, 9, 10
FUTEX_CMD_MASK = 0x7F  # without FUTEX_PRIVATE_FLAG (128) and FUTEX_CLOCK_REALTIME (256)
FUTEX_CLOCK_REALTIME = 256


@syscall("futex", args=("ptr", "int:futex_op", "uint", "ptr", "ptr", "uint"), support=PARTIAL,
         note="single thread: WAIT/WAIT_BITSET compare and time out; WAKE* wake nobody")
def sys_futex(p: Process, uaddr: int, op: int, val: int, timeout: int, uaddr2: int,
              val3: int) -> int:
    cmd = op & FUTEX_CMD_MASK
    if uaddr & 3:
        raise Errno(errno.EINVAL)
    if cmd in (FUTEX_WAKE, FUTEX_WAKE_BITSET, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP):
        if cmd == FUTEX_CMP_REQUEUE:
            word = int.from_bytes(p.mem.read(uaddr, 4), p.abi.byteorder)
            if word != val3:
                raise Errno(errno.EAGAIN)
        return 0
    if cmd not in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
        raise Errno(errno.ENOSYS)
    if cmd == FUTEX_WAIT_BITSET and val3 == 0:
        raise Errno(errno.EINVAL)
    word = int.from_bytes(p.mem.read(uaddr, 4), p.abi.byteorder)
    if word != val:
        raise Errno(errno.EAGAIN)
    deadline: float | None = None
    if timeout:
        sec, nsec = p.abi.from_guest_timespec(p.mem.read(timeout, p.abi.timespec.size))
        if sec < 0 or not 0 <= nsec < 1_000_000_000:
            raise Errno(errno.EINVAL)
        t = sec + nsec / 1e9
        if cmd == FUTEX_WAIT:  # relative, CLOCK_MONOTONIC
            deadline = time.monotonic() + t
        else:  # absolute, on the clock the op names
            now = time.time() if op & FUTEX_CLOCK_REALTIME else time.monotonic()
            deadline = time.monotonic() + (t - now)

    def finish() -> int:
        if deadline is None:
            while True:  # nobody can wake a lone thread (signals arrive with issue 5)
                time.sleep(3600)
        left = deadline - time.monotonic()
        if left > 0:
            time.sleep(left)
        raise Errno(errno.ETIMEDOUT)

    raise Park(finish)
