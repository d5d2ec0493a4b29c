"""futex: WAIT, WAKE, WAIT_BITSET, WAKE_BITSET, REQUEUE, CMP_REQUEUE, WAKE_OP, with timeouts.

Waiters are parked guest threads in the scheduler's futex table, keyed by guest address
(private and shared keys coincide: every thread of ours shares one address space). The
compare-and-park happens inside the syscall hook, where no other guest thread can run, so
it is atomic as the kernel's is. A wake only marks waiters runnable.

A futex word in MAP_SHARED memory, used without FUTEX_PRIVATE_FLAG, may be shared with
another emulated process (a process-shared mutex or semaphore after fork). Guest memory is
host memory, so the host kernel's futex on the same host address joins the two: a waiter
also waits there on a helper thread (in slices, so it ends soon after another source wins),
and a wake also wakes the host futex.
"""

from __future__ import annotations

import ctypes
import errno
import time

from syscalls.linux.time import read_timespec_ns
from syscalls.registry import PARTIAL, syscall
from usermode.host import syscalls as hostsys
from usermode.host.syscalls import NR
from usermode.kernel.errors import TIMEOUT, Errno, Park
from usermode.kernel.memory import PROT_R

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

FUTEX_WAIT, FUTEX_WAKE, FUTEX_FD, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE = 0, 1, 2, 3, 4
FUTEX_WAKE_OP, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 5, 9, 10
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256
FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
BITSET_ALL = 0xFFFFFFFF
HOST_SLICE_NS = 200_000_000  # a shared waiter's helper re-checks that it is still wanted

# FUTEX_WAKE_OP: operations on *uaddr2 and comparisons of its old value
_OPS = (
    lambda old, arg: arg,  # SET
    lambda old, arg: old + arg,  # ADD
    lambda old, arg: old | arg,  # OR
    lambda old, arg: old & ~arg,  # ANDN
    lambda old, arg: old ^ arg,  # XOR
)
_CMPS = (
    lambda a, b: a == b, lambda a, b: a != b, lambda a, b: a < b,
    lambda a, b: a <= b, lambda a, b: a > b, lambda a, b: a >= b,
)


def _word(p: Process, uaddr: int) -> int:
    return int.from_bytes(p.mem.read(uaddr, 4), p.abi.byteorder)


def _deadline(p: Process, cmd: int, op: int, timeout: int) -> int | None:
    """The wait's CLOCK_MONOTONIC deadline in ns: FUTEX_WAIT's timeout is relative;
    WAIT_BITSET's is absolute on CLOCK_MONOTONIC or (with the flag) CLOCK_REALTIME."""
    if not timeout:
        return None
    t = read_timespec_ns(p, timeout)
    mono = time.monotonic_ns()
    if cmd == FUTEX_WAIT:
        return mono + t
    if op & FUTEX_CLOCK_REALTIME:
        return mono + (t - time.time_ns())
    return t


def _shared_host_addr(p: Process, op: int, uaddr: int) -> int | None:
    """The host address of a futex word another process may wait on or wake, else None."""
    if op & FUTEX_PRIVATE_FLAG:
        return None
    v = p.mem.find(uaddr)
    return v.host(uaddr) if v is not None and v.shared else None


def _wait(p: Process, uaddr: int, val: int, deadline: int | None, bitset: int,
          host: int | None = None) -> int:
    if _word(p, uaddr) != val:
        raise Errno(errno.EAGAIN)
    if deadline is not None and deadline <= time.monotonic_ns():
        raise Errno(errno.ETIMEDOUT)

    def resumed(reason: int) -> int:
        if reason == TIMEOUT:
            raise Errno(errno.ETIMEDOUT)
        if reason != 0:
            raise Errno(errno.EINTR)
        return 0

    park = Park(resumed, futex=(uaddr, bitset), deadline=deadline, own_eintr=True)
    if host is not None:
        t = p.thread
        park.helper = lambda: _host_wait(lambda: t.park is park, host, val, deadline, bitset)
    raise park


def _host_wait(wanted: object, host: int, val: int, deadline: int | None, bitset: int) -> int:
    """On a helper thread: wait on the host futex until woken, the word changes, or the
    guest thread no longer waits (another source won)."""
    ts = hostsys.Timespec()
    while wanted():  # type: ignore[operator]
        until = time.monotonic_ns() + HOST_SLICE_NS
        if deadline is not None:
            until = min(until, deadline)
        ts.tv_sec, ts.tv_nsec = divmod(until, 1_000_000_000)
        try:
            hostsys.syscall(NR["futex"], host, FUTEX_WAIT_BITSET, val, ctypes.addressof(ts), 0,
                            bitset)
            return 0
        except OSError as e:
            if e.errno == errno.EAGAIN or (e.errno == errno.ETIMEDOUT and until == deadline):
                return 0  # the guest thread looks again (or its deadline fires)
            if e.errno not in (errno.ETIMEDOUT, errno.EINTR):
                raise
    return 0


def _host_wake(host: int | None, n: int, bitset: int = BITSET_ALL) -> int:
    if host is None or n <= 0:
        return 0
    return hostsys.syscall(NR["futex"], host, FUTEX_WAKE_BITSET, n, 0, 0, bitset)


def _wake_op(p: Process, uaddr: int, nwake: int, uaddr2: int, nwake2: int, val3: int) -> int:
    encoded_op = (val3 >> 28) & 0xF
    cmp = (val3 >> 24) & 0xF
    oparg = (val3 >> 12) & 0xFFF
    cmparg = val3 & 0xFFF
    if oparg & 0x800:
        oparg -= 0x1000
    if cmparg & 0x800:
        cmparg -= 0x1000
    if encoded_op & 8:  # FUTEX_OP_OPARG_SHIFT
        if not 0 <= oparg <= 31:
            raise Errno(errno.EINVAL)
        oparg = 1 << oparg
    opn = encoded_op & 7
    if opn >= len(_OPS) or cmp >= len(_CMPS):
        raise Errno(errno.ENOSYS)
    bo = p.abi.byteorder
    old = int.from_bytes(p.mem.read(uaddr2, 4), bo, signed=True)
    new = _OPS[opn](old, oparg) & 0xFFFFFFFF
    p.mem.write(uaddr2, new.to_bytes(4, bo))
    sched = p.sched
    woken = sched.futex.wake(uaddr, nwake, BITSET_ALL)
    if _CMPS[cmp](old, cmparg):
        woken += sched.futex.wake(uaddr2, nwake2, BITSET_ALL)
    return woken


@syscall("futex", args=("ptr", "int:futex_op", "uint", "ptr", "ptr", "uint"), support=PARTIAL,
         note="WAIT/WAKE/(CMP_)REQUEUE/WAKE_OP/*_BITSET with timeouts; PI ops ENOSYS")
def sys_futex(p: Process, uaddr: int, op: int, val: int, timeout: int, uaddr2: int,
              val3: int) -> int:
    cmd = op & FUTEX_CMD_MASK
    if uaddr & 3:
        raise Errno(errno.EINVAL)
    if op & FUTEX_CLOCK_REALTIME and cmd not in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
        raise Errno(errno.ENOSYS)
    sched = p.sched
    if not op & FUTEX_PRIVATE_FLAG and cmd not in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
        # a shared futex's key is its page, which Linux looks up: EFAULT unless it can be
        # read; a private one is only an address
        for a in (uaddr, uaddr2) if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE,
                                            FUTEX_WAKE_OP) else (uaddr,):
            p.mem.view(a, 4, PROT_R)
    host = _shared_host_addr(p, op, uaddr)
    # `timeout` doubles as a count (val2) for the requeue and wake-op commands
    val2 = timeout & 0xFFFFFFFF
    if cmd == FUTEX_WAIT:
        return _wait(p, uaddr, val, _deadline(p, cmd, op, timeout), BITSET_ALL, host)
    if cmd == FUTEX_WAIT_BITSET:
        if val3 == 0:
            raise Errno(errno.EINVAL)
        return _wait(p, uaddr, val, _deadline(p, cmd, op, timeout), val3, host)
    if cmd == FUTEX_WAKE:
        n = sched.futex.wake(uaddr, val, BITSET_ALL)
        return n + _host_wake(host, val - n)
    if cmd == FUTEX_WAKE_BITSET:
        if val3 == 0:
            raise Errno(errno.EINVAL)
        n = sched.futex.wake(uaddr, val, val3)
        return n + _host_wake(host, val - n, val3)
    if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        if uaddr2 & 3 or val > 0x7FFFFFFF or val2 > 0x7FFFFFFF:
            raise Errno(errno.EINVAL)
        if cmd == FUTEX_CMP_REQUEUE and _word(p, uaddr) != val3:
            raise Errno(errno.EAGAIN)
        n = sched.futex.requeue(uaddr, uaddr2, val, val2)
        if host is not None:  # waiters in other processes: woken (a spurious wake-up for some)
            n += _host_wake(host, 0x7FFFFFFF)
        return n
    if cmd == FUTEX_WAKE_OP:
        if uaddr2 & 3:
            raise Errno(errno.EINVAL)
        n = _wake_op(p, uaddr, val, uaddr2, val2, val3)
        if host is not None:
            n += _host_wake(host, val) + _host_wake(_shared_host_addr(p, op, uaddr2), val2)
        return n
    raise Errno(errno.ENOSYS)
