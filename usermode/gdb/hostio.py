"""gdb's `vFile:` packets: it reads the program and its shared libraries through the
target, so the guest's paths are looked up as the guest sees them (the `-L` sysroot, a
chroot) and gdb finds the libraries without a `set sysroot` of its own. Read-only."""

from __future__ import annotations

import errno
import os
import struct

from usermode.host.fds import move_high

TYPE_CHECKING = False
if TYPE_CHECKING:
    from usermode.gdb.stub import GdbStub

# gdb's File-I/O errno values where they differ from Linux's (the rest agree up to 30)
_ERRNO = {errno.ENAMETOOLONG: 91}
_UNKNOWN = 9999


def _error(e: OSError) -> bytes:
    n = e.errno or 0
    n = _ERRNO.get(n, n if 0 < n <= 30 else _UNKNOWN)
    return b"F-1,%x" % n


def _fio_stat(st: os.stat_result) -> bytes:
    """gdb's `struct fio_stat`: big-endian, 32-bit fields but the sizes."""
    return struct.pack(">IIIIIIIQQQIII", st.st_dev & 0xFFFFFFFF, st.st_ino & 0xFFFFFFFF,
                       st.st_mode, st.st_nlink, st.st_uid, st.st_gid, st.st_rdev & 0xFFFFFFFF,
                       st.st_size, st.st_blksize, st.st_blocks, int(st.st_atime) & 0xFFFFFFFF,
                       int(st.st_mtime) & 0xFFFFFFFF, int(st.st_ctime) & 0xFFFFFFFF)


class HostIo:
    def __init__(self) -> None:
        self.fds: set[int] = set()

    def handle(self, stub: GdbStub, pkt: bytes) -> bytes:
        op, _, args = pkt[len(b"vFile:"):].partition(b":")
        try:
            if op == b"setfs":
                return b"F0"
            if op == b"open":
                return self._open(stub, *args.split(b","))
            if op == b"pread":
                fd, count, offset = (int(x, 16) for x in args.split(b","))
                self._check(fd)
                data = os.pread(fd, min(count, 16384), offset)
                return b"F%x;" % len(data) + data
            if op == b"close":
                fd = int(args, 16)
                self._check(fd)
                self.fds.discard(fd)
                os.close(fd)
                return b"F0"
            if op == b"fstat":
                fd = int(args, 16)
                self._check(fd)
                data = _fio_stat(os.fstat(fd))
                return b"F%x;" % len(data) + data
            if op == b"readlink":
                assert stub.proc is not None
                target = os.readlink(stub.proc.paths.to_host(bytes.fromhex(args.decode()),
                                                             follow=False))
                return b"F%x;" % len(target) + target
        except OSError as e:
            return _error(e)
        except ValueError:
            return b"F-1,16"  # EINVAL (22)
        return b""  # unlink, pwrite...: not offered

    def _open(self, stub: GdbStub, path_hex: bytes, flags: bytes, _mode: bytes = b"0") -> bytes:
        assert stub.proc is not None
        if int(flags, 16) & 3:  # O_WRONLY or O_RDWR: gdb only reads here
            return b"F-1,d"  # EACCES
        from usermode.kernel.procfs import open_emulated

        guest_path = bytes.fromhex(path_hex.decode())
        fd = open_emulated(stub.proc, guest_path, os.O_CLOEXEC)  # `info proc mappings`
        if fd is None:
            fd = os.open(stub.proc.paths.to_host(guest_path), os.O_RDONLY | os.O_CLOEXEC)
        fd = move_high(fd)
        self.fds.add(fd)
        return b"F%x" % fd

    def _check(self, fd: int) -> None:
        if fd not in self.fds:  # only what gdb opened here: never one of ours or the guest's
            raise OSError(errno.EBADF, "not a vFile fd")

    def close_all(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds.clear()
