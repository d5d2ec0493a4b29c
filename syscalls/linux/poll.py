"""poll, ppoll, select, pselect6: readiness of many fds, parking the thread until one is ready.

The fast path hands the guest's own pollfd array or fd_sets to the host kernel with a zero
timeout (their layouts equal the host's on 64-bit little-endian guests), so revents and the
result sets are written in place. If nothing is ready the thread parks on every fd it named,
plus a timer; on resume it repeats the zero-timeout call, so the kernel decides exactly what
is reported (level semantics, POLLNVAL for bad fds). Timeouts left over are written back
as Linux does for ppoll, select and pselect6.
"""

from __future__ import annotations

import ctypes
import errno
import time

from syscalls.linux.time import read_timespec_ns
from syscalls.registry import syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import INTERRUPTED, TIMEOUT, Errno, Park
from usermode.kernel.memory import PROT_R, PROT_W
from usermode.uapi import NSEC_PER_SEC, POLLIN, POLLOUT, POLLPRI, UNBLOCKABLE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable

    from usermode.kernel.process import Process

POLLFD_SIZE = 8
STICKY_TIMEOUTS = 0x4000000  # personality: select leaves its timeout alone
FD_SETSIZE_MAX = 1 << 20  # RLIMIT_NOFILE's hard ceiling: nfds beyond it is EINVAL
_SELECT_EVENTS = (POLLIN, POLLOUT, POLLPRI)  # readfds, writefds, exceptfds


def deadline_from_timespec(p: Process, ptr: int) -> int | None:
    """CLOCK_MONOTONIC deadline for a relative guest timespec (NULL: wait for ever)."""
    if not ptr:
        return None
    return time.monotonic_ns() + read_timespec_ns(p, ptr)


def write_remaining(p: Process, ptr: int, deadline: int | None, timeval: bool = False) -> None:
    if not ptr or deadline is None:
        return
    left = max(0, deadline - time.monotonic_ns())
    if timeval:
        data = p.abi.timeval.pack(left // NSEC_PER_SEC, left % NSEC_PER_SEC // 1000)
    else:
        data = p.abi.timespec.pack(left // NSEC_PER_SEC, left % NSEC_PER_SEC)
    try:
        p.mem.write(ptr, data)
    except Errno:  # a timeout in read-only memory: Linux ignores the failed update too
        pass


def park_until_ready(p: Process, check: Callable[[], int], fds: tuple[tuple[int, int], ...],
                     deadline: int | None, done: Callable[[int], None] | None = None) -> int:
    """Return check() if it finds something ready (or the wait is over); else park on
    `fds` and the deadline and check again on resume. `done(result)` runs once at the end
    (restoring a temporary signal mask, writing back the time left)."""
    r = check()
    if r or (deadline is not None and deadline <= time.monotonic_ns()):
        if done is not None:
            done(r)
        return r

    def resumed(reason: int) -> int:
        if reason == INTERRUPTED:
            if done is not None:
                done(0)
            raise Errno(errno.EINTR)
        if reason == TIMEOUT:
            r = check()
            if done is not None:
                done(r)
            return r
        return park_until_ready(p, check, fds, deadline, done)

    # nothing to wait for and no deadline (ppoll(NULL, 0, NULL): musl's pause on arches
    # without SYS_pause): a wait only a signal ends
    raise Park(resumed, fds=fds, deadline=deadline, own_eintr=True,
               forever=not fds and deadline is None)


def _with_sigmask(p: Process, sigmask: int, size: int) -> Callable[[int], None] | None:
    """Install a temporary signal mask (ppoll, pselect6, epoll_pwait); returns the restorer."""
    if not sigmask:
        return None
    if size != p.abi.sigset_size:
        raise Errno(errno.EINVAL)
    t = p.thread
    old = t.sigmask
    t.sigmask = p.abi.from_guest_sigset(p.mem.read(sigmask, size)) & ~UNBLOCKABLE

    def restore(_r: int) -> None:
        t.sigmask = old

    return restore


def _chain(*fns: Callable[[int], None] | None) -> Callable[[int], None] | None:
    live = [f for f in fns if f is not None]
    if not live:
        return None

    def run(r: int) -> None:
        for f in live:
            f(r)

    return run


# ---- poll ------------------------------------------------------------------------------------
def _poll(p: Process, ufds: int, nfds: int, deadline: int | None,
          done: Callable[[int], None] | None) -> int:
    if nfds > FD_SETSIZE_MAX:
        raise Errno(errno.EINVAL)
    if nfds == 0:
        return park_until_ready(p, lambda: 0, (), deadline, done)
    raw = p.mem.read(ufds, nfds * POLLFD_SIZE)
    ptr = p.mem.host_ptr(ufds, nfds * POLLFD_SIZE, PROT_R | PROT_W)
    abi = p.abi
    bo = abi.byteorder
    renumbered = abi.poll_renumbered
    wait: list[tuple[int, int]] = []
    events: list[int] = []
    for i in range(0, len(raw), POLLFD_SIZE):
        fd = int.from_bytes(raw[i:i + 4], bo, signed=True)
        ev = int.from_bytes(raw[i + 4:i + 6], bo)
        if renumbered:
            ev = abi.poll_in(ev)
        events.append(ev)
        if fd >= 0:
            wait.append((fd, ev | 0x18))  # POLLERR|POLLHUP are always reported

    if renumbered or bo != "little":
        # MIPS's POLLWRNORM/POLLWRBAND, or a big-endian guest: the host polls a converted copy
        host = bytearray(len(raw))
        for i, ev in enumerate(events):
            fd = int.from_bytes(raw[i * POLLFD_SIZE:i * POLLFD_SIZE + 4], bo, signed=True)
            host[i * POLLFD_SIZE:i * POLLFD_SIZE + 4] = fd.to_bytes(4, "little", signed=True)
            host[i * POLLFD_SIZE + 4:i * POLLFD_SIZE + 6] = ev.to_bytes(2, "little")
        hbuf = (ctypes.c_char * len(host)).from_buffer(host)
        guest = p.mem.view(ufds, nfds * POLLFD_SIZE, PROT_R | PROT_W)

        def check() -> int:
            r = hostsys.syscall(hostsys.NR["poll"], ctypes.addressof(hbuf), nfds, 0)
            for off in range(6, len(host), POLLFD_SIZE):
                rev = abi.poll_out(int.from_bytes(host[off:off + 2], "little"))
                guest[off:off + 2] = rev.to_bytes(2, bo)
            return r
    else:
        def check() -> int:
            return hostsys.syscall(hostsys.NR["poll"], ptr, nfds, 0)

    return park_until_ready(p, check, tuple(wait), deadline, done)


@syscall("poll", args=("ptr", "uint", "int"))
def sys_poll(p: Process, ufds: int, nfds: int, timeout_ms: int) -> int:
    deadline = None if timeout_ms < 0 else time.monotonic_ns() + timeout_ms * 1_000_000
    return _poll(p, ufds, nfds, deadline, None)


@syscall("ppoll", args=("ptr", "uint", "ptr", "ptr", "size"))
def sys_ppoll(p: Process, ufds: int, nfds: int, tsp: int, sigmask: int, size: int) -> int:
    deadline = deadline_from_timespec(p, tsp)
    restore = _with_sigmask(p, sigmask, size)
    return _poll(p, ufds, nfds, deadline,
                 _chain(restore, lambda _r: write_remaining(p, tsp, deadline)))


# ---- select ------------------------------------------------------------------------------------
def _select(p: Process, nfds: int, sets: tuple[int, int, int], deadline: int | None,
            done: Callable[[int], None] | None) -> int:
    if nfds < 0 or nfds > FD_SETSIZE_MAX:
        raise Errno(errno.EINVAL)
    word = p.abi.wordsize
    nbytes = (nfds + 8 * word - 1) // (8 * word) * word
    saved: list[bytes | None] = []
    ptrs: list[int] = []
    wait: dict[int, int] = {}
    # a big-endian guest's fd_set words go to the host (and come back) byte-reversed
    big = p.abi.byteorder != "little"
    copies: list[ctypes.Array[ctypes.c_char] | None] = []

    def flip(data: bytes) -> bytes:
        return b"".join(data[i:i + word][::-1] for i in range(0, len(data), word))

    for ptr, ev in zip(sets, _SELECT_EVENTS, strict=True):
        if not ptr or not nbytes:
            saved.append(None)
            ptrs.append(0)
            copies.append(None)
            continue
        bits = p.mem.read(ptr, nbytes)
        saved.append(bits)
        if big:
            p.mem.view(ptr, nbytes, PROT_R | PROT_W)
            bits = flip(bits)
            copies.append(ctypes.create_string_buffer(bits, nbytes))
            ptrs.append(ctypes.addressof(copies[-1]))  # type: ignore[arg-type]
        else:
            copies.append(None)
            ptrs.append(p.mem.host_ptr(ptr, nbytes, PROT_R | PROT_W))
        value = int.from_bytes(bits, "little")  # fd_set: bit n of the little-endian words
        while value:
            low = value & -value
            fd = low.bit_length() - 1
            wait[fd] = wait.get(fd, 0) | ev
            value ^= low

    def check() -> int:
        for ptr, bits, copy in zip(sets, saved, copies, strict=True):
            if bits is not None:  # the host call clears what is not ready: start afresh
                if copy is not None:
                    copy.raw = flip(bits)
                else:
                    p.mem.write(ptr, bits)
        r = hostsys.syscall(hostsys.NR["pselect6"], nfds, *ptrs, hostsys.ZERO_TIMESPEC_PTR, 0)
        for ptr, copy in zip(sets, copies, strict=True):
            if copy is not None:
                p.mem.write(ptr, flip(copy.raw[:nbytes]))
        return r

    return park_until_ready(p, check, tuple(wait.items()), deadline, done)


@syscall("select", args=("int", "ptr", "ptr", "ptr", "ptr"))
def sys_select(p: Process, nfds: int, rd: int, wr: int, ex: int, tvp: int) -> int:
    deadline = None
    if tvp:
        sec, usec = p.abi.timeval.unpack(p.mem.read(tvp, p.abi.timeval.size))
        if sec < 0 or usec < 0:
            raise Errno(errno.EINVAL)
        deadline = time.monotonic_ns() + sec * NSEC_PER_SEC + usec * 1000
    if p.opts.personality & STICKY_TIMEOUTS:  # the timeout is left as the caller gave it
        return _select(p, nfds, (rd, wr, ex), deadline, None)
    return _select(p, nfds, (rd, wr, ex), deadline,
                   lambda _r: write_remaining(p, tvp, deadline, timeval=True))


@syscall("pselect6", args=("int", "ptr", "ptr", "ptr", "ptr", "ptr"))
def sys_pselect6(p: Process, nfds: int, rd: int, wr: int, ex: int, tsp: int, sig: int) -> int:
    deadline = deadline_from_timespec(p, tsp)
    restore = None
    if sig:  # struct { const sigset_t *ss; size_t ss_len; }
        w = p.abi.wordsize
        raw = p.mem.read(sig, 2 * w)
        ss, ss_len = (int.from_bytes(raw[i * w:(i + 1) * w], p.abi.byteorder) for i in (0, 1))
        restore = _with_sigmask(p, ss, ss_len)
    remaining = None if p.opts.personality & STICKY_TIMEOUTS else \
        (lambda _r: write_remaining(p, tsp, deadline))
    return _select(p, nfds, (rd, wr, ex), deadline, _chain(restore, remaining))
