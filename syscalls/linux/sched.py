"""sched_getaffinity/setaffinity, get/setpriority, sched_get_priority_max/min,
sched_get/setscheduler, sched_get/setparam, sched_rr_get_interval, sched_getattr/setattr,
ioprio_get/set, kcmp: scheduling and process relations, passed through to the host.

Guest threads are green threads of this one host process, so a pid or tid of ours names the
host process itself (see `host_pid`); the kernel's answers are the guest's.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

from loaders.image import PAGE
from syscalls.registry import syscall
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import Errno

TYPE_CHECKING = False
if TYPE_CHECKING:
    from usermode.kernel.process import Process


def host_pid(p: Process, pid: int) -> int:
    """A pid or tid the guest names, as the host knows it: our own threads are this host
    process (0: the caller); other processes keep their pids."""
    return 0 if pid == p.pid or pid in p.sched.threads else pid


@syscall("sched_getaffinity", args=("int", "size", "ptr"))
def sys_sched_getaffinity(p: Process, pid: int, size: int, mask: int) -> int:
    cpus = os.sched_getaffinity(host_pid(p, pid))
    nbytes = max((max(cpus) // 8 + 1) if cpus else 1, p.abi.wordsize)
    nbytes = (nbytes + p.abi.wordsize - 1) // p.abi.wordsize * p.abi.wordsize
    if size < nbytes or size & (p.abi.wordsize - 1):
        raise Errno(errno.EINVAL)
    bits = sum(1 << c for c in cpus)
    p.mem.write(mask, bits.to_bytes(nbytes, "little"))
    return nbytes


@syscall("sched_setaffinity", args=("int", "size", "ptr"))
def sys_sched_setaffinity(p: Process, pid: int, size: int, mask: int) -> int:
    bits = int.from_bytes(p.mem.read(mask, size), "little")
    os.sched_setaffinity(host_pid(p, pid), [i for i in range(size * 8) if bits >> i & 1])
    return 0


# ---- scheduling priority and policy ----------------------------------------------------------
PRIO_PROCESS = 0


@syscall("getpriority", args=("int", "int"))
def sys_getpriority(p: Process, which: int, who: int) -> int:
    """The raw call returns 20 - nice (1..40), so no success looks like an error."""
    if which == PRIO_PROCESS:
        who = host_pid(p, who)
    return 20 - os.getpriority(which, who)


@syscall("setpriority", args=("int", "int", "int"))
def sys_setpriority(p: Process, which: int, who: int, prio: int) -> int:
    if which == PRIO_PROCESS:
        who = host_pid(p, who)
    os.setpriority(which, who, prio)
    return 0


@syscall("sched_get_priority_max", args=("int",))
def sys_sched_get_priority_max(p: Process, policy: int) -> int:
    return os.sched_get_priority_max(policy)


@syscall("sched_get_priority_min", args=("int",))
def sys_sched_get_priority_min(p: Process, policy: int) -> int:
    return os.sched_get_priority_min(policy)


@syscall("sched_getscheduler", args=("int",))
def sys_sched_getscheduler(p: Process, pid: int) -> int:
    if pid < 0:
        raise Errno(errno.EINVAL)
    return os.sched_getscheduler(host_pid(p, pid))


def _read_param(p: Process, param: int) -> int:
    if not param:
        raise Errno(errno.EINVAL)
    return int.from_bytes(p.mem.read(param, 4), p.abi.byteorder, signed=True)


@syscall("sched_setscheduler", args=("int", "int", "ptr"))
def sys_sched_setscheduler(p: Process, pid: int, policy: int, param: int) -> int:
    if pid < 0:
        raise Errno(errno.EINVAL)
    os.sched_setscheduler(host_pid(p, pid), policy, os.sched_param(_read_param(p, param)))
    return 0


@syscall("sched_getparam", args=("int", "ptr"))
def sys_sched_getparam(p: Process, pid: int, param: int) -> int:
    if pid < 0 or not param:
        raise Errno(errno.EINVAL)
    prio = os.sched_getparam(host_pid(p, pid)).sched_priority
    p.mem.write(param, prio.to_bytes(4, p.abi.byteorder, signed=True))
    return 0


@syscall("sched_setparam", args=("int", "ptr"))
def sys_sched_setparam(p: Process, pid: int, param: int) -> int:
    if pid < 0:
        raise Errno(errno.EINVAL)
    os.sched_setparam(host_pid(p, pid), os.sched_param(_read_param(p, param)))
    return 0


@syscall("sched_rr_get_interval", args=("int", "ptr"))
def sys_sched_rr_get_interval(p: Process, pid: int, ts: int) -> int:
    if pid < 0:
        raise Errno(errno.EINVAL)
    ns = round(os.sched_rr_get_interval(host_pid(p, pid)) * 1e9)
    p.mem.write(ts, p.abi.to_guest_timespec(ns))
    return 0


# ---- sched_getattr / sched_setattr -----------------------------------------------------------
# struct sched_attr: u32 size, u32 policy, u64 flags, s32 nice, u32 priority, u64 runtime,
# u64 deadline, u64 period (VER0, 48 bytes), u32 util_min, u32 util_max (VER1, 56 bytes): the
# same on every arch but for the byte order
SCHED_ATTR_SIZE_VER0 = 48
_SCHED_ATTR = "IIQiIQQQII"


def _swap_attr(raw: bytes, little: bool) -> bytes:
    """`raw` (the first bytes of a sched_attr) between the host's byte order and a guest's."""
    if little:
        return raw
    out = bytearray(raw)
    off = 0
    for code in _SCHED_ATTR:
        n = struct.calcsize(code)
        if off + n > len(out):
            break
        out[off:off + n] = out[off:off + n][::-1]
        off += n
    return bytes(out)


@syscall("sched_setattr", args=("int", "ptr", "uint"))
def sys_sched_setattr(p: Process, pid: int, attr: int, flags: int) -> int:
    if not attr or pid < 0:
        raise Errno(errno.EINVAL)
    size = int.from_bytes(p.mem.read(attr, 4), p.abi.byteorder) or SCHED_ATTR_SIZE_VER0
    n = size if SCHED_ATTR_SIZE_VER0 <= size <= PAGE else 4  # else the host says E2BIG
    raw = size.to_bytes(4, "little") + _swap_attr(p.mem.read(attr, n), p.abi.little_endian)[4:]
    buf = ctypes.create_string_buffer(raw, n)
    try:
        return hostsys.syscall(hostsys.NR["sched_setattr"], host_pid(p, pid),
                               ctypes.addressof(buf), flags)
    except OSError as e:
        if e.errno == errno.E2BIG:  # the kernel wrote the size it knows into attr->size
            known = int.from_bytes(buf.raw[:4], "little")
            p.mem.write(attr, known.to_bytes(4, p.abi.byteorder))
        raise


@syscall("sched_getattr", args=("int", "ptr", "uint", "uint"))
def sys_sched_getattr(p: Process, pid: int, attr: int, size: int, flags: int) -> int:
    if not attr or pid < 0 or flags or not SCHED_ATTR_SIZE_VER0 <= size <= PAGE:
        raise Errno(errno.EINVAL)
    buf = ctypes.create_string_buffer(size)
    hostsys.syscall(hostsys.NR["sched_getattr"], host_pid(p, pid), ctypes.addressof(buf),
                    size, flags)
    written = min(size, int.from_bytes(buf.raw[:4], "little"))
    p.mem.write(attr, _swap_attr(buf.raw[:written], p.abi.little_endian))
    return 0


IOPRIO_WHO_PROCESS = 1


@syscall("ioprio_get", args=("int", "int"))
def sys_ioprio_get(p: Process, which: int, who: int) -> int:
    if which == IOPRIO_WHO_PROCESS:
        who = host_pid(p, who)
    return hostsys.syscall(hostsys.NR["ioprio_get"], which, who)


@syscall("ioprio_set", args=("int", "int", "int"))
def sys_ioprio_set(p: Process, which: int, who: int, prio: int) -> int:
    if which == IOPRIO_WHO_PROCESS:
        who = host_pid(p, who)
    return hostsys.syscall(hostsys.NR["ioprio_set"], which, who, prio)


@syscall("kcmp", args=("int", "int", "int", "ulong", "ulong"))
def sys_kcmp(p: Process, pid1: int, pid2: int, kind: int, idx1: int, idx2: int) -> int:
    """Our guest threads are this one host process: a tid of ours compares as it."""
    def real(pid: int) -> int:
        return os.getpid() if pid and host_pid(p, pid) == 0 else pid

    return hostsys.syscall(hostsys.NR["kcmp"], real(pid1), real(pid2), kind, idx1, idx2)
