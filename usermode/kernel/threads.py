"""A guest thread: a saved Unicorn context plus the per-task state Linux keeps (tid,
clear_child_tid, robust list, signal mask, alternate stack, pending signals)."""

from __future__ import annotations

import ctypes

from usermode.kernel.errors import WOKEN

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable

    from usermode.kernel.errors import Park

RUN, PARKED, DEAD = 0, 1, 2


class Thread:
    """One guest thread: its saved registers and per-task kernel state."""

    __slots__ = ("altstack", "cleanups", "clear_child_tid", "comm", "ctx", "exit_code", "futex",
                 "park", "pending", "queued", "reason", "restore_mask", "robust_list",
                 "sigmask", "sigsnapshots", "sigwait", "state", "tid")

    def __init__(self, tid: int) -> None:
        self.tid = tid
        self.comm: bytes | None = None  # its name (PR_SET_NAME); None: the process's
        self.ctx: ctypes.c_void_p | None = None
        self.state = RUN
        self.park: Park | None = None
        self.reason = WOKEN
        self.cleanups: list[Callable[[], None]] = []  # undo a parked wait's registrations
        self.futex: list[int] | None = None  # [uaddr, bitset] while in a futex wait
        self.clear_child_tid = 0
        self.robust_list = 0
        self.sigmask = 0
        self.altstack: tuple[int, int, int] | None = None  # (ss_sp, ss_flags, ss_size)
        self.exit_code = 0
        self.pending: dict[int, bytes] = {}  # signo -> siginfo
        self.queued: dict[int, list[bytes]] = {}  # further instances of real-time signals
        self.restore_mask: int | None = None  # the mask to put back after sigsuspend & co
        self.sigwait = 0  # signals rt_sigtimedwait is waiting for (blocked ones included)
        self.sigsnapshots: dict[int, ctypes.c_void_p] = {}  # frame -> registers at delivery


def first_tid() -> int:
    """Thread ids above pid_max: never a real process's pid, so a guest kill() aimed at one
    of our threads cannot reach a stranger."""
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            return int(f.read()) + 1
    except (OSError, ValueError):
        return 4194305
