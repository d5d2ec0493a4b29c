"""uname, sysinfo, getrlimit/setrlimit/prlimit64, getrandom, getcpu, prctl (names),
personality: information about the system and the process."""

from __future__ import annotations

import errno
import os
import resource

from syscalls.registry import PARTIAL, syscall
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
    u = os.uname()
    release = p.opts.uname_release or u.release
    fields = (u.sysname, u.nodename, release, u.version, p.arch.UNAME_MACHINE, "(none)")
    out = b"".join(os.fsencode(f)[:64].ljust(65, b"\0") for f in fields)
    p.mem.write(buf, out)
    return 0


@syscall("sysinfo", args=("ptr",))
def sys_sysinfo(p: Process, buf: int) -> int:
    with open("/proc/uptime", "rb") as f:
        uptime = int(float(f.read().split()[0]))
    meminfo: dict[bytes, int] = {}
    with open("/proc/meminfo", "rb") as f:
        for line in f:
            k, _, rest = line.partition(b":")
            meminfo[k] = int(rest.split()[0]) * 1024
    l1, l5, l15 = (int(x * 65536) for x in os.getloadavg())
    s = p.abi.sysinfo
    mem = [meminfo.get(k, 0) for k in (b"MemTotal", b"MemFree", b"Shmem", b"Buffers",
                                       b"SwapTotal", b"SwapFree")]
    unit = 1
    while max(mem) > p.abi.mask:  # as the kernel does for 32-bit words: a bigger mem_unit
        unit <<= 1
        mem = [m >> 1 for m in mem]
    p.mem.write(buf, s.pack(uptime, l1, l5, l15, *mem,
                            min(len(os.listdir("/proc")), 0xFFFF), 0, 0, 0, unit))
    return 0


def _to_guest_limit(v: int) -> int:
    return RLIM_INFINITY if v == resource.RLIM_INFINITY else v


def _from_guest_limit(v: int) -> int:
    return resource.RLIM_INFINITY if v == RLIM_INFINITY else v


@syscall("prlimit64", args=("int", "int:rlimit", "ptr", "ptr"))
def sys_prlimit64(p: Process, pid: int, res: int, new: int, old: int) -> int:
    layout = p.abi.rlimit64
    if pid not in (0, p.pid):
        cur = resource.prlimit(pid, res)
    else:
        cur = resource.getrlimit(res)
    new_vals = layout.unpack(p.mem.read(new, layout.size)) if new else None  # before old
    if old:
        p.mem.view(old, layout.size, PROT_W)[:] = layout.pack(*map(_to_guest_limit, cur))
    if new_vals is not None:
        soft, hard = new_vals
        lim = (_from_guest_limit(int(soft)), _from_guest_limit(int(hard)))
        if pid in (0, p.pid):
            resource.setrlimit(res, lim)
        else:
            resource.prlimit(pid, res, lim)
    return 0


def _get_words(p: Process, res: int, old: int, cap: int) -> int:
    """The word-sized struct rlimit: a limit above `cap` (infinity included) reads as `cap`,
    the ABI's RLIM_INFINITY in that struct."""
    cur = resource.getrlimit(res)
    p.mem.write(old, p.abi.rlimit.pack(*(min(_to_guest_limit(v), cap) for v in cur)))
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
    lim = [resource.RLIM_INFINITY if v == inf else int(v) for v in (soft, hard)]
    resource.setrlimit(res, (lim[0], lim[1]))
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
    if cpu:
        p.mem.write(cpu, (0).to_bytes(4, p.abi.byteorder))
    if node:
        p.mem.write(node, (0).to_bytes(4, p.abi.byteorder))
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


@syscall("personality", args=("uint",))
def sys_personality(p: Process, persona: int) -> int:
    return 0  # PER_LINUX; changing persona is accepted and ignored
