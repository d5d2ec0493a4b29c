"""signalfd, signalfd4, rt_sigqueueinfo, rt_tgsigqueueinfo: signals as data.

Guest signals are pending in our own structures (usermode/kernel/signals.py), not in the host
kernel, so a guest signalfd is a host eventfd that stands in for it: pollable, close-on-exec
and non-blocking as asked, readable exactly while one of its signals is pending (kept so by
`signals.sync_signalfds`). A read of it dequeues those signals here and returns
`struct signalfd_siginfo` records.
"""

from __future__ import annotations

import errno
import os
from select import POLLIN

from syscalls.linux.signal import check_delivery, target_for_process
from syscalls.registry import PARTIAL, syscall
from usermode.host import syscalls as hostsys
from usermode.host.syscalls import NR
from usermode.kernel import signals
from usermode.kernel.errors import Errno, Park
from usermode.kernel.memory import PROT_W
from usermode.uapi import SI_TIMER, SI_TKILL, SIGCHLD, UNBLOCKABLE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

SFD_CLOEXEC, SFD_NONBLOCK = os.O_CLOEXEC, os.O_NONBLOCK
SIGINFO_SIZE = 128  # struct signalfd_siginfo, like siginfo_t
FAULTS = frozenset({4, 5, 7, 8, 11})


def _new_signalfd(p: Process, fd: int, mask_ptr: int, size: int, flags: int) -> int:
    if size != p.abi.sigset_size or flags & ~(SFD_CLOEXEC | SFD_NONBLOCK):
        raise Errno(errno.EINVAL)
    mask = p.abi.from_guest_sigset(p.mem.read(mask_ptr, size)) & ~UNBLOCKABLE
    if fd != -1:
        if fd not in p.fds.signalfd:
            os.fstat(fd)  # EBADF for a closed fd
            raise Errno(errno.EINVAL)
        p.fds.signalfd[fd] = mask
    else:
        host_flags = (os.EFD_CLOEXEC if flags & SFD_CLOEXEC else 0) | \
            (os.EFD_NONBLOCK if flags & SFD_NONBLOCK else 0)
        fd = p.fds.adopt(os.eventfd(0, host_flags))
        p.fds.signalfd[fd] = mask
    signals.sync_signalfds(p)
    return fd


@syscall("signalfd4", args=("int", "ptr", "size", "int:sfd_flags"), ret="fd")
def sys_signalfd4(p: Process, fd: int, mask: int, size: int, flags: int) -> int:
    return _new_signalfd(p, fd, mask, size, p.abi.from_guest_open_flags(flags))


@syscall("signalfd", args=("int", "ptr", "size"), ret="fd")
def sys_signalfd(p: Process, fd: int, mask: int, size: int) -> int:
    return _new_signalfd(p, fd, mask, size, 0)


def to_guest_signalfd_siginfo(p: Process, info: bytes) -> bytes:
    """Our pending siginfo_t (64-bit layout) as the kernel's signalfd_siginfo record."""
    bo = p.abi.byteorder
    c, e = p.abi.siginfo_code_errno  # mips swaps si_code and si_errno
    signo = p.abi.sig_in.get(int.from_bytes(info[0:4], bo), 0)
    code = int.from_bytes(info[c:c + 4], bo, signed=True)
    out = bytearray(SIGINFO_SIZE)
    w = p.abi.wordsize
    u = 16 if w == 8 else 12  # siginfo's union

    def word(off: int) -> bytes:  # a guest word widened to the record's 64-bit field
        return int.from_bytes(info[off:off + w], bo).to_bytes(8, bo)

    out[0:4], out[4:8], out[8:12] = info[0:4], info[e:e + 4], info[c:c + 4]
    if signo in FAULTS and code > 0:
        out[72:80] = word(u)  # ssi_addr
    elif code == p.abi.si_codes.get(SI_TIMER, SI_TIMER):
        out[24:32] = info[u:u + 8]  # ssi_tid, ssi_overrun
        out[44:48] = info[u + 8:u + 12]  # ssi_int
        out[48:56] = word(u + 8)  # ssi_ptr
    else:
        out[12:20] = info[u:u + 8]  # ssi_pid, ssi_uid
        if signo == SIGCHLD and code > 0:
            out[40:44] = info[u + 8:u + 12]  # ssi_status
            out[56:64] = word(u + 8 + w)  # ssi_utime
            out[64:72] = word(u + 8 + 2 * w)  # ssi_stime
        elif code < 0:
            out[44:48] = info[u + 8:u + 12]  # ssi_int
            out[48:56] = word(u + 8)  # ssi_ptr
    return bytes(out)


def signalfd_read(p: Process, fd: int, buf: int, count: int) -> int:
    """read() of a signalfd: as many pending signals of its mask as fit, the caller's own
    first, then those pending on other threads of the process."""
    if count < SIGINFO_SIZE:
        raise Errno(errno.EINVAL)
    view = p.mem.view(buf, count - count % SIGINFO_SIZE, PROT_W, True)
    mask = p.fds.signalfd[fd]
    threads = [p.thread, *(t for t in p.sched.threads.values() if t is not p.thread)]
    n = 0
    for t in threads:
        while n + SIGINFO_SIZE <= len(view):
            ready = signals.pending_mask(t) & mask
            if not ready:
                break
            signo = (ready & -ready).bit_length()
            view[n:n + SIGINFO_SIZE] = to_guest_signalfd_siginfo(p, signals.take(p, t, signo))
            n += SIGINFO_SIZE
    if n:
        return n
    if p.fds.nonblocking(fd):
        raise Errno(errno.EAGAIN)
    raise Park(lambda _reason: signalfd_read(p, fd, buf, count), fds=((fd, POLLIN),))


# ---- queueing with data --------------------------------------------------------------------------
def _guest_info(p: Process, sig: int, uinfo: int) -> tuple[bytes, int]:
    """The caller's siginfo with si_signo set to `sig` (as the kernel does), and its code."""
    info = bytearray(p.mem.read(uinfo, SIGINFO_SIZE))
    bo = p.abi.byteorder
    info[0:4] = p.abi.sig_to_guest(sig).to_bytes(4, bo)
    c = p.abi.siginfo_code_errno[0]
    return bytes(info), int.from_bytes(info[c:c + 4], bo, signed=True)


def _to_host(p: Process, sig: int, info: bytes, code: int) -> bytes:
    """For another process: only codes the kernel lets a sender claim, and the guest's
    pid, uid and value moved to the host's siginfo layout."""
    if code >= 0 or code == SI_TKILL:
        raise Errno(errno.EPERM)
    bo, ws = p.abi.byteorder, p.abi.wordsize
    u = 16 if ws == 8 else 12
    pid, uid = (int.from_bytes(info[u + k:u + k + 4], bo) for k in (0, 4))
    value = int.from_bytes(info[u + 8:u + 8 + ws], bo)
    head = b"".join(v.to_bytes(4, "little", signed=True) for v in (sig, 0, code, 0))
    return (head + pid.to_bytes(4, "little") + uid.to_bytes(4, "little")
            + value.to_bytes(8, "little")).ljust(SIGINFO_SIZE, b"\0")


@syscall("rt_sigqueueinfo", args=("int", "int:signal", "ptr"), support=PARTIAL,
         note="our process: queued with its data; others through the host")
def sys_rt_sigqueueinfo(p: Process, tgid: int, sig: int, uinfo: int) -> int:
    if not 0 <= sig <= 64:
        raise Errno(errno.EINVAL)
    info, code = _guest_info(p, sig, uinfo)
    if tgid != p.pid:
        return hostsys.syscall(NR["rt_sigqueueinfo"], tgid, sig, _to_host(p, sig, info, code))
    if sig == 0:
        return 0
    t = target_for_process(p, sig)
    signals.queue(p, t, sig, info)
    return check_delivery(p) if t is p.thread else 0


@syscall("rt_tgsigqueueinfo", args=("int", "int", "int:signal", "ptr"), support=PARTIAL,
         note="our threads: queued with its data; others through the host")
def sys_rt_tgsigqueueinfo(p: Process, tgid: int, tid: int, sig: int, uinfo: int) -> int:
    if not 0 <= sig <= 64 or tgid <= 0 or tid <= 0:
        raise Errno(errno.EINVAL)
    info, code = _guest_info(p, sig, uinfo)
    if tgid != p.pid:
        if tid == tgid:  # an emulated process reads only process-wide signals with their
            # siginfo (usermode/host/signals.py): its main thread gets it as one of those
            return hostsys.syscall(NR["rt_sigqueueinfo"], tgid, sig, _to_host(p, sig, info, code))
        return hostsys.syscall(NR["rt_tgsigqueueinfo"], tgid, tid, sig,
                               _to_host(p, sig, info, code))
    t = p.sched.threads.get(tid)
    if t is None:
        raise Errno(errno.ESRCH)
    if sig == 0:
        return 0
    signals.queue(p, t, sig, info)
    return check_delivery(p) if t is p.thread else 0
