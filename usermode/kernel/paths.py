"""How guest path names map to host ones: the sysroot overlay and emulated /proc entries.

With a sysroot (`-L DIR`, qemu's semantics), an absolute guest path names the file under the
sysroot when it exists there, and the host's file otherwise. Unlike a plain prefix, symlinks
met on the way are resolved inside the sysroot: an absolute link target in a Debian rootfs
(`/etc/alternatives/awk -> /usr/bin/gawk`) means the rootfs's file, not the host's.

After the guest's chroot the new root is a jail: every absolute path, and every relative one
that climbs with "..", resolves strictly inside it ("/.." is "/", absolute links stay inside,
a missing file is missing). The emulator itself never changes its root: its own files and
imports stay where they are.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from usermode.arch.spec import ArchSpec

_MAX_LINKS = 40


class Paths:
    def __init__(self, exe_path: str, pid: int, sysroot: str | None = None) -> None:
        self.exe = os.fsencode(os.path.realpath(exe_path))
        self._self_exe = {b"/proc/self/exe", b"/proc/thread-self/exe",
                          f"/proc/{pid}/exe".encode()}
        self.sysroot: bytes | None = None
        if sysroot:
            root = os.fsencode(os.path.realpath(sysroot)).rstrip(b"/")
            self.sysroot = root or None
        self.jail: bytes | None = None  # the guest's chroot (a host directory), if any

    # ---- guest -> host -----------------------------------------------------------------------
    def to_host(self, path: bytes, follow: bool = True) -> bytes:
        """The host path for guest `path`. `follow=False` keeps a final symlink itself
        (lstat, readlink, unlink, rename, ... operate on the link)."""
        if path in self._self_exe:
            return self.exe
        if self.jail is not None:
            return self._in_jail(path, follow)
        if self.sysroot is None or path[:1] != b"/":
            return path
        inside = self.resolve(path, follow)
        return inside if inside is not None else path

    def _in_jail(self, path: bytes, follow: bool) -> bytes:
        jail = self.jail
        assert jail is not None
        if path[:1] != b"/":
            if b".." not in path.split(b"/"):
                return path  # below the working directory, which the host resolves
            path = self.to_guest(os.getcwdb()) + b"/" + path
            if path.startswith(b"(unreachable)"):
                return path[len(b"(unreachable)"):]  # cwd outside the jail: as Linux, no limit
        inside = self.resolve(path, follow, jail, strict=True)
        assert inside is not None
        return inside

    def resolve(self, path: bytes, follow: bool = True, root: bytes | None = None,
                strict: bool = False) -> bytes | None:
        """`path` resolved inside `root` (the sysroot), or None when it does not exist there;
        `strict` (a jail): the part that does not exist is appended as it is instead.
        Raises ELOOP after too many symlinks when `strict`."""
        root = root or self.sysroot
        assert root is not None
        parts = [p for p in path.split(b"/") if p and p != b"."]
        done: list[bytes] = []  # resolved components below the root
        links = 0
        while parts:
            name = parts.pop(0)
            if name == b"..":
                if done:
                    done.pop()
                continue
            candidate = root + b"/" + b"/".join([*done, name])
            try:
                mode = os.lstat(candidate).st_mode
            except OSError:
                if strict:  # the host reports what is wrong with the rest
                    return b"/".join([candidate, *parts])
                return None
            if stat.S_ISLNK(mode) and (parts or follow):
                links += 1
                if links > _MAX_LINKS:
                    if strict:
                        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
                    return None
                target = os.readlink(candidate)
                if target.startswith(b"/"):
                    done = []
                parts = [p for p in target.split(b"/") if p and p != b"."] + parts
                continue
            done.append(name)
        return root + b"/" + b"/".join(done) if done else root

    # ---- host -> guest -----------------------------------------------------------------------
    def to_guest(self, path: bytes) -> bytes:
        """A host path as the guest should see it (getcwd inside the sysroot)."""
        if self.jail is not None:
            jail = self.jail
            if path == jail or path.startswith(jail + b"/"):
                return path[len(jail):] or b"/"
            return b"(unreachable)" + path  # as Linux's getcwd outside the root
        root = self.sysroot
        if root and (path == root or path.startswith(root + b"/")):
            return path[len(root):] or b"/"
        return path

    def readlink_special(self, path: bytes) -> bytes | None:
        """The target of a symlink we emulate, or None to ask the host."""
        return self.exe if path in self._self_exe else None


def default_sysroot(arch: ArchSpec, interp: str | None) -> str | None:
    """Without -L: the host itself if it has the interpreter (x86_64 guests), else the
    conventional places qemu users have: /etc/qemu-binfmt/<arch>, then Debian's cross
    sysroot /usr/<triple>."""
    if interp is None or os.path.exists(interp):
        return None
    for cand in (f"/etc/qemu-binfmt/{arch.QEMU_NAME}", f"/usr/{arch.TRIPLE}"):
        if os.path.isdir(cand) and Paths(cand, 0, cand).resolve(os.fsencode(interp)):
            return cand
    return None
