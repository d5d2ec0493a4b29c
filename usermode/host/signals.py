"""Host signals read with their siginfo: who sent them (pid, uid), the si_code, a sigqueue value.

A Python signal handler learns only the signal's number, so a guest's SA_SIGINFO handler
used to see si_pid 0 for a kill() from another process. Signals the guest catches or
blocks are therefore blocked on the host's main thread and read from a host signalfd by
the watchdog thread. It keeps each record and hands the signal to the main thread with
`_thread.interrupt_main(signo)`: the same Python handler runs at the same moment as for
a delivered signal, and takes the records.

Left on plain Python handlers:
- signals the kernel sends to the thread that made a call (SIGPIPE, SIGXFSZ), which the
  watchdog's signalfd could not read;
- job control (SIGTSTP, SIGTTIN, SIGTTOU), whose kernel checks look at the host mask;
- SIGCHLD, whose siginfo comes from waitid (signals.child_siginfo).
Threads of ours other than the main one block the signals read here, so none is delivered
there; a delivery elsewhere (a thread of an API caller) still reaches the guest, as a plain
SI_USER. A signal sent to our main thread alone (tgkill from outside, F_SETOWN_EX) is not
visible to the watchdog's read; the event loop waits on the signalfd too, so the main
thread reads it once the guest waits (and at the latest when the guest parks). Another
emulated process aims its rt_tgsigqueueinfo at our main thread as a process-directed one.
"""

from __future__ import annotations

import ctypes
import os
import struct

from usermode.host.fds import move_high, ours
from usermode.host.lean import allocate_lock, deque
from usermode.host.lean import signal as host
from usermode.uapi import SI_TIMER, SIGCHLD, SIGPIPE, SIGXFSZ

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NamedTuple
else:
    from loaders.records import NamedTuple

JOB_CONTROL = (20, 21, 22)  # SIGTSTP SIGTTIN SIGTTOU
_NOT_VIA_FD = {4, 5, 7, 8, 9, 11, 19, SIGCHLD, SIGPIPE, SIGXFSZ, *JOB_CONTROL}
VIA_FD = frozenset(s for s in host.valid_signals() if s not in _NOT_VIA_FD)

RECORD = 128  # struct signalfd_siginfo
_FIELDS = struct.Struct("=IiiIIiIIIIiiQ")  # signo errno code pid uid fd tid band ... ptr

_libc = ctypes.CDLL(None, use_errno=True)
_libc.signalfd.restype = ctypes.c_int
_libc.signalfd.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int)


class HostSigInfo(NamedTuple):
    signo: int
    code: int
    pid: int
    uid: int
    value: int  # sigval (si_int / si_ptr) of a sigqueue or timer signal
    band: int = 0  # an I/O signal's (F_SETSIG) si_band and si_fd
    fd: int = -1


def block_ours() -> None:
    """In a thread of ours other than the main one: take none of the signals read here."""
    host.pthread_sigmask(host.SIG_BLOCK, VIA_FD)


def with_guest_mask(guest_mask: int) -> set[int]:
    """Before an execve of a host program: the host mask becomes the guest thread's (the
    new program starts with it, as after a native execve). Returns the mask to restore if
    the execve fails."""
    blocked = [s for s in host.valid_signals() if guest_mask >> (s - 1) & 1 and s not in (9, 19)]
    return set(host.pthread_sigmask(host.SIG_SETMASK, blocked))


def restore_mask(saved: set[int]) -> None:
    host.pthread_sigmask(host.SIG_SETMASK, saved & host.valid_signals())


def _checked(r: int) -> int:
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


class HostSignalFd:
    """The signalfd and the set of signals it reads (blocked on the main thread)."""

    def __init__(self, reserve: Callable[[int], None]) -> None:
        self.fd = -1
        self.signals: set[int] = set()
        # Read, not yet handed on. The main thread's Python handler can run between any two
        # of its bytecodes, so the handler's side (drain) takes no lock and records move by
        # atomic deque calls; `lock` only keeps a read and its append together (watchdog)
        # against the main thread's own reads outside handlers (change, kill(0)).
        self._inbox: deque[HostSigInfo] = deque()
        self.announced: set[int] = set()  # signals handed to the main thread by the watchdog
        self.lock = allocate_lock()
        self._reserve = reserve

    def _set_mask(self) -> None:
        mask = (ctypes.c_uint64 * 16)(sum(1 << (s - 1) for s in self.signals))
        fd = ours(lambda: _checked(_libc.signalfd(self.fd, mask, os.O_NONBLOCK | os.O_CLOEXEC)))
        if self.fd < 0:
            fd = move_high(fd)  # out of the guest's way, like our other fds
            self._reserve(fd)
        self.fd = fd

    def change(self, add: set[int], remove: set[int]) -> bool:
        """Read `add` here from now on and stop reading `remove` (main thread). Returns
        whether records wait to be handed on (`drain`), so none is lost for a removed one."""
        add -= self.signals
        remove &= self.signals
        if add:
            host.pthread_sigmask(host.SIG_BLOCK, add)  # first: none slips past both ways
            self.signals |= add
            self._set_mask()
        if remove:
            with self.lock:  # a record the watchdog is reading lands before we look
                self.read()
                self.signals -= remove
                if self.signals:
                    self._set_mask()
                host.pthread_sigmask(host.SIG_UNBLOCK, remove)
        return bool(self._inbox)

    def read(self) -> list[int]:
        """Read every waiting record; returns their signals in order."""
        got: list[int] = []
        while self.fd >= 0:
            try:
                data = os.read(self.fd, RECORD * 32)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            for off in range(0, len(data) - RECORD + 1, RECORD):
                signo, _err, code, pid, uid, fd, tid, band, ovr, _trap, _st, _int, ptr = \
                    _FIELDS.unpack_from(data, off)
                if code == SI_TIMER:  # a POSIX timer's id and overrun, where siginfo has them
                    pid, uid = tid, ovr
                self._inbox.append(HostSigInfo(signo, code, pid, uid, ptr, band, fd))
                got.append(signo)
            if len(data) < RECORD * 32:
                break
        return got

    def drain(self) -> list[HostSigInfo]:
        """Every record read so far, whatever its signal, in order (main thread)."""
        out = []
        inbox = self._inbox
        while True:
            try:
                out.append(inbox.popleft())
            except IndexError:
                return out

    def forget(self) -> None:
        """In a forked child: what was read so far was sent to the parent. The lock is made
        anew: the parent's watchdog may have held it at the fork, and it has no thread here
        to let go of it (the child would wait for it for ever)."""
        self.lock = allocate_lock()
        self._inbox.clear()

    def close(self) -> None:
        """Stop reading: every signal goes back to the host's normal delivery."""
        if self.signals:
            host.pthread_sigmask(host.SIG_UNBLOCK, self.signals)
            self.signals.clear()
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1
        self._inbox.clear()
