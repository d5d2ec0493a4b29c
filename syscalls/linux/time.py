"""clock_gettime, clock_getres, gettimeofday, time, nanosleep, clock_nanosleep: clocks and sleeps.
Sleeps park the caller: the wait happens outside any Unicorn hook."""

from __future__ import annotations

import errno
import time

from syscalls.registry import syscall
from usermode.kernel.errors import INTERRUPTED, Errno, Park
from usermode.kernel.memory import PROT_W
from usermode.uapi import NSEC_PER_SEC

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

TIMER_ABSTIME = 1
CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID = 2, 3


@syscall("clock_gettime", args=("int:clockid", "ptr"))
def sys_clock_gettime(p: Process, clk: int, tp: int) -> int:
    ts = p.abi.timespec
    ns = time.clock_gettime_ns(clk)  # EINVAL for an unknown clock, before the pointer
    out = p.mem.view(tp, ts.size, PROT_W)
    ts.pack_into(out, 0, ns // NSEC_PER_SEC, ns % NSEC_PER_SEC)
    return 0


@syscall("clock_getres", args=("int:clockid", "ptr"))
def sys_clock_getres(p: Process, clk: int, tp: int) -> int:
    res = time.clock_getres(clk)
    if tp:
        ns = round(res * NSEC_PER_SEC)
        p.mem.write(tp, p.abi.timespec.pack(ns // NSEC_PER_SEC, ns % NSEC_PER_SEC))
    return 0


@syscall("gettimeofday", args=("ptr", "ptr"))
def sys_gettimeofday(p: Process, tv: int, tz: int) -> int:
    ns = time.time_ns()
    if tv:
        p.mem.write(tv, p.abi.timeval.pack(ns // NSEC_PER_SEC, ns % NSEC_PER_SEC // 1000))
    if tz:
        p.mem.write(tz, p.abi.timezone.pack(0, 0))
    return 0


@syscall("time", args=("ptr",))
def sys_time(p: Process, tloc: int) -> int:
    now = time.time_ns() // NSEC_PER_SEC
    if tloc:
        p.mem.write(tloc, p.abi.pack_word(now))
    return now


def read_timespec_ns(p: Process, ptr: int) -> int:
    """A guest timespec in ns; EINVAL unless it is a valid non-negative time."""
    sec, nsec = p.abi.from_guest_timespec(p.mem.read(ptr, p.abi.timespec.size))
    if sec < 0 or not 0 <= nsec < NSEC_PER_SEC:
        raise Errno(errno.EINVAL)
    return sec * NSEC_PER_SEC + nsec


def _sleep(p: Process, clk: int, deadline_ns: int, rem: int) -> int:
    """Park until `deadline_ns` on clock `clk` (converted once to CLOCK_MONOTONIC). An
    interrupted sleep writes the time left to `rem` and fails with EINTR."""
    mono_deadline = time.monotonic_ns() + (deadline_ns - time.clock_gettime_ns(clk))
    if mono_deadline <= time.monotonic_ns():
        return 0

    def resumed(reason: int) -> int:
        if reason == INTERRUPTED:
            if rem:
                left = max(0, mono_deadline - time.monotonic_ns())
                p.mem.write(rem, p.abi.timespec.pack(left // NSEC_PER_SEC, left % NSEC_PER_SEC))
            raise Errno(errno.EINTR)
        return 0

    raise Park(resumed, deadline=mono_deadline, own_eintr=True)


@syscall("nanosleep", args=("ptr", "ptr"))
def sys_nanosleep(p: Process, req: int, rem: int) -> int:
    dur = read_timespec_ns(p, req)
    return _sleep(p, time.CLOCK_MONOTONIC, time.monotonic_ns() + dur, rem)


@syscall("clock_nanosleep", args=("int:clockid", "int", "ptr", "ptr"))
def sys_clock_nanosleep(p: Process, clk: int, flags: int, req: int, rem: int) -> int:
    if clk == CLOCK_THREAD_CPUTIME_ID:  # Linux has no sleep on it (the C library says EINVAL)
        raise Errno(errno.EOPNOTSUPP)
    if clk == CLOCK_PROCESS_CPUTIME_ID:  # a sleep until the process has used that much CPU:
        raise Errno(errno.EINVAL)  # not emulated (our one host thread would not burn it)
    time.clock_gettime_ns(clk)  # EINVAL for unknown clocks
    t = read_timespec_ns(p, req)
    absolute = bool(flags & TIMER_ABSTIME)
    deadline = t if absolute else time.clock_gettime_ns(clk) + t
    return _sleep(p, clk, deadline, 0 if absolute else rem)
