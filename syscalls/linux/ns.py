"""unshare, setns, capget, capset, sethostname, setdomainname: the host's, as qemu-user does.

They act on the emulator's own process, which is the guest's: unsharing a namespace or
dropping a capability applies to both. The capability structs are the same on every arch.
"""

from __future__ import annotations

import ctypes
import errno

from syscalls.linux.sched import host_pid
from syscalls.registry import PARTIAL, syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import Errno
from usermode.kernel.memory import PROT_R

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

CAP_HEADER = 8  # u32 version, int pid
CAP_DATA = 12  # u32 effective, permitted, inheritable
CAP_V1, CAP_V2, CAP_V3 = 0x19980330, 0x20071026, 0x20080522
HOST_NAME_MAX = 64


def _cap_words(p: Process, header: int) -> int:
    """How many data structs the header's version means (the kernel writes its own version
    back into a header it does not know: EINVAL)."""
    version = int.from_bytes(p.mem.read(header, 4), p.abi.byteorder)
    return 1 if version == CAP_V1 else 2


def _header_for_host(p: Process, header: int) -> bytes:
    raw = bytearray(p.mem.read(header, CAP_HEADER))
    pid = int.from_bytes(raw[4:8], p.abi.byteorder, signed=True)
    raw[0:4] = int.from_bytes(raw[0:4], p.abi.byteorder).to_bytes(4, "little")
    raw[4:8] = host_pid(p, pid).to_bytes(4, "little", signed=True) if pid > 0 else \
        pid.to_bytes(4, "little", signed=True)
    return bytes(raw)


@syscall("capget", args=("ptr", "ptr"))
def sys_capget(p: Process, header: int, data: int) -> int:
    head = ctypes.create_string_buffer(_header_for_host(p, header), CAP_HEADER)
    words = _cap_words(p, header)
    out = ctypes.create_string_buffer(CAP_DATA * 2)
    try:
        r = hostsys.syscall(hostsys.NR["capget"], ctypes.addressof(head),
                            ctypes.addressof(out) if data else 0)
    except OSError as e:
        if e.errno == errno.EINVAL:  # an unknown version: the kernel's own is written back
            p.mem.write(header, int.from_bytes(head.raw[0:4], "little").to_bytes(
                4, p.abi.byteorder))
        raise
    if data:
        p.mem.write(data, _words(out.raw[:CAP_DATA * words], "little", p.abi.byteorder))
    return r


def _words(raw: bytes, src: str, dst: str) -> bytes:
    """32-bit words from one byte order to another."""
    return b"".join(int.from_bytes(raw[i:i + 4], src).to_bytes(4, dst)  # type: ignore[arg-type]
                    for i in range(0, len(raw), 4))


@syscall("capset", args=("ptr", "ptr"))
def sys_capset(p: Process, header: int, data: int) -> int:
    head = ctypes.create_string_buffer(_header_for_host(p, header), CAP_HEADER)
    words = _cap_words(p, header)
    raw = p.mem.read(data, CAP_DATA * words)
    host = ctypes.create_string_buffer(_words(raw, p.abi.byteorder, "little"), CAP_DATA * 2)
    return hostsys.syscall(hostsys.NR["capset"], ctypes.addressof(head), ctypes.addressof(host))


@syscall("unshare", args=("uint",), support=PARTIAL,
         note="the host's: it applies to the emulator's process (a new user namespace needs "
              "a single-threaded process, which ours is not: EINVAL)")
def sys_unshare(p: Process, flags: int) -> int:
    return hostsys.syscall(hostsys.NR["unshare"], flags)


@syscall("setns", args=("fd", "int"), note="the host's: the emulator's process joins it")
def sys_setns(p: Process, fd: int, nstype: int) -> int:
    return hostsys.syscall(hostsys.NR["setns"], fd, nstype)


def _set_name(p: Process, nr: int, name: int, length: int) -> int:
    if length < 0 or length > HOST_NAME_MAX:
        raise Errno(errno.EINVAL)
    return hostsys.syscall(nr, p.mem.host_ptr(name, length, PROT_R) if length else 0, length)


@syscall("sethostname", args=("ptr", "int"), note="the host's (needs CAP_SYS_ADMIN)")
def sys_sethostname(p: Process, name: int, length: int) -> int:
    return _set_name(p, hostsys.NR["sethostname"], name, length)


@syscall("setdomainname", args=("ptr", "int"), note="the host's (needs CAP_SYS_ADMIN)")
def sys_setdomainname(p: Process, name: int, length: int) -> int:
    return _set_name(p, hostsys.NR["setdomainname"], name, length)

