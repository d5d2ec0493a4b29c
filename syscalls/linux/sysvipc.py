"""System V IPC: shared memory segments, semaphore sets and message queues, and the `ipc`
multiplexer of i386 and MIPS o32.

The objects are the host kernel's, so every process of a run (and native ones) shares them,
and ipcs(1) sees them. What differs per ABI is converted: the *_ds structs (word sizes, the
high halves of 32-bit times, MIPS's own order; `syscalls/abi/structs.py`), SHMLBA, and a
message's `long mtype`. 32-bit guests pass IPC_64 with every ctl command, as musl and glibc
do; the old structs without it are refused (EINVAL).

shmat attaches the host segment right over the guest range's host pages (SHM_REMAP at the
host address the guest address maps to), so both see the same memory with no copy, and a
fork keeps it attached as Linux does. A call that would block (semop, msgsnd, msgrcv without
IPC_NOWAIT) never blocks the emulator: it retries without waiting on a timer whose delay
grows to 20 ms, parked like any other wait, so other guest threads run and a signal ends
it with EINTR (these calls are never restarted, whatever SA_RESTART says).
"""

from __future__ import annotations

import ctypes
import errno
import time

from syscalls.abi import get as get_abi
from syscalls.linux.time import read_timespec_ns
from syscalls.registry import PARTIAL, syscall
from usermode.host import syscalls as hostsys
from usermode.host.syscalls import NR
from usermode.kernel.errors import INTERRUPTED, Errno, Park
from usermode.kernel.memory import PAGE, PROT_R, PROT_W, PROT_X, page_up
from usermode.uapi import IPC_64, PROT_READ, PROT_WRITE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable

    from syscalls.abi.structs import Layout
    from usermode.kernel.process import Process

IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO = 0, 1, 2, 3
IPC_NOWAIT = 0o4000
SHM_RDONLY, SHM_RND, SHM_REMAP, SHM_EXEC = 0o10000, 0o20000, 0o40000, 0o100000
SHM_STAT, SHM_INFO, SHM_STAT_ANY = 13, 14, 15
GETPID, GETVAL, GETALL, GETNCNT, GETZCNT, SETVAL, SETALL = 11, 12, 13, 14, 15, 16, 17
SEM_STAT, SEM_INFO, SEM_STAT_ANY = 18, 19, 20
MSG_STAT, MSG_INFO, MSG_STAT_ANY = 11, 12, 13
MSG_COPY = 0o40000
SEMBUF = 6  # struct sembuf {u16 sem_num; s16 sem_op; s16 sem_flg}: the same everywhere
SEMINFO, MSGINFO = 40, 32  # all ints (and msginfo's trailing short): the same everywhere
MAX_POLL_NS = 20_000_000
HOST = get_abi("x86_64")


# ---- the *_ds structs ---------------------------------------------------------------------------
def _to_guest_ds(p: Process, kind: str, host_raw: bytes) -> bytes:
    """A host *_ds struct in the guest's layout (a 32-bit guest's times split in halves)."""
    values = getattr(HOST, kind).unpack_dict(host_raw)
    guest: Layout = getattr(p.abi, kind)
    out = []
    for name in guest.names:
        if name.endswith("_high"):
            out.append(int(values[name[:-5]]) >> 32)
        else:
            out.append(int(values.get(name, 0)))
    return guest.pack_wrapped(*out)


def _from_guest_ds(p: Process, kind: str, guest_raw: bytes) -> bytes:
    values = getattr(p.abi, kind).unpack_dict(guest_raw)
    host: Layout = getattr(HOST, kind)
    return host.pack_wrapped(*(int(values.get(n, 0)) for n in host.names))


def _ctl_ds(p: Process, kind: str, cmd: int, ptr: int, call: Callable[[int, int], int]) -> int:
    """IPC_SET and the *_STAT commands through a host-side struct; `call(cmd, address)`
    makes the host ctl call."""
    host: Layout = getattr(HOST, kind)
    size = getattr(p.abi, kind).size
    buf = ctypes.create_string_buffer(host.size)
    if cmd == IPC_SET:
        buf.raw = _from_guest_ds(p, kind, p.mem.read(ptr, size))
        return call(cmd, ctypes.addressof(buf))
    p.mem.host_ptr(ptr, size, PROT_W)  # EFAULT before the host call
    r = call(cmd, ctypes.addressof(buf))
    p.mem.write(ptr, _to_guest_ds(p, kind, buf.raw))
    return r


def _words_to_guest(p: Process, nr: int, ident: int, cmd: int, ptr: int,
                    layout: tuple[int, ...]) -> int:
    """An info struct of ints (4) and words (8 on the host), as the guest lays it out."""
    host_size = sum(8 if w == 8 else 4 for w in layout) + 8
    buf = ctypes.create_string_buffer(host_size)
    r = hostsys.syscall(nr, ident, cmd, ctypes.addressof(buf))
    out, off = bytearray(), 0
    for w in layout:
        off += -off % w
        v = int.from_bytes(buf.raw[off:off + w], "little")
        size = p.abi.wordsize if w == 8 else 4
        out += -len(out) % size * b"\0"
        out += min(v, (1 << 8 * size) - 1).to_bytes(size, p.abi.byteorder)
        off += w
    out += -len(out) % p.abi.wordsize * b"\0"
    p.mem.write(ptr, bytes(out))
    return r


_STRUCT_CMDS = {"shm": (IPC_STAT, IPC_SET, IPC_INFO, SHM_STAT, SHM_INFO, SHM_STAT_ANY),
                "sem": (IPC_STAT, IPC_SET, IPC_INFO, SEM_STAT, SEM_INFO, SEM_STAT_ANY),
                "msg": (IPC_STAT, IPC_SET, IPC_INFO, MSG_STAT, MSG_INFO, MSG_STAT_ANY)}


def _version(p: Process, cmd: int, family: str) -> int:
    """The command without IPC_64; a 32-bit guest's old-struct commands are refused."""
    if p.abi.wordsize == 4 and not cmd & IPC_64 and cmd in _STRUCT_CMDS[family]:
        raise Errno(errno.EINVAL)
    return cmd & ~IPC_64


# ---- waiting without blocking -------------------------------------------------------------------
def _polling(attempt: Callable[[], int | None], deadline: int | None, timeout_err: int,
             *, waits: bool = True) -> int:
    """Run `attempt` (None: it would block) until it answers, parking between tries; a call
    that may not wait (`waits` False) fails with `timeout_err` at once."""
    r = attempt()
    if r is not None:
        return r
    if not waits:
        raise Errno(timeout_err)

    def wait(delay: int) -> int:
        now = time.monotonic_ns()
        if deadline is not None and now >= deadline:
            raise Errno(timeout_err)
        until = now + delay if deadline is None else min(now + delay, deadline)

        def retry(reason: int) -> int:
            if reason == INTERRUPTED:
                raise Errno(errno.EINTR)  # never restarted, as Linux
            got = attempt()
            return got if got is not None else wait(min(delay * 2, MAX_POLL_NS))

        raise Park(retry, deadline=until, own_eintr=True)

    return wait(1_000_000)


def _nowait(call: Callable[[], int], would_block: int) -> int | None:
    try:
        return call()
    except OSError as e:
        if e.errno == would_block:
            return None
        raise


# ---- shared memory ------------------------------------------------------------------------------
@syscall("shmget", args=("int", "size", "int"), support=PARTIAL, note="host segments")
def sys_shmget(p: Process, key: int, size: int, flg: int) -> int:
    return hostsys.syscall(NR["shmget"], key, size, flg)


@syscall("shmat", args=("int", "ptr", "int"), support=PARTIAL,
         note="the host segment mapped in place")
def sys_shmat(p: Process, shmid: int, addr: int, flg: int) -> int:
    raw = ctypes.create_string_buffer(HOST.shmid64.size)
    hostsys.syscall(NR["shmctl"], shmid, IPC_STAT, ctypes.addressof(raw))
    values = HOST.shmid64.unpack_dict(raw.raw)
    size = page_up(int(values["segsz"]))
    lba = p.abi.shmlba
    if addr:
        if flg & SHM_RND:
            addr &= ~(lba - 1)
        if addr & (lba - 1) or addr == 0:
            raise Errno(errno.EINVAL)
        if not flg & SHM_REMAP and not p.mem.is_free(addr, addr + size):
            raise Errno(errno.EINVAL)
        if not p.mem.one_backing(addr, addr + size):  # one host attach covers it all
            raise Errno(errno.EINVAL)
    elif flg & SHM_REMAP:
        raise Errno(errno.EINVAL)
    rdonly = bool(flg & SHM_RDONLY)
    prot = PROT_R | (0 if rdonly else PROT_W) | (PROT_X if flg & SHM_EXEC else 0)
    host_flg = SHM_REMAP | (flg & (SHM_RDONLY | SHM_EXEC))
    # read-only host pages: a later mprotect(PROT_WRITE) is EACCES, as on Linux
    host_prot = PROT_READ | (0 if rdonly else PROT_WRITE)

    def install(host: int, length: int) -> None:
        if length != size:  # never attach past the end of a host reservation
            raise Errno(errno.EINVAL)
        hostsys.syscall(NR["shmat"], shmid, host, host_flg)

    return p.mem.map(addr, size, prot, fixed=bool(addr), shared=True, install=install,
                     host_prot=host_prot, name=f"/SYSV{int(values['key']) & 0xFFFFFFFF:08x}",
                     ino=shmid)


@syscall("shmdt", args=("ptr",), support=PARTIAL)
def sys_shmdt(p: Process, addr: int) -> int:
    if addr & (PAGE - 1):
        raise Errno(errno.EINVAL)
    v = p.mem.find(addr)
    if v is None or v.start != addr or not v.name.startswith("/SYSV") or v.offset != 0:
        raise Errno(errno.EINVAL)
    end = v.end
    while True:  # this attachment's mappings that follow (an mprotect may have split it)
        nxt = p.mem.find(end)
        if (nxt is None or nxt.start != end or nxt.name != v.name or nxt.ino != v.ino
                or nxt.offset != end - addr):
            break
        end = nxt.end
    p.mem.unmap(addr, end - addr)  # the host pages go back under our reservation: detached
    return 0


@syscall("shmctl", args=("int", "int", "ptr"), support=PARTIAL)
def sys_shmctl(p: Process, shmid: int, cmd: int, buf: int) -> int:
    cmd = _version(p, cmd, "shm")
    if cmd in (IPC_STAT, SHM_STAT, SHM_STAT_ANY, IPC_SET):
        return _ctl_ds(p, "shmid64", cmd, buf,
                       lambda c, a: hostsys.syscall(NR["shmctl"], shmid, c, a))
    if cmd == IPC_INFO:  # struct shminfo64: nine words
        return _words_to_guest(p, NR["shmctl"], shmid, cmd, buf, (8,) * 9)
    if cmd == SHM_INFO:  # struct shm_info: an int, then five words
        return _words_to_guest(p, NR["shmctl"], shmid, cmd, buf, (4, 8, 8, 8, 8, 8))
    return hostsys.syscall(NR["shmctl"], shmid, cmd, 0)  # IPC_RMID, SHM_LOCK/UNLOCK


# ---- semaphores ---------------------------------------------------------------------------------
@syscall("semget", args=("int", "int", "int"), support=PARTIAL, note="host sets")
def sys_semget(p: Process, key: int, nsems: int, flg: int) -> int:
    return hostsys.syscall(NR["semget"], key, nsems, flg)


def _semtimedop(p: Process, semid: int, sops: int, nsops: int, deadline: int | None) -> int:
    if nsops <= 0 or nsops > 500:
        raise Errno(errno.E2BIG if nsops > 0 else errno.EINVAL)
    raw = bytearray(p.mem.read(sops, SEMBUF * nsops))
    flags = [int.from_bytes(raw[i + 4:i + 6], p.abi.byteorder) for i in range(0, len(raw), 6)]
    waits = any(not f & IPC_NOWAIT for f in flags)
    for i, f in zip(range(0, len(raw), 6), flags, strict=True):
        raw[i + 4:i + 6] = (f | IPC_NOWAIT).to_bytes(2, "little")
        if p.abi.byteorder != "little":  # sem_num and sem_op too
            raw[i:i + 4] = b"".join(int.from_bytes(raw[i + k:i + k + 2], "big").to_bytes(
                2, "little") for k in (0, 2))
    host = ctypes.create_string_buffer(bytes(raw), len(raw))
    addr = ctypes.addressof(host)

    def attempt() -> int | None:
        return _nowait(lambda: hostsys.syscall(NR["semtimedop"], semid, addr, nsops, 0),
                       errno.EAGAIN)

    return _polling(attempt, deadline, errno.EAGAIN, waits=waits)


@syscall("semop", args=("int", "ptr", "uint"), support=PARTIAL, note="waits by polling")
def sys_semop(p: Process, semid: int, sops: int, nsops: int) -> int:
    return _semtimedop(p, semid, sops, nsops, None)


@syscall("semtimedop", args=("int", "ptr", "uint", "ptr"), support=PARTIAL,
         note="waits by polling")
def sys_semtimedop(p: Process, semid: int, sops: int, nsops: int, timeout: int) -> int:
    deadline = time.monotonic_ns() + read_timespec_ns(p, timeout) if timeout else None
    return _semtimedop(p, semid, sops, nsops, deadline)


@syscall("semctl", args=("int", "int", "int", "ulong"), support=PARTIAL)
def sys_semctl(p: Process, semid: int, num: int, cmd: int, arg: int) -> int:
    cmd = _version(p, cmd, "sem")
    if cmd in (IPC_STAT, SEM_STAT, SEM_STAT_ANY, IPC_SET):
        return _ctl_ds(p, "semid64", cmd, arg,
                       lambda c, a: hostsys.syscall(NR["semctl"], semid, 0, c, a))
    if cmd in (IPC_INFO, SEM_INFO):
        return hostsys.syscall(NR["semctl"], semid, num, cmd, p.mem.host_ptr(arg, SEMINFO, PROT_W))
    if cmd in (GETALL, SETALL):
        raw = ctypes.create_string_buffer(HOST.semid64.size)
        hostsys.syscall(NR["semctl"], semid, 0, IPC_STAT, ctypes.addressof(raw))
        n = int(HOST.semid64.unpack_dict(raw.raw)["nsems"])
        need = PROT_W if cmd == GETALL else PROT_R
        if p.abi.little_endian:
            return hostsys.syscall(NR["semctl"], semid, 0, cmd, p.mem.host_ptr(arg, 2 * n, need))
        # a big-endian guest's unsigned shorts, turned around through a buffer of ours
        guest = p.mem.view(arg, 2 * n, need)
        buf = ctypes.create_string_buffer(2 * n)
        if cmd == SETALL:
            buf.raw = b"".join(bytes(guest[i:i + 2])[::-1] for i in range(0, 2 * n, 2))
        r = hostsys.syscall(NR["semctl"], semid, 0, cmd, ctypes.addressof(buf))
        if cmd == GETALL:
            guest[:] = b"".join(buf.raw[i:i + 2][::-1] for i in range(0, 2 * n, 2))
        return r
    if cmd == SETVAL:
        # union semun by value: on a 64-bit big-endian ABI its int is the word's high half
        val = arg >> 32 if p.abi.wordsize == 8 and not p.abi.little_endian else arg
        return hostsys.syscall(NR["semctl"], semid, num, cmd, p.abi.s32(val))
    return hostsys.syscall(NR["semctl"], semid, num, cmd, 0)  # IPC_RMID, GETVAL/PID/NCNT/ZCNT


# ---- message queues -----------------------------------------------------------------------------
@syscall("msgget", args=("int", "int"), support=PARTIAL, note="host queues")
def sys_msgget(p: Process, key: int, flg: int) -> int:
    return hostsys.syscall(NR["msgget"], key, flg)


@syscall("msgsnd", args=("int", "ptr", "size", "int"), support=PARTIAL,
         note="waits by polling")
def sys_msgsnd(p: Process, msqid: int, msgp: int, size: int, flg: int) -> int:
    ws = p.abi.wordsize
    if size > 1 << 24:
        raise Errno(errno.EINVAL)
    raw = p.mem.read(msgp, ws + size)
    mtype = p.abi.sword(int.from_bytes(raw[:ws], p.abi.byteorder))
    host = ctypes.create_string_buffer(mtype.to_bytes(8, "little", signed=True) + raw[ws:])
    addr = ctypes.addressof(host)

    def attempt() -> int | None:
        return _nowait(lambda: hostsys.syscall(NR["msgsnd"], msqid, addr, size, flg | IPC_NOWAIT),
                       errno.EAGAIN)

    return _polling(attempt, None, errno.EAGAIN, waits=not flg & IPC_NOWAIT)


@syscall("msgrcv", args=("int", "ptr", "size", "long", "int"), support=PARTIAL,
         note="waits by polling")
def sys_msgrcv(p: Process, msqid: int, msgp: int, size: int, mtype: int, flg: int) -> int:
    ws = p.abi.wordsize
    if size > 1 << 24:
        raise Errno(errno.EINVAL)
    p.mem.host_ptr(msgp, ws + size, PROT_W)  # EFAULT first
    if flg & MSG_COPY and not flg & IPC_NOWAIT:
        raise Errno(errno.EINVAL)  # as Linux: a copy never waits
    host = ctypes.create_string_buffer(8 + size)
    addr = ctypes.addressof(host)

    def attempt() -> int | None:
        n = _nowait(lambda: hostsys.syscall(NR["msgrcv"], msqid, addr, size, mtype,
                                            flg | IPC_NOWAIT), errno.ENOMSG)
        if n is not None:
            got = int.from_bytes(host.raw[:8], "little", signed=True)
            p.mem.write(msgp, (got & p.abi.mask).to_bytes(ws, p.abi.byteorder)
                        + host.raw[8:8 + n])
        return n

    return _polling(attempt, None, errno.ENOMSG, waits=not flg & IPC_NOWAIT)


@syscall("msgctl", args=("int", "int", "ptr"), support=PARTIAL)
def sys_msgctl(p: Process, msqid: int, cmd: int, buf: int) -> int:
    cmd = _version(p, cmd, "msg")
    if cmd in (IPC_STAT, MSG_STAT, MSG_STAT_ANY, IPC_SET):
        return _ctl_ds(p, "msqid64", cmd, buf,
                       lambda c, a: hostsys.syscall(NR["msgctl"], msqid, c, a))
    if cmd in (IPC_INFO, MSG_INFO):
        return hostsys.syscall(NR["msgctl"], msqid, cmd, p.mem.host_ptr(buf, MSGINFO, PROT_W))
    return hostsys.syscall(NR["msgctl"], msqid, cmd, 0)  # IPC_RMID


# ---- the ipc multiplexer (i386, MIPS o32, s390x) ------------------------------------------------
SEMOP, SEMGET, SEMCTL, SEMTIMEDOP = 1, 2, 3, 4
MSGSND, MSGRCV, MSGGET, MSGCTL = 11, 12, 13, 14
SHMAT, SHMDT, SHMGET, SHMCTL = 21, 22, 23, 24


@syscall("ipc", args=("uint", "int", "int", "ulong", "ptr", "long"), support=PARTIAL,
         note="the SysV calls above; version-1 (iBCS) shmat is EINVAL")
def sys_ipc(p: Process, call: int, first: int, second: int, third: int, ptr: int,
            fifth: int) -> int:
    version, call = call >> 16, call & 0xFFFF
    ws, bo = p.abi.wordsize, p.abi.byteorder
    result_ptr = third  # SHMAT's: a whole word (a 64-bit pointer on s390x)
    third = p.abi.s32(third)  # an int for every other call
    if p.abi.ipc_five_args:  # no sixth register: SEMTIMEDOP's timeout comes in `third`
        fifth = result_ptr
    if call in (SEMOP, SEMTIMEDOP):
        deadline = None
        if call == SEMTIMEDOP and fifth:
            deadline = time.monotonic_ns() + read_timespec_ns(p, fifth & p.abi.mask)
        return _semtimedop(p, first, ptr, second, deadline)
    if call == SEMGET:
        return sys_semget(p, first, second, third)
    if call == SEMCTL:  # the union semun is passed by reference here
        if not ptr:
            raise Errno(errno.EINVAL)
        return sys_semctl(p, first, second, third, int.from_bytes(p.mem.read(ptr, ws), bo))
    if call == MSGSND:
        return sys_msgsnd(p, first, ptr, second, third)
    if call == MSGRCV:
        if version == 0:  # struct ipc_kludge {msgp; long msgtyp}
            if not ptr:
                raise Errno(errno.EINVAL)
            raw = p.mem.read(ptr, 2 * ws)
            msgp = int.from_bytes(raw[:ws], bo)
            return sys_msgrcv(p, first, msgp, second, p.abi.sword(int.from_bytes(raw[ws:], bo)),
                              third)
        return sys_msgrcv(p, first, ptr, second, fifth, third)
    if call == MSGGET:
        return sys_msgget(p, first, second)
    if call == MSGCTL:
        return sys_msgctl(p, first, second, ptr)
    if call == SHMAT:
        if version == 1:
            raise Errno(errno.EINVAL)
        addr = sys_shmat(p, first, ptr, second)
        p.mem.write(result_ptr, addr.to_bytes(ws, bo))  # the address goes to *third
        return 0
    if call == SHMDT:
        return sys_shmdt(p, ptr)
    if call == SHMGET:  # the size is unsigned (the kernel's compat ipc)
        return sys_shmget(p, first, second & 0xFFFFFFFF, third)
    if call == SHMCTL:
        return sys_shmctl(p, first, second, ptr)
    raise Errno(errno.ENOSYS)
