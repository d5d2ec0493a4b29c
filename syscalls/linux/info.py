"""uname, sysinfo, getrlimit/setrlimit/prlimit64, getrandom, getcpu, prctl (names),
personality: information about the system and the process."""

from __future__ import annotations

import ctypes
import errno
import os

from syscalls.linux.sched import host_pid
from syscalls.registry import PARTIAL, syscall
from usermode.host import syscalls as hostsys
from usermode.host.syscalls import NR
from usermode.kernel.errors import Errno
from usermode.kernel.memory import PROT_W
from usermode.kernel.procfs import thread_comm

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

RLIM_INFINITY = (1 << 64) - 1
GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE = 1, 2, 4


@syscall("uname", args=("ptr",))
def sys_uname(p: Process, buf: int) -> int:
    """The host's, but for the machine (the guest's arch) and a release asked for with -r."""
    u = ctypes.create_string_buffer(6 * 65)
    hostsys.syscall(NR["uname"], ctypes.addressof(u))
    fields = [u.raw[i * 65:(i + 1) * 65] for i in range(6)]
    if p.opts.uname_release:
        fields[2] = os.fsencode(p.opts.uname_release)[:64].ljust(65, b"\0")
    fields[4] = p.arch.UNAME_MACHINE.encode()[:64].ljust(65, b"\0")
    p.mem.write(buf, b"".join(fields))
    return 0


class _HostSysinfo(ctypes.Structure):
    _fields_ = (("uptime", ctypes.c_long), ("loads", ctypes.c_ulong * 3),
                ("totalram", ctypes.c_ulong), ("freeram", ctypes.c_ulong),
                ("sharedram", ctypes.c_ulong), ("bufferram", ctypes.c_ulong),
                ("totalswap", ctypes.c_ulong), ("freeswap", ctypes.c_ulong),
                ("procs", ctypes.c_ushort), ("pad", ctypes.c_ushort),
                ("totalhigh", ctypes.c_ulong), ("freehigh", ctypes.c_ulong),
                ("mem_unit", ctypes.c_uint), ("_f", ctypes.c_char * 8))


@syscall("sysinfo", args=("ptr",))
def sys_sysinfo(p: Process, buf: int) -> int:
    """The host's numbers (its uptime rounds up, as /proc/uptime's reader expects), with a
    bigger mem_unit where a 32-bit word cannot hold them, as the kernel does for 32-bit
    tasks."""
    h = _HostSysinfo()
    hostsys.syscall(NR["sysinfo"], ctypes.addressof(h))
    mem = [v * h.mem_unit for v in (h.totalram, h.freeram, h.sharedram, h.bufferram,
                                    h.totalswap, h.freeswap)]
    unit = 1
    while max(mem) > p.abi.mask:
        unit <<= 1
        mem = [m >> 1 for m in mem]
    p.mem.write(buf, p.abi.sysinfo.pack(h.uptime, *h.loads, *mem, h.procs, 0, 0, 0, unit))
    return 0


def _host_prlimit(pid: int, res: int, new: tuple[int, int] | None = None) -> tuple[int, int]:
    """The host's prlimit64: the old (soft, hard), after setting `new` if given. The raw call,
    not the resource module, which turns EPERM into a ValueError (EINVAL here)."""
    old = (ctypes.c_uint64 * 2)()
    buf = (ctypes.c_uint64 * 2)(*new) if new is not None else None
    hostsys.syscall(NR["prlimit64"], pid, res, ctypes.addressof(buf) if buf is not None else 0,
                    ctypes.addressof(old))
    return old[0], old[1]


@syscall("prlimit64", args=("int", "int:rlimit", "ptr", "ptr"))
def sys_prlimit64(p: Process, pid: int, res: int, new: int, old: int) -> int:
    """struct rlimit64 is two u64s everywhere, RLIM64_INFINITY all ones as on the host."""
    layout = p.abi.rlimit64
    new_vals = layout.unpack(p.mem.read(new, layout.size)) if new else None  # before old
    cur = _host_prlimit(host_pid(p, pid), res,
                        None if new_vals is None else (int(new_vals[0]), int(new_vals[1])))
    if old:
        p.mem.view(old, layout.size, PROT_W)[:] = layout.pack(*cur)
    return 0


def _get_words(p: Process, res: int, old: int, cap: int) -> int:
    """The word-sized struct rlimit: a limit above `cap` (infinity included) reads as `cap`,
    the ABI's RLIM_INFINITY in that struct."""
    cur = _host_prlimit(0, res)
    p.mem.write(old, p.abi.rlimit.pack(*(min(v, cap) for v in cur)))
    return 0


@syscall("getrlimit", args=("int:rlimit", "ptr"))
def sys_getrlimit(p: Process, res: int, old: int) -> int:
    """On 32-bit ABIs the old call: i386 clamps to 0x7fffffff there, mips always does."""
    return _get_words(p, res, old, p.abi.old_rlim_infinity)


@syscall("ugetrlimit", args=("int:rlimit", "ptr"))
def sys_ugetrlimit(p: Process, res: int, old: int) -> int:
    return _get_words(p, res, old, p.abi.rlim_infinity)


@syscall("setrlimit", args=("int:rlimit", "ptr"))
def sys_setrlimit(p: Process, res: int, new: int) -> int:
    layout = p.abi.rlimit
    soft, hard = layout.unpack(p.mem.read(new, layout.size))
    inf = p.abi.rlim_infinity
    _host_prlimit(0, res, (RLIM_INFINITY if soft == inf else int(soft),
                           RLIM_INFINITY if hard == inf else int(hard)))
    return 0


@syscall("getrandom", args=("ptr", "size", "uint:grnd_flags"))
def sys_getrandom(p: Process, buf: int, count: int, flags: int) -> int:
    if flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE):
        raise Errno(errno.EINVAL)
    count = min(count, 1 << 25)
    view = p.mem.view(buf, count, PROT_W, partial=True)
    view[:] = os.getrandom(len(view), flags & GRND_NONBLOCK)
    return len(view)


@syscall("getcpu", args=("ptr", "ptr", "ptr"))
def sys_getcpu(p: Process, cpu: int, node: int, _cache: int) -> int:
    """The host CPU and node this (one host) thread runs on."""
    got = (ctypes.c_uint * 2)()
    hostsys.syscall(NR["getcpu"], ctypes.addressof(got), ctypes.addressof(got) + 4, 0)
    if cpu:
        p.mem.write(cpu, got[0].to_bytes(4, p.abi.byteorder))
    if node:
        p.mem.write(node, got[1].to_bytes(4, p.abi.byteorder))
    return 0


PR_SET_NAME, PR_GET_NAME = 15, 16
PR_SET_TIMERSLACK, PR_GET_TIMERSLACK = 29, 30


PR_SET_PDEATHSIG, PR_GET_PDEATHSIG = 1, 2
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37


@syscall("prctl", args=("int:prctl", "ulong", "ulong", "ulong", "ulong"), support=PARTIAL,
         note="PR_SET/GET_NAME (per thread), PR_SET/GET_PDEATHSIG, PR_SET/GET_CHILD_SUBREAPER, "
              "PR_SET/GET_TIMERSLACK; others EINVAL")
def sys_prctl(p: Process, option: int, a2: int, a3: int, a4: int, a5: int) -> int:
    from usermode.host import syscalls as hostsys

    if option in (PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER):  # our process is the guest's
        return hostsys.syscall(NR["prctl"], option, a2 & 0xFFFFFFFF, 0, 0, 0)
    if option in (PR_GET_PDEATHSIG, PR_GET_CHILD_SUBREAPER):
        p.mem.view(a2, 4)
        return hostsys.syscall(NR["prctl"], option, p.mem.host_ptr(a2, 4, PROT_W), 0, 0, 0)
    if option == PR_SET_NAME:  # the calling thread's name; the main thread's is the process's
        name = p.mem.read_cstr(a2, 4096)[:15]
        t = p.thread
        t.comm = name
        if t.tid == p.pid:
            p.comm = name
        return 0
    if option == PR_GET_NAME:
        p.mem.write(a2, thread_comm(p, p.thread).ljust(16, b"\0")[:16])
        return 0
    if option in (PR_SET_TIMERSLACK, PR_GET_TIMERSLACK):  # our one host thread's
        return hostsys.syscall(NR["prctl"], option, a2, 0, 0, 0)
    raise Errno(errno.EINVAL)


@syscall("personality", args=("uint",), support=PARTIAL,
         note="recorded and returned; STICKY_TIMEOUTS honoured by select")
def sys_personality(p: Process, persona: int) -> int:
    """The previous persona; 0xffffffff only asks. Kept across execve, as Linux keeps it."""
    old = p.opts.personality
    if persona != 0xFFFFFFFF:
        p.opts.personality = persona
    return old
