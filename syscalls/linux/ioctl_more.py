"""ioctl requests other than the terminal ones (tty.py hands them here): network interfaces,
struct ifreq and SIOCGIFCONF's struct ifconf; any other request is ENOTTY.

struct ifreq is 16 bytes of name and a union that holds pointers and struct ifmap, so it is
40 bytes on the host and 64-bit guests and 32 on 32-bit ones; every request here uses only
the union's first 16 bytes (a sockaddr, a short or an int), which have one layout on every
little-endian guest. A request is made on a host-side copy and the guest's size goes back.

`decode_request` splits an _IOC-encoded request for the tracer: MIPS puts the direction in
three bits (NONE 1, READ 2, WRITE 4) above a 13-bit size.
"""

from __future__ import annotations

import ctypes
import errno

from syscalls.dispatch import fdget
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import Errno

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

# interface requests whose struct ifreq is read and written back
SIOCGIFNAME, SIOCGIFCONF, SIOCGIFFLAGS, SIOCGIFADDR = 0x8910, 0x8912, 0x8913, 0x8915
SIOCGIFDSTADDR, SIOCGIFBRDADDR, SIOCGIFNETMASK = 0x8917, 0x8919, 0x891B
SIOCGIFMETRIC, SIOCGIFMTU, SIOCGIFHWADDR, SIOCGIFINDEX = 0x891D, 0x8921, 0x8927, 0x8933
SIOCGIFTXQLEN = 0x8942
IFREQ_GETS = frozenset({SIOCGIFNAME, SIOCGIFFLAGS, SIOCGIFADDR, SIOCGIFDSTADDR,
                        SIOCGIFBRDADDR, SIOCGIFNETMASK, SIOCGIFMETRIC, SIOCGIFMTU,
                        SIOCGIFHWADDR, SIOCGIFINDEX, SIOCGIFTXQLEN})
HOST_IFREQ = 40
IFREQ_USED = 32  # the name and the union's first 16 bytes

IOC_NONE, IOC_WRITE, IOC_READ = 0, 1, 2


def decode_request(mips: bool, req: int) -> tuple[int, int, int, int]:
    """(direction as the generic IOC_* bits, type, nr, size) of an _IOC-encoded request."""
    if mips:
        d = req >> 29 & 7
        direction = (IOC_READ if d & 2 else 0) | (IOC_WRITE if d & 4 else 0)
        return direction, req >> 8 & 0xFF, req & 0xFF, req >> 16 & 0x1FFF
    return req >> 30 & 3, req >> 8 & 0xFF, req & 0xFF, req >> 16 & 0x3FFF


def other_ioctl(p: Process, fd: int, req: int, arg: int) -> int:
    """A request tty.py does not know: served here, or ENOTTY as for a device without it."""
    if req in IFREQ_GETS:
        return _ifreq(p, fd, req, arg)
    if req == SIOCGIFCONF:
        return _ifconf(p, fd, arg)
    fdget(fd)  # EBADF first (an O_PATH fd too), as Linux
    raise Errno(errno.ENOTTY)


def _call(fd: int, req: int, arg: int) -> int:
    return hostsys.syscall(hostsys.NR["ioctl"], fd, req, arg)


def _ifreq_size(p: Process) -> int:
    return HOST_IFREQ if p.abi.wordsize == 8 else IFREQ_USED


def _ifreq(p: Process, fd: int, req: int, arg: int) -> int:
    size = _ifreq_size(p)
    buf = ctypes.create_string_buffer(p.mem.read(arg, size), HOST_IFREQ)
    r = _call(fd, req, ctypes.addressof(buf))
    p.mem.write(arg, buf.raw[:size])
    return r


def _ifconf(p: Process, fd: int, arg: int) -> int:
    """struct ifconf {int ifc_len; pointer ifc_buf}: the host fills 40-byte entries, the
    guest gets entries of its own size (and lengths counted in them)."""
    ws, bo = p.abi.wordsize, p.abi.byteorder
    raw = p.mem.read(arg, 2 * ws)
    glen = int.from_bytes(raw[0:4], bo, signed=True)
    gbuf = int.from_bytes(raw[ws:2 * ws], bo)
    size = _ifreq_size(p)
    count = max(glen, 0) // size if gbuf else 0
    hbuf = ctypes.create_string_buffer(count * HOST_IFREQ or 1)
    conf = (ctypes.c_int64 * 2)(count * HOST_IFREQ, ctypes.addressof(hbuf) if gbuf else 0)
    r = _call(fd, SIOCGIFCONF, ctypes.addressof(conf))
    got = int(conf[0]) // HOST_IFREQ
    if gbuf:
        out = bytearray(got * size)
        for i in range(got):
            out[i * size:i * size + IFREQ_USED] = hbuf.raw[i * HOST_IFREQ:
                                                            i * HOST_IFREQ + IFREQ_USED]
        p.mem.write(gbuf, out)
    p.mem.write(arg, (got * size).to_bytes(4, bo, signed=True))
    return r
