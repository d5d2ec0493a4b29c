"""What the emulator knows about the guest's file descriptors.

Guest fd numbers are host fd numbers (as in qemu-user). We cache, per fd, whether an
operation on it may block (pipes, sockets, terminals), so that regular files and devices
such as /dev/null cost no extra poll. Every handler that creates or replaces an fd calls
`forget` so the cache never describes a previous file.
"""

from __future__ import annotations

import fcntl
import os
import stat


class FdTable:
    def __init__(self) -> None:
        self._blocking: dict[int, bool] = {}
        self._nonblock: dict[int, bool] = {}
        # The other end of a pipe or socketpair the guest created: a write on one end makes
        # the other readable (and a read makes it writable), so the scheduler can wake a
        # thread parked there directly, without asking the kernel.
        self.peer: dict[int, int] = {}
        # The emulator's own fds (trace log, -d log): invisible to the guest, never closed
        # or replaced by it.
        self.reserved: set[int] = set()
        # signalfds (host eventfds standing in for them): fd -> signal mask, and those whose
        # counter we set because one of their signals is pending (usermode/kernel/signals.py)
        self.signalfd: dict[int, int] = {}
        self.signalfd_armed: set[int] = set()
        # directories whose entries we give (/proc/self/task: the guest's threads): fd -> the
        # linux_dirent64 records getdents64 has still to return
        self.listing: dict[int, list[bytes]] = {}
        # a big-endian guest's fds whose records the host writes in its own byte order:
        # fd -> "u64" (eventfd, timerfd counters) or "inotify" (struct inotify_event)
        self.byteswap: dict[int, str] = {}

    def may_block(self, fd: int) -> bool:
        r = self._blocking.get(fd)
        if r is None:
            return self._examine(fd)
        return r

    def _examine(self, fd: int) -> bool:
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            return False  # the operation itself will report EBADF
        # pipes, sockets, terminals, and anonymous inodes (no file type: eventfd, timerfd,
        # signalfd, epoll, inotify), whose reads wait for an event
        r = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_IFMT(mode) == 0 or \
            (stat.S_ISCHR(mode) and os.isatty(fd))
        self._blocking[fd] = r
        return r

    @staticmethod
    def is_socket(fd: int) -> bool:
        try:
            return stat.S_ISSOCK(os.fstat(fd).st_mode)
        except OSError:
            return False

    def nonblocking(self, fd: int) -> bool:
        """The file's O_NONBLOCK flag (cached: only F_SETFL and FIONBIO change it, and they
        call `flags_changed`)."""
        r = self._nonblock.get(fd)
        if r is None:
            r = self._nonblock[fd] = bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK)
        return r

    def flags_changed(self) -> None:
        """Status flags changed: they belong to the open file, which other fds may share."""
        self._nonblock.clear()

    def adopt(self, fd: int, swap: str | None = None) -> int:
        """A new fd from the host: nothing cached about its number survives. Returns it.
        `swap`: its records need turning around for a big-endian guest (`byteswap`)."""
        self.forget(fd)
        if swap is not None:
            self.byteswap[fd] = swap
        return fd

    def link(self, a: int, b: int) -> None:
        self.peer[a] = b
        self.peer[b] = a

    def forget(self, fd: int) -> None:
        if self.listing:
            self.listing.pop(fd, None)
        if self.byteswap:
            self.byteswap.pop(fd, None)
        if self.signalfd:
            self.signalfd.pop(fd, None)
            self.signalfd_armed.discard(fd)
        self._blocking.pop(fd, None)
        self._nonblock.pop(fd, None)
        other = self.peer.pop(fd, None)
        if other is not None and self.peer.get(other) == fd:
            del self.peer[other]

    def forget_all(self) -> None:
        self.listing.clear()
        self.byteswap.clear()
        self._blocking.clear()
        self._nonblock.clear()
        self.peer.clear()
