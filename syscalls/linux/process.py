"""fork, vfork, clone/clone3 without CLONE_THREAD (new processes), wait4, waitid, execve,
execveat, getrusage, times, pidfd_open, pidfd_getfd, pidfd_send_signal: processes.

A new guest process is a host fork of the emulator: the engine and guest memory are copied
with it (private guest memory copy-on-write, MAP_SHARED guest memory stays shared). Only the
calling thread goes on in the child. CLONE_VM without CLONE_THREAD (vfork, posix_spawn)
still gives the child a copy of memory (and its own stack if one is given).

execve runs a foreign program (any ELF of a supported guest arch, or a #! script whose
interpreter is one) in this same host process: the old image goes, close-on-exec fds are
closed, and the run loop starts the new program; no new Python interpreter, no binfmt_misc.
An ELF the host runs natively is exec'd on the host, as Linux would.

Waiting never blocks the host thread that runs guest code: a wait that would block parks the
guest thread until a host SIGCHLD (usermode/kernel/children.py), so other guest threads go on and
a guest signal interrupts the wait. vfork suspends the calling thread until the child execs
or exits (a close-on-exec pipe's write end held by the child).
"""

from __future__ import annotations

import errno
import os
import stat
import time
from select import POLLIN

from loaders.elf import ElfError, read_elf
from syscalls.registry import PARTIAL, syscall
from usermode.host import syscalls as hostsys
from usermode.host.lean import signal as host
from usermode.host.signals import restore_mask, with_guest_mask
from usermode.kernel.errors import Errno, ExecRequest, Park
from usermode.uapi import (
    CLD_EXITED,
    CLONE_CHILD_CLEARTID,
    CLONE_CHILD_SETTID,
    CLONE_PARENT_SETTID,
    CLONE_SETTLS,
    CLONE_VFORK,
    CLONE_VM,
)

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable

    from usermode.kernel.process import Process

WNOHANG = 1
CHILD_RECHECK_NS = 200_000_000
P_ALL, P_PID, P_PGID, P_PIDFD = 0, 1, 2, 3
MAX_ARG_STRINGS = 0x7FFFFFFF
BINPRM_BUF_SIZE = 256  # how much of a file Linux reads to tell its format
SHEBANG_DEPTH = 4
HOST_ARCH = "x86_64"


# ---- fork ------------------------------------------------------------------------------------
def fork_process(p: Process, flags: int, sp: int, ptid: int, ctid: int, tls: int) -> int:
    """The host fork (called outside the hook). Returns the child's pid, or 0 in the child.
    With CLONE_VFORK the calling thread then waits until the child execs or exits."""
    vfork = _vfork_pipe() if flags & CLONE_VFORK else None
    pid = os.fork()
    if pid:
        if flags & CLONE_PARENT_SETTID:
            p.mem.write(ptid, pid.to_bytes(4, p.abi.byteorder))
        if vfork is None:
            return pid
        os.close(vfork[1])
        return _vfork_wait(p, vfork[0], pid)
    p.pid = os.getpid()
    p.sched.after_fork()
    if p.vfork_release is not None:  # a vfork child's own child must not hold its parent
        os.close(p.vfork_release)
        p.fds.reserved.discard(p.vfork_release)
        p.vfork_release = None
    if vfork is not None:
        os.close(vfork[0])
        p.vfork_release = vfork[1]  # closed by execve (close-on-exec) or by our exit
        p.fds.reserved.add(vfork[1])
    a = p.arch
    if sp:
        p.engine.set_reg(a.REG_SP_ID, sp)
    if flags & CLONE_SETTLS:
        from syscalls.linux.x86 import tls_regs

        for reg, val in tls_regs(p, tls):
            p.engine.set_reg(reg, val)
    t = p.thread
    if flags & CLONE_CHILD_SETTID:
        p.mem.write(ctid, p.pid.to_bytes(4, p.abi.byteorder))
    if flags & CLONE_CHILD_CLEARTID:
        t.clear_child_tid = ctid
    return 0


def _vfork_pipe() -> tuple[int, int]:
    from usermode.host.fds import move_high, ours

    r, w = ours(lambda: os.pipe2(os.O_CLOEXEC))
    return move_high(r), move_high(w)


def _vfork_wait(p: Process, fd: int, pid: int) -> int:
    """The vfork parent sleeps (signals wait too, as in Linux) until the pipe's only writer,
    the child, execs or exits: then the read end polls readable (end of file)."""
    def done(_reason: int) -> int:
        p.sched.waits.fd_closing(fd)  # its number is soon reused: the monitor must let go now
        os.close(fd)
        return pid

    raise Park(done, fds=((fd, POLLIN),), interruptible=False)


@syscall("fork", support=PARTIAL, note="a host fork of the emulator")
def sys_fork(p: Process) -> int:
    raise Park.outside(lambda: fork_process(p, 0, 0, 0, 0, 0))


@syscall("vfork", support=PARTIAL,
         note="a host fork; the parent waits until the child execs or exits")
def sys_vfork(p: Process) -> int:
    raise Park.outside(lambda: fork_process(p, CLONE_VM | CLONE_VFORK, 0, 0, 0, 0))


# ---- wait --------------------------------------------------------------------------------------
def _rusage_bytes(p: Process, ru: object) -> bytes:
    w = p.abi.wordsize
    bo = p.abi.byteorder

    def tv(sec: float) -> bytes:
        us = round(sec * 1e6)
        return (us // 1_000_000).to_bytes(w, bo) + (us % 1_000_000).to_bytes(w, bo)

    rest = ("ru_maxrss", "ru_ixrss", "ru_idrss", "ru_isrss", "ru_minflt", "ru_majflt",
            "ru_nswap", "ru_inblock", "ru_oublock", "ru_msgsnd", "ru_msgrcv", "ru_nsignals",
            "ru_nvcsw", "ru_nivcsw")
    return tv(ru.ru_utime) + tv(ru.ru_stime) + b"".join(  # type: ignore[attr-defined]
        int(getattr(ru, n)).to_bytes(w, bo, signed=True) for n in rest)


def _wait4_now(p: Process, pid: int, status: int, options: int, rusage: int) -> int:
    r, st, ru = os.wait4(pid, options)
    if r:
        p.children.reaped_status(r, st)
    if r and status:
        p.mem.write(status, (p.abi.to_guest_wait_status(st) & 0xFFFFFFFF).to_bytes(
            4, p.abi.byteorder))
    if r and rusage:
        p.mem.write(rusage, _rusage_bytes(p, ru))
    return r


@syscall("wait4", args=("int", "ptr", "int:wait_options", "ptr"))
def sys_wait4(p: Process, pid: int, status: int, options: int, rusage: int) -> int:
    # a bad status pointer is found when a child's status is written (EFAULT), after the
    # options (EINVAL) and after there is a child to wait for (ECHILD), as in Linux
    if options & WNOHANG:
        return _wait4_now(p, pid, status, options, rusage)
    return _until_child(p, lambda: _wait4_now(p, pid, status, options | WNOHANG, rusage)
                        or None)


def _until_child(p: Process, attempt: Callable[[], int | None]) -> int:
    """Run a WNOHANG wait (`attempt`: None while no child is ready) until it finds one;
    between attempts the thread is parked until our host SIGCHLD handler reports a change
    (see usermode/kernel/children.py)."""
    fd = p.children.arm()
    r = attempt()
    if r is not None:
        return r

    def again(_reason: int) -> int:
        p.children.drain()
        r = attempt()
        if r is not None:
            return r
        raise _child_park(again, fd)

    raise _child_park(again, fd)


def _child_park(retry: Callable[[int], int], fd: int) -> Park:
    # The SIGCHLD pipe is the wake-up; the deadline is a safety net, so that a lost
    # notification can delay a wait by CHILD_RECHECK_NS but never hang it.
    return Park(retry, fds=((fd, POLLIN),), deadline=time.monotonic_ns() + CHILD_RECHECK_NS)


def _waitid_now(p: Process, idtype: int, ident: int, infop: int, options: int) -> int:
    res = os.waitid(idtype, ident, options)
    if infop:
        bo = p.abi.byteorder
        info = bytearray(128)
        if res is not None:
            info[0:4] = p.abi.sig_to_guest(res.si_signo).to_bytes(4, bo)
            c = p.abi.siginfo_code_errno[0]
            info[c:c + 4] = res.si_code.to_bytes(4, bo, signed=True)
            off = 16 if p.abi.wordsize == 8 else 12
            info[off:off + 4] = res.si_pid.to_bytes(4, bo)
            info[off + 4:off + 8] = res.si_uid.to_bytes(4, bo)
            status = res.si_status if res.si_code == CLD_EXITED else \
                p.abi.sig_to_guest(res.si_status)
            info[off + 8:off + 12] = (status & 0xFFFFFFFF).to_bytes(4, bo)
        p.mem.write(infop, bytes(info))
    return 0


@syscall("waitpid", args=("int", "ptr", "int:wait_options"))
def sys_waitpid(p: Process, pid: int, status: int, options: int) -> int:
    """The 32-bit ABIs' old call: wait4 without the rusage."""
    return sys_wait4(p, pid, status, options, 0)


@syscall("waitid", args=("int", "int", "ptr", "int:wait_options", "ptr"), support=PARTIAL,
         note="rusage not filled")
def sys_waitid(p: Process, idtype: int, ident: int, infop: int, options: int,
               rusage: int) -> int:
    if idtype not in (P_ALL, P_PID, P_PGID, P_PIDFD):
        raise Errno(errno.EINVAL)
    if options & WNOHANG:
        return _waitid_now(p, idtype, ident, infop, options)

    def attempt() -> int | None:
        if os.waitid(idtype, ident, options | WNOHANG | os.WNOWAIT) is None:
            return None
        return _waitid_now(p, idtype, ident, infop, options)

    return _until_child(p, attempt)


# ---- execve ------------------------------------------------------------------------------------
def _strings(p: Process, ptr: int) -> list[bytes]:
    """A NULL-terminated array of guest C strings (argv, envp)."""
    out: list[bytes] = []
    if not ptr:
        return out
    w = p.abi.wordsize
    while True:
        a = int.from_bytes(p.mem.read(ptr + len(out) * w, w), p.abi.byteorder)
        if not a:
            return out
        out.append(p.mem.read_cstr(a, 128 * 1024))
        if len(out) > MAX_ARG_STRINGS:
            raise Errno(errno.E2BIG)


def _shebang_line(head: bytes) -> bytes:
    """The interpreter and argument of a `#!` line, as Linux's binfmt_script reads them from
    the file's first 256 bytes: without a newline there, the argument may be cut short but
    the interpreter's path may not (ENOEXEC)."""
    buf = head[:BINPRM_BUF_SIZE]
    end = buf.find(b"\n")
    if end < 0:
        body = buf[2:BINPRM_BUF_SIZE - 1]
        start = len(body) - len(body.lstrip(b" \t"))
        if start == len(body):
            raise Errno(errno.ENOEXEC)  # nothing but blanks
        if not any(c in body[start:] for c in (b" ", b"\t", b"\0")):
            raise Errno(errno.ENOEXEC)  # the interpreter's path does not fit
        line = body
    else:
        line = buf[2:end]
    line = line.split(b"\0", 1)[0].strip(b" \t")
    if not line:
        raise Errno(errno.ENOEXEC)
    return line


def _resolve(p: Process, guest: bytes, argv: list[bytes], depth: int = 0
             ) -> tuple[bytes, bytes, list[bytes]]:
    """Follow #! lines: (host path, guest path, argv) of the binary to run."""
    host = p.paths.to_host(guest)
    try:
        st = os.stat(host)
    except FileNotFoundError:
        raise Errno(errno.ENOENT) from None
    if stat.S_ISDIR(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise Errno(errno.EACCES)
    if not os.access(host, os.X_OK):
        raise Errno(errno.EACCES)
    with open(host, "rb") as f:
        head = f.read(256)
    if head.startswith(b"#!"):
        if depth >= SHEBANG_DEPTH:
            raise Errno(errno.ELOOP)
        line = _shebang_line(head)
        interp, _, arg = line.replace(b"\t", b" ").partition(b" ")
        arg = arg.strip()
        new_argv = [interp, *([arg] if arg else []), guest, *argv[1:]]
        return _resolve(p, interp, new_argv, depth + 1)
    if not head.startswith(b"\x7fELF"):
        raise Errno(errno.ENOEXEC)
    return host, guest, argv


def _execve(p: Process, path_ptr: int, argv_ptr: int, envp_ptr: int) -> int:
    guest = p.mem.read_cstr(path_ptr, 4096)
    if not guest:
        raise Errno(errno.ENOENT)
    argv = _strings(p, argv_ptr)
    envp = _strings(p, envp_ptr)
    if guest in (b"/proc/self/exe",):
        guest = p.paths.exe
    host, guest, argv = _resolve(p, guest, argv)
    try:
        elf = read_elf(os.fsdecode(host))
    except (ElfError, OSError):
        raise Errno(errno.ENOEXEC) from None

    def run() -> int:
        if elf.arch == HOST_ARCH and p.arch.UNAME_MACHINE != HOST_ARCH:
            if p.tracer is not None:
                p.tracer.native_exec()
            saved = with_guest_mask(p.thread.sigmask)  # kept across execve, as Linux does
            try:
                os.execve(host, argv or [guest], dict(_env_pairs(envp)))  # the host runs it
            finally:
                restore_mask(saved)
        raise ExecRequest(os.fsdecode(host), argv, envp)

    raise Park.outside(run)


def _env_pairs(envp: list[bytes]) -> list[tuple[bytes, bytes]]:
    pairs = []
    for item in envp:
        k, sep, v = item.partition(b"=")
        if sep:
            pairs.append((k, v))
    return pairs


@syscall("execve", args=("path", "ptr", "ptr"), support=PARTIAL,
         note="foreign ELF and #! scripts run in this process; native ELF via host execve")
def sys_execve(p: Process, path: int, argv: int, envp: int) -> int:
    return _execve(p, path, argv, envp)


@syscall("execveat", args=("fd:dirfd", "path", "ptr", "ptr", "int:at_flags"), support=PARTIAL,
         note="AT_FDCWD or an absolute path only")
def sys_execveat(p: Process, dfd: int, path: int, argv: int, envp: int, flags: int) -> int:
    name = p.mem.read_cstr(path, 4096)
    if not name.startswith(b"/") and dfd != -100:
        raise Errno(errno.ENOSYS)
    return _execve(p, path, argv, envp)


# ---- resource usage, pidfds --------------------------------------------------------------
RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD = 0, -1, 1


@syscall("getrusage", args=("int", "ptr"))
def sys_getrusage(p: Process, who: int, usage: int) -> int:
    import resource

    if who not in (RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD):
        raise Errno(errno.EINVAL)
    host_who = resource.RUSAGE_CHILDREN if who == RUSAGE_CHILDREN else resource.RUSAGE_SELF
    p.mem.write(usage, _rusage_bytes(p, resource.getrusage(host_who)))
    return 0


@syscall("times", args=("ptr",))
def sys_times(p: Process, buf: int) -> int:
    t = os.times()
    hz = 100
    if buf:
        p.mem.write(buf, p.abi.tms.pack(*(round(x * hz) for x in (
            t.user, t.system, t.children_user, t.children_system))))
    return round(t.elapsed * hz) & p.abi.mask


@syscall("pidfd_open", args=("int", "uint"), ret="fd")
def sys_pidfd_open(p: Process, pid: int, flags: int) -> int:
    return p.fds.adopt(os.pidfd_open(pid, flags))


@syscall("pidfd_getfd", args=("fd", "int", "uint"), ret="fd")
def sys_pidfd_getfd(p: Process, pidfd: int, targetfd: int, flags: int) -> int:
    """Another process's fd (a guest's fds are its host process's own)."""
    return p.fds.adopt(hostsys.syscall(hostsys.NR["pidfd_getfd"], pidfd, targetfd, flags))


@syscall("pidfd_send_signal", args=("fd", "int:signal", "ptr", "uint"), support=PARTIAL,
         note="info must be NULL")
def sys_pidfd_send_signal(p: Process, fd: int, sig: int, info: int, flags: int) -> int:
    if info or flags:
        raise Errno(errno.EINVAL)
    host.pidfd_send_signal(fd, sig)
    return 0
