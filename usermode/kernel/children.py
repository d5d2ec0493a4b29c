"""Waiting for child processes without tying up a host thread.

A guest wait4/waitid that would block parks its thread on the read end of a pipe that our
host SIGCHLD handler writes to; each wake-up re-runs the wait with WNOHANG. The pipe is
armed (drained) *before* that WNOHANG check, so a child that changes state between the check
and the park still wakes the waiter. Because the park is an ordinary fd wait, a guest signal
interrupts it (EINTR, or a restart under SA_RESTART) as Linux's ERESTARTSYS would.

The host SIGCHLD disposition stays SIG_IGN only while the guest ignores SIGCHLD (then the
kernel reaps children itself, as it would for the guest); otherwise, once something waited,
it is our handler, which also queues the signal for the guest when the guest has a handler.
"""

from __future__ import annotations

import os

from usermode.host.fds import move_high, ours
from usermode.uapi import (
    CLD_CONTINUED,
    CLD_DUMPED,
    CLD_EXITED,
    CLD_KILLED,
    CLD_STOPPED,
    SIGCHLD,
    SIGCONT,
)

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process


class ChildWatch:
    def __init__(self, p: Process) -> None:
        self.p = p
        self.active = False
        self._pipe: tuple[int, int] | None = None
        self._owner = 0  # the pid that made the pipe: a forked child makes its own
        # the siginfo of the child a wait reaped last: the host SIGCHLD about it may be
        # handled only after the guest's wait took the child, when nothing is left to ask
        self.reaped: bytes | None = None
        self.announced: set[tuple[int, int]] = set()  # (pid, CLD_*) a SIGCHLD already told

    def arm(self) -> int:
        """Make host SIGCHLD wake waiters and drain what is pending; returns the fd to wait on."""
        from usermode.kernel import signals

        p = self.p
        if self._pipe is None or self._owner != os.getpid():
            if self._pipe is not None:  # the parent's, inherited by fork
                from usermode.kernel.watchdog import close_reserved

                p.sched.waits.fd_closing(self._pipe[0])
                close_reserved(p, self._pipe)
            r, w = ours(lambda: os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC))
            self._pipe = (move_high(r), move_high(w))
            p.fds.reserved.update(self._pipe)
            self._owner = os.getpid()
        if not self.active:
            self.active = True
            signals.mirror_disposition(p, SIGCHLD)
        self.drain()
        return self._pipe[0]

    def drain(self) -> None:
        if self._pipe is not None:
            try:
                while os.read(self._pipe[0], 256):
                    pass
            except BlockingIOError:
                pass

    def reaped_status(self, pid: int, status: int) -> None:
        """A wait took child `pid` with wait status `status`."""
        from usermode.kernel import signals

        abi = self.p.abi
        if os.WIFEXITED(status):
            code, value = CLD_EXITED, os.WEXITSTATUS(status)
        elif os.WIFSIGNALED(status):
            code = CLD_DUMPED if os.WCOREDUMP(status) else CLD_KILLED
            value = abi.sig_to_guest(os.WTERMSIG(status))
        elif os.WIFSTOPPED(status):
            code, value = CLD_STOPPED, abi.sig_to_guest(os.WSTOPSIG(status))
        elif os.WIFCONTINUED(status):
            code, value = CLD_CONTINUED, abi.sig_to_guest(SIGCONT)
        else:
            return
        if (pid, code) in self.announced:  # its SIGCHLD already went out with this news
            self.announced.discard((pid, code))
            return
        self.reaped = signals.siginfo(self.p, SIGCHLD, code, pid=pid,
                                      uid=os.getuid(), status=value)

    def notify(self) -> None:
        """From the host SIGCHLD handler."""
        if self._pipe is not None and self._owner == os.getpid():
            try:
                os.write(self._pipe[1], b"c")
            except OSError:  # full: a wake-up is pending anyway
                pass
