"""ioctl: terminals (termios, window size, foreground process group, controlling tty, ptys)
and the generic file ioctls (FIONREAD, FIONBIO, FIOCLEX).

Every request here has the same argument layout on the host and on most guests (aarch64
uses the generic tty numbers, which are x86's), so the host call gets the guest's buffer in
place. MIPS numbers the requests anew (the dispatcher renumbers them) and has its own
struct termios: 23 control characters, four of them in other slots, and three lflag bits
moved; those requests go through a host-side copy. Guest pids are host pids, so process
groups pass through.

Job control: the kernel decides from the *host* thread's signal mask whether a background
process that changes the terminal is stopped with SIGTTOU. Guest masks are ours, so while
such a call runs, SIGTTOU is blocked on the host if the guest thread blocks it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

from syscalls.dispatch import fdget
from syscalls.linux.ioctl_more import other_ioctl
from syscalls.registry import PARTIAL, syscall
from usermode.host import syscalls as hostsys
from usermode.host.lean import signal as host_signal
from usermode.kernel.errors import Errno
from usermode.kernel.memory import PROT_R, PROT_W
from usermode.uapi import (
    FIONBIO,
    FIONREAD,
    SIGTTOU,
    TCFLSH,
    TCGETS,
    TCGETS2,
    TCSBRK,
    TCSBRKP,
    TCSETS,
    TCSETS2,
    TCSETSF,
    TCSETSF2,
    TCSETSW,
    TCSETSW2,
    TCXONC,
    TIOCEXCL,
    TIOCGETD,
    TIOCGEXCL,
    TIOCGLCKTRMIOS,
    TIOCGPGRP,
    TIOCGPTN,
    TIOCGPTPEER,
    TIOCGSID,
    TIOCGWINSZ,
    TIOCMGET,
    TIOCMSET,
    TIOCNOTTY,
    TIOCNXCL,
    TIOCOUTQ,
    TIOCSCTTY,
    TIOCSETD,
    TIOCSLCKTRMIOS,
    TIOCSPGRP,
    TIOCSPTLCK,
    TIOCSTI,
    TIOCSWINSZ,
    TIOCVHANGUP,
)

TYPE_CHECKING = False

if TYPE_CHECKING:
    from syscalls.abi import Abi
    from usermode.kernel.process import Process

FIONCLEX, FIOCLEX, FIOASYNC = 0x5450, 0x5451, 0x5452
TERMIOS, TERMIOS2 = 36, 44  # struct termios (NCCS 19) and termios2 with the two speeds

# request -> (bytes the kernel accesses at the argument, the access); 0 bytes: an integer.
_BUFS: dict[int, tuple[int, int]] = {
    TCGETS: (TERMIOS, PROT_W), TCSETS: (TERMIOS, PROT_R), TCSETSW: (TERMIOS, PROT_R),
    TCSETSF: (TERMIOS, PROT_R), TCGETS2: (TERMIOS2, PROT_W), TCSETS2: (TERMIOS2, PROT_R),
    TCSETSW2: (TERMIOS2, PROT_R), TCSETSF2: (TERMIOS2, PROT_R),
    TIOCGLCKTRMIOS: (TERMIOS, PROT_W), TIOCSLCKTRMIOS: (TERMIOS, PROT_R),
    TIOCGWINSZ: (8, PROT_W), TIOCSWINSZ: (8, PROT_R), TIOCGPGRP: (4, PROT_W),
    TIOCSPGRP: (4, PROT_R), TIOCGSID: (4, PROT_W), TIOCOUTQ: (4, PROT_W), TIOCSTI: (1, PROT_R),
    TIOCMGET: (4, PROT_W), TIOCMSET: (4, PROT_R), TIOCGETD: (4, PROT_W), TIOCSETD: (4, PROT_R),
    TIOCGPTN: (4, PROT_W), TIOCSPTLCK: (4, PROT_R), TIOCGEXCL: (4, PROT_W),
    FIONREAD: (4, PROT_W), FIONBIO: (4, PROT_R), FIOASYNC: (4, PROT_R),
    TCSBRK: (0, 0), TCSBRKP: (0, 0), TCXONC: (0, 0), TCFLSH: (0, 0), TIOCEXCL: (0, 0),
    TIOCNXCL: (0, 0), TIOCSCTTY: (0, 0), TIOCNOTTY: (0, 0), TIOCVHANGUP: (0, 0),
    TIOCGPTPEER: (0, 0), FIOCLEX: (0, 0), FIONCLEX: (0, 0),
}
_TERMIOS_GET = frozenset({TCGETS, TCGETS2, TIOCGLCKTRMIOS})
# requests every file takes (the rest are a terminal's: ENOTTY elsewhere, before the pointer)
_FILE_REQUESTS = frozenset({FIONREAD, FIONBIO, FIOASYNC, FIOCLEX, FIONCLEX})
_TERMIOS_WIDE = frozenset({TCGETS2, TCSETS2, TCSETSW2, TCSETSF2})
HOST_NCCS = 19
# Calls the kernel checks against the caller's process group (tty_check_change).
_CHANGES_TTY = frozenset({TCSETS, TCSETSW, TCSETSF, TCSETS2, TCSETSW2, TCSETSF2, TIOCSPGRP,
                          TCFLSH, TCXONC, TCSBRK, TCSBRKP, TIOCSLCKTRMIOS})


def termios_size(abi: Abi, wide: bool) -> int:
    """sizeof(struct termios), or of termios2 (with the two speeds) when `wide`."""
    size = 17 + abi.nccs  # four flag words, c_line, c_cc
    return (size + 3) // 4 * 4 + 8 if wide else size


def _to_guest_termios(abi: Abi, host: bytes, wide: bool) -> bytes:
    iflag, oflag, cflag, lflag = struct.unpack_from("<4I", host)
    cc = bytearray(abi.nccs)
    for i in range(HOST_NCCS):
        cc[abi.termios_cc.get(i, i)] = host[17 + i]
    order = "<" if abi.little_endian else ">"
    out = struct.pack(order + "4I", iflag, oflag, cflag, abi.lflag_out(lflag)) + host[16:17] + cc
    if wide:
        speeds = struct.unpack_from("<2I", host, TERMIOS)
        out += bytes(-len(out) % 4) + struct.pack(order + "2I", *speeds)
    return out


def _from_guest_termios(abi: Abi, guest: bytes, wide: bool) -> bytes:
    order = "<" if abi.little_endian else ">"
    iflag, oflag, cflag, lflag = struct.unpack_from(order + "4I", guest)
    cc = bytes(guest[17 + abi.termios_cc.get(i, i)] for i in range(HOST_NCCS))
    out = struct.pack("<4I", iflag, oflag, cflag, abi.lflag_in(lflag)) + guest[16:17] + cc
    if wide:
        speeds = struct.unpack_from(order + "2I", guest, termios_size(abi, True) - 8)
        out += struct.pack("<2I", *speeds)
    return out


def _termios_call(p: Process, fd: int, req: int, arg: int) -> int:
    """A termios request of an ABI whose struct termios is not the host's (MIPS)."""
    abi = p.abi
    wide = req in _TERMIOS_WIDE
    size = termios_size(abi, wide)
    host = ctypes.create_string_buffer(TERMIOS2 if wide else TERMIOS)
    if req in _TERMIOS_GET:
        out = p.mem.view(arg, size, PROT_W)  # EFAULT before the call, as the kernel copies out
        hostsys.syscall(hostsys.NR["ioctl"], fd, req, ctypes.addressof(host))
        out[:] = _to_guest_termios(abi, host.raw, wide)
        return 0
    host.raw = _from_guest_termios(abi, p.mem.read(arg, size), wide)
    return _host_ioctl(p, fd, req, ctypes.addressof(host))


@syscall("ioctl", args=("fd", "uint:ioctl", "ulong"), support=PARTIAL,
         note="terminals (termios, termios2, winsize, pgrp, ctty, sid, ptys), FIONREAD, "
              "FIONBIO, FIOASYNC, FIOCLEX/FIONCLEX; others ENOTTY")
def sys_ioctl(p: Process, fd: int, req: int, arg: int) -> int:
    spec = _BUFS.get(req)
    if spec is None:
        return other_ioctl(p, fd, req, arg)
    size, access = spec
    if size in (TERMIOS, TERMIOS2) and (p.abi.nccs != HOST_NCCS or not p.abi.little_endian):
        return _termios_call(p, fd, req, arg)
    if size in (4, 8) and not p.abi.little_endian:
        return _big_endian_call(p, fd, req, arg, size, access)
    try:
        host_arg = p.mem.host_ptr(arg, size, access) if size else arg
    except Errno:
        fdget(fd)  # EBADF first
        if req not in _FILE_REQUESTS and not os.isatty(fd):
            raise Errno(errno.ENOTTY) from None  # a terminal request, not a terminal
        raise
    if req == FIONBIO:
        p.fds.flags_changed()
    if req == TIOCGPTPEER:
        return p.fds.adopt(hostsys.syscall(hostsys.NR["ioctl"], fd, req, arg))
    return _host_ioctl(p, fd, req, host_arg)


def _big_endian_call(p: Process, fd: int, req: int, arg: int, size: int, access: int) -> int:
    """An int (or struct winsize: four shorts) through a buffer of ours, each field in the
    other byte order on the way in and out."""
    width = 2 if size == 8 else 4

    def swapped(data: bytes) -> bytes:
        return b"".join(data[i:i + width][::-1] for i in range(0, size, width))

    try:
        guest = p.mem.view(arg, size, access)
    except Errno:
        fdget(fd)  # EBADF first
        if req not in _FILE_REQUESTS and not os.isatty(fd):
            raise Errno(errno.ENOTTY) from None
        raise
    buf = ctypes.create_string_buffer(swapped(bytes(guest)) if access & PROT_R else size)
    r = _host_ioctl(p, fd, req, ctypes.addressof(buf))
    if access & PROT_W:
        p.mem.write(arg, swapped(buf.raw[:size]))
    return r


def _host_ioctl(p: Process, fd: int, req: int, host_arg: int) -> int:
    if req in _CHANGES_TTY and p.thread.sigmask & (1 << (SIGTTOU - 1)):
        old = host_signal.pthread_sigmask(host_signal.SIG_BLOCK, [SIGTTOU])
        try:
            return hostsys.syscall(hostsys.NR["ioctl"], fd, req, host_arg)
        finally:
            host_signal.pthread_sigmask(host_signal.SIG_SETMASK, old)
    return hostsys.syscall(hostsys.NR["ioctl"], fd, req, host_arg)


@syscall("vhangup", note="the host's: hangs up the controlling terminal (needs root)")
def sys_vhangup(p: Process) -> int:
    return hostsys.syscall(hostsys.NR["vhangup"])
