"""What the emulator knows about the guest's file descriptors.

Guest fd numbers are host fd numbers (as in qemu-user). We cache, per fd, whether an
operation on it may block (pipes, sockets, terminals), so that regular files and devices
such as /dev/null cost no extra poll. Every handler that creates or replaces an fd calls
`forget` so the cache never describes a previous file.
"""

from __future__ import annotations

import os
import stat


class FdTable:
    def __init__(self) -> None:
        self._blocking: dict[int, bool] = {}
        # The emulator's own fds (trace log, -d log): invisible to the guest, never closed
        # or replaced by it.
        self.reserved: set[int] = set()

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
        r = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or (stat.S_ISCHR(mode) and os.isatty(fd))
        self._blocking[fd] = r
        return r

    def forget(self, fd: int) -> None:
        self._blocking.pop(fd, None)

    def forget_all(self) -> None:
        self._blocking.clear()
