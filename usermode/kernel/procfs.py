"""/proc files that must describe the guest rather than the emulator.

`open_emulated` returns an fd (a memfd holding freshly generated text, seekable and
fstat-able like the kernel's files) for the guest's own /proc/self/{maps,auxv,cmdline,
environ,stat} and for /proc/cpuinfo on a foreign arch; every other /proc path is the
host's. /proc/self/exe is a symlink handled by `Paths`.
"""

from __future__ import annotations

import os

from usermode.kernel.threads import DEAD, PARKED
from usermode.uapi import O_CLOEXEC

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process
    from usermode.kernel.threads import Thread

_EMULATED = frozenset((b"maps", b"auxv", b"cmdline", b"environ", b"stat", b"comm"))


def _split_self(path: bytes) -> tuple[bytes, bytes | None, bytes] | None:
    """(who, tid or None, file) for /proc/{self,thread-self,PID}[/task/TID]/FILE when FILE is
    one we generate; None for any other path."""
    parts = path.split(b"/")
    if len(parts) not in (4, 6) or parts[0] or parts[1] != b"proc" or parts[-1] not in _EMULATED:
        return None
    who = parts[2]
    if who not in (b"self", b"thread-self") and not who.isdigit():
        return None
    if len(parts) == 4:
        return who, None, parts[3]
    if parts[3] != b"task" or not parts[4].isdigit():
        return None
    return who, parts[4], parts[5]



def open_emulated(p: Process, path: bytes, host_flags: int) -> int | None:
    """An fd with the guest's view of `path`, or None when the host's file is right."""
    if _task_dir(p, path):
        return _open_task_dir(p, host_flags)
    m = _split_self(path)
    if m is not None:
        who, tid, name = m
        if who.isdigit() and int(who) != p.pid:
            return None  # another process: the host's file
        if name == b"comm":
            if tid is not None:
                t = p.sched.threads.get(int(tid))
                if t is None:
                    return None  # no such thread: the host says ENOENT
            else:
                t = p.sched.current if who == b"thread-self" else p.sched.threads.get(p.pid)
            text = thread_comm(p, t) + b"\n"
        elif name == b"stat" and tid is not None:
            t = p.sched.threads.get(int(tid))
            if t is None:
                return None
            text = stat(p, t)
        else:
            text = _GENERATORS[name.decode()](p)
    elif path == b"/proc/cpuinfo" and p.arch.CPUINFO is not None:
        text = cpuinfo(p)
    else:
        return None
    fd = os.memfd_create("usermode-proc", 0 if not host_flags & O_CLOEXEC else
                         os.MFD_CLOEXEC)
    os.write(fd, text)
    os.lseek(fd, 0, os.SEEK_SET)
    p.fds.forget(fd)
    return fd


def _task_dir(p: Process, path: bytes) -> bool:
    """/proc/{self,PID}/task: the guest's threads are ours to list (they are not the host's)."""
    parts = path.rstrip(b"/").split(b"/")
    return (len(parts) == 4 and parts[:2] == [b"", b"proc"] and parts[3] == b"task"
            and (parts[2] == b"self" or parts[2] == str(p.pid).encode()))


def _open_task_dir(p: Process, host_flags: int) -> int:
    """The host's own task directory (a real directory fd: fstat, fchdir), whose entries
    getdents64 gives from the guest's threads instead."""
    fd = os.open(f"/proc/{p.pid}/task", os.O_RDONLY | os.O_DIRECTORY |
                 (host_flags & O_CLOEXEC))
    p.fds.forget(fd)
    bo = p.abi.byteorder
    names = [b".", b".."] + [str(tid).encode() for tid in sorted(p.sched.threads)
                             if p.sched.threads[tid].state != DEAD]
    records = []
    for i, name in enumerate(names):
        size = (19 + len(name) + 1 + 7) & ~7  # ino, off, reclen, type, name, NUL; 8-aligned
        ino = int(name) if name.isdigit() else 1
        records.append(ino.to_bytes(8, bo) + (i + 1).to_bytes(8, bo) + size.to_bytes(2, bo)
                       + bytes((4,)) + name.ljust(size - 19, b"\0"))  # DT_DIR
    p.fds.listing[fd] = records
    return fd


def maps(p: Process) -> bytes:
    """The guest's mappings in the kernel's /proc/<pid>/maps format."""
    width = 8 if p.abi.wordsize == 4 else 12
    lines = []
    for v in p.mem.vmas:
        perms = ("r" if v.shown & 1 else "-") + ("w" if v.shown & 2 else "-") + \
                ("x" if v.shown & 4 else "-") + ("s" if v.shared else "p")
        dev = f"{os.major(v.dev):02x}:{os.minor(v.dev):02x}"
        head = f"{v.start:0{width}x}-{v.end:0{width}x} {perms} {v.offset:08x} {dev} {v.ino} "
        name = v.name
        if name.startswith("/") and p.paths.sysroot:
            name = os.fsdecode(p.paths.to_guest(os.fsencode(name)))
        lines.append(head.ljust(25 + 4 * width) + name if name else head.rstrip() + " ")
    return ("\n".join(x.rstrip() if not x.endswith(" ") else x for x in lines) + "\n").encode()


def auxv(p: Process) -> bytes:
    words = [w for pair in p.auxv_final for w in pair]
    return b"".join(p.abi.pack_word(w) for w in words)


def thread_comm(p: Process, t: Thread | None) -> bytes:
    """A thread's name (PR_SET_NAME's); the process's for the main thread or one unnamed."""
    return t.comm if t is not None and t.comm is not None else p.comm


def cmdline(p: Process) -> bytes:
    return b"".join(os.fsencode(a) + b"\0" for a in p.argv)


def environ(p: Process) -> bytes:
    return b"".join(e + b"\0" for e in p.envp)


def stat(p: Process, t: Thread | None = None) -> bytes:
    """The host's line for our pid with the guest's name and start of stack (field 28); for
    one guest thread (`t`), its tid, name and state (sleeping while it waits)."""
    with open(f"/proc/{p.pid}/stat", "rb") as f:
        raw = f.read()
    rest = raw[raw.rindex(b")") + 2:].split()
    rest[25] = str(p.stack_start).encode()  # field 28, startstack
    if t is None:
        return f"{p.pid} (".encode() + p.comm + b") " + b" ".join(rest) + b"\n"
    rest[0] = b"S" if t.state == PARKED else b"R"  # field 3, state
    return (f"{t.tid} (".encode() + thread_comm(p, t).rstrip(b"\0") + b") " + b" ".join(rest)
            + b"\n")


def cpuinfo(p: Process) -> bytes:
    """One block per host CPU in the arch's format, listing the HWCAP features we advertise."""
    a = p.arch
    assert a.CPUINFO is not None
    features = " ".join(name for bit, name in sorted(a.HWCAP_NAMES.items()) if a.HWCAP >> bit & 1)
    blocks = [a.CPUINFO.format(cpu=i, features=features) for i in range(os.cpu_count() or 1)]
    return ("\n".join(blocks) + "\n").encode()


_GENERATORS = {"maps": maps, "auxv": auxv, "cmdline": cmdline, "environ": environ,
               "stat": stat}
