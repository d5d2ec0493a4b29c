"""timer_create, timer_settime, timer_gettime, timer_getoverrun, timer_delete: POSIX timers.

They are the host's: a timer's signal is a host signal to our process, with si_code
SI_TIMER, its id, overrun count and sigev_value, and it reaches the guest as any host signal
does (a handled one through the host signalfd, a default one acting on our process as on the
guest's). Guest threads are green threads on our one host thread, so SIGEV_THREAD_ID names a
guest thread of this process and becomes a process-directed signal. An execve of a foreign
program deletes the old image's timers, as Linux does.
"""

from __future__ import annotations

import ctypes
import errno

from syscalls.linux.epoll import get_itimer, set_itimer
from syscalls.linux.time import TIMER_ABSTIME
from syscalls.registry import PARTIAL, syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import Errno

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD, SIGEV_THREAD_ID = 0, 1, 2, 4
NSIG = 64


class HostSigevent(ctypes.Structure):
    _fields_ = (("value", ctypes.c_uint64), ("signo", ctypes.c_int),
                ("notify", ctypes.c_int), ("tid", ctypes.c_int), ("pad", ctypes.c_int * 11))


def _host_sigevent(p: Process, ptr: int) -> HostSigevent:
    abi = p.abi
    ws, bo = abi.wordsize, abi.byteorder
    raw = p.mem.read(ptr, ws + 12)  # sigev_value, sigev_signo, sigev_notify, sigev_tid
    signo = int.from_bytes(raw[ws:ws + 4], bo, signed=True)
    notify = int.from_bytes(raw[ws + 4:ws + 8], bo, signed=True)
    tid = int.from_bytes(raw[ws + 8:ws + 12], bo, signed=True)
    ev = HostSigevent()
    ev.value = int.from_bytes(raw[:ws], bo)
    if notify == SIGEV_THREAD_ID:
        if tid != p.pid and tid not in p.sched.threads:
            raise Errno(errno.EINVAL)
        notify = SIGEV_SIGNAL  # one host thread for all guest threads
    elif notify not in (SIGEV_SIGNAL, SIGEV_NONE):
        raise Errno(errno.EINVAL)  # SIGEV_THREAD is the C library's, built on THREAD_ID
    if notify == SIGEV_SIGNAL:
        if not 1 <= signo <= NSIG:
            raise Errno(errno.EINVAL)
        if abi.renumbers_signals:
            signo = abi.sig_in.get(signo, signo)
    ev.signo, ev.notify = signo, notify
    return ev


@syscall("timer_create", args=("int:clockid", "ptr", "ptr"), support=PARTIAL,
         note="the host's timers; SIGEV_THREAD_ID signals go to the process")
def sys_timer_create(p: Process, clockid: int, sevp: int, timerid: int) -> int:
    ev = _host_sigevent(p, sevp) if sevp else None
    made = ctypes.c_int()
    hostsys.syscall(hostsys.NR["timer_create"], clockid,
                    ctypes.addressof(ev) if ev is not None else 0, ctypes.addressof(made))
    try:
        p.mem.write(timerid, made.value.to_bytes(4, p.abi.byteorder, signed=True))
    except Errno:
        hostsys.syscall(hostsys.NR["timer_delete"], made.value)
        raise
    p.posix_timers.add(made.value)
    return 0


@syscall("timer_settime", args=("int", "int", "ptr", "ptr"))
def sys_timer_settime(p: Process, timerid: int, flags: int, new: int, old: int) -> int:
    if flags & ~TIMER_ABSTIME or not new:  # Linux: no new value is EINVAL, not EFAULT
        raise Errno(errno.EINVAL)
    return set_itimer(p, hostsys.NR["timer_settime"], timerid, flags, new, old)


@syscall("timer_gettime", args=("int", "ptr"))
def sys_timer_gettime(p: Process, timerid: int, cur: int) -> int:
    return get_itimer(p, hostsys.NR["timer_gettime"], timerid, cur)


@syscall("timer_getoverrun", args=("int",))
def sys_timer_getoverrun(p: Process, timerid: int) -> int:
    return hostsys.syscall(hostsys.NR["timer_getoverrun"], timerid)


@syscall("timer_delete", args=("int",))
def sys_timer_delete(p: Process, timerid: int) -> int:
    r = hostsys.syscall(hostsys.NR["timer_delete"], timerid)
    p.posix_timers.discard(timerid)
    return r

