"""fd monitors for the event loop: level-triggered, one interface, epoll by default.

`wait(timeout_ns)` returns `[(fd, revents)]`; a timeout of -1 waits for ever, 0 only peeks.
Python's `epoll.poll(t)` rounds t up to whole milliseconds, so a positive timeout is spent in
`select` on the epoll fd (µs resolution), followed by `epoll.poll(0)` to collect events.
"""

from __future__ import annotations

import fcntl
import os
import select
import stat

from usermode.host.fds import HIGH_FD, ours

MAX_WAIT_NS = 86_400 * 10**9  # the longest single wait in the kernel



IN = select.POLLIN
OUT = select.POLLOUT
ERR = select.POLLERR
HUP = select.POLLHUP


class FdMonitor:
    """The shared part: regular files cannot be monitored by the kernel and are always
    ready, so they are kept here; backends implement the `_kernel_*` calls."""

    supports_userspace_poll = False

    def __init__(self) -> None:
        self._files: dict[int, int] = {}  # always-ready fds and their interest
        self.waits = 0

    def add(self, fd: int, events: int, always_ready: bool | None = None) -> None:
        """Watch `fd`; `always_ready=False` vouches that it is a pipe, socket or tty (so no
        fstat is needed to tell)."""
        if always_ready if always_ready is not None else _always_ready(fd):
            self._files[fd] = events
        else:
            self._kernel_add(fd, events)

    def modify(self, fd: int, events: int) -> None:
        if fd in self._files:
            self._files[fd] = events
        else:
            self._kernel_modify(fd, events)

    def remove(self, fd: int) -> None:
        """Call before the fd is closed: epoll keys on the open file, not the number."""
        if self._files.pop(fd, None) is None:
            self._kernel_remove(fd)

    def wait(self, timeout_ns: int) -> list[tuple[int, int]]:
        """Events within `timeout_ns` (-1: until one comes). A wait longer than a day is cut
        to a day: the caller's loop re-computes it (a guest may sleep for centuries)."""
        files = [(fd, ev & (IN | OUT)) for fd, ev in self._files.items()]
        self.waits += 1
        return files + self._kernel_wait(0 if files else min(timeout_ns, MAX_WAIT_NS))

    def close(self) -> None:
        pass

    def internal_fds(self) -> set[int]:
        return set()

    def _kernel_add(self, fd: int, events: int) -> None:
        raise NotImplementedError

    def _kernel_modify(self, fd: int, events: int) -> None:
        raise NotImplementedError

    def _kernel_remove(self, fd: int) -> None:
        raise NotImplementedError

    def _kernel_wait(self, timeout_ns: int) -> list[tuple[int, int]]:
        raise NotImplementedError


def _always_ready(fd: int) -> bool:
    """Regular files and directories cannot be monitored: they are always ready."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode)


class EpollMonitor(FdMonitor):
    def __init__(self) -> None:
        super().__init__()
        ep = ours(select.epoll)
        high = ours(lambda: fcntl.fcntl(ep.fileno(), fcntl.F_DUPFD_CLOEXEC, HIGH_FD))
        ep.close()
        self._ep = select.epoll.fromfd(high)
        if self._ep.fileno() >= 1024:  # select() below cannot take higher fds
            raise OSError("epoll fd above FD_SETSIZE")

    def _kernel_add(self, fd: int, events: int) -> None:
        self._ep.register(fd, events)

    def _kernel_modify(self, fd: int, events: int) -> None:
        self._ep.modify(fd, events)

    def _kernel_remove(self, fd: int) -> None:
        try:
            self._ep.unregister(fd)
        except (OSError, ValueError):
            pass

    def _kernel_wait(self, timeout_ns: int) -> list[tuple[int, int]]:
        if timeout_ns > 0:
            select.select([self._ep.fileno()], [], [], timeout_ns / 1e9)
            return list(self._ep.poll(0))
        return list(self._ep.poll(-1 if timeout_ns < 0 else 0))

    def internal_fds(self) -> set[int]:
        return {self._ep.fileno()}

    def close(self) -> None:
        self._ep.close()


class PollMonitor(FdMonitor):
    """Fallback where epoll is missing: poll() takes the whole set on every wait."""

    def __init__(self) -> None:
        super().__init__()
        self._p = select.poll()

    def _kernel_add(self, fd: int, events: int) -> None:
        self._p.register(fd, events)

    def _kernel_modify(self, fd: int, events: int) -> None:
        self._p.modify(fd, events)

    def _kernel_remove(self, fd: int) -> None:
        try:
            self._p.unregister(fd)
        except KeyError:
            pass

    def _kernel_wait(self, timeout_ns: int) -> list[tuple[int, int]]:
        ms = -1 if timeout_ns < 0 else (timeout_ns + 999_999) // 1_000_000
        return self._p.poll(ms)


def default_monitor() -> FdMonitor:
    return EpollMonitor() if hasattr(select, "epoll") else PollMonitor()
