"""How guest path names map to host ones.

Issue 3 adds the sysroot overlay (qemu's -L semantics); today guest paths are host paths,
except the /proc entries that must describe the guest rather than the emulator.
"""

from __future__ import annotations

import os


class Paths:
    def __init__(self, exe_path: str, pid: int) -> None:
        self.exe = os.fsencode(os.path.realpath(exe_path))
        self._self_exe = {b"/proc/self/exe", b"/proc/thread-self/exe",
                          f"/proc/{pid}/exe".encode()}

    def to_host(self, path: bytes) -> bytes:
        if path in self._self_exe:
            return self.exe
        return path

    def to_guest(self, path: bytes) -> bytes:
        return path

    def readlink_special(self, path: bytes) -> bytes | None:
        """The target of a symlink we emulate, or None to ask the host."""
        return self.exe if path in self._self_exe else None
