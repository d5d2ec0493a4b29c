"""One syscall's arguments and result as strace shows them.

`enter` renders the inputs before the handler runs (a buffer the call overwrites is shown
as it was passed); `finish` renders the outputs and the result after it. Values are the
handler's own: decoded by the dispatcher (register pairs joined, mips numbers made the
host's), so one set of names serves every arch.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from syscalls.linux.ioctl_more import IFREQ_GETS, SIOCGIFCONF
from syscalls.registry import Row
from usermode.engine.core import REGISTERS_RESTORED
from usermode.trace import ipc, netdev
from usermode.trace import names as N
from usermode.trace import render as R
from usermode.trace.specs import HEX_RESULT, SPECS
from usermode.uapi import (
    F_GETFD,
    F_GETFL,
    F_SETFD,
    F_SETFL,
    FIONREAD,
    TCGETS,
    TCSETS,
    TCSETSF,
    TCSETSW,
    TIOCGPTN,
    TIOCGWINSZ,
    TIOCSPTLCK,
    TIOCSWINSZ,
)

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

O_CREAT, O_TMPFILE = 0o100, 0o20200000
_IOCTL_OUTPUTS = frozenset({TCGETS, TIOCGWINSZ, FIONREAD, TIOCGPTN, *IFREQ_GETS})


def _scalar(code: str, v: int, p: Process) -> str:
    """An argument whose value is all there is to show: by its code or kind detail."""
    if code in ("fd", "int", "long", "int:fd"):
        return str(v)
    if code in ("dirfd", "fd:dirfd"):
        return "AT_FDCWD" if v in (-100, 0xFFFFFF9C) else str(v)
    if code in ("uint", "size", "ulong", "uint:uid", "uint:gid"):
        return str(v)
    if code in ("ptr", "hex"):
        return "NULL" if v == 0 else hex(v)
    detail = code.split(":", 1)[-1]
    fn = _DETAILS.get(detail)
    return fn(v, p) if fn is not None else str(v)


def _socket_type(v: int) -> str:
    kind = N.SOCK_TYPES.get(v & 0xF, str(v & 0xF))
    rest = R.flags(v & ~0xF, N.SOCK_FLAGS, "")
    return kind + (f"|{rest}" if rest else "")


def _futex_op(v: int) -> str:
    name = N.FUTEX_OPS.get(v & 0x7F, str(v & 0x7F))
    if v & 128:
        name += "_PRIVATE"
    if v & 256:
        name += "|FUTEX_CLOCK_REALTIME"
    return name


def _bitset(v: int) -> str:
    return "FUTEX_BITSET_MATCH_ANY" if v & 0xFFFFFFFF == 0xFFFFFFFF else hex(v)


def _clone_flags(v: int) -> str:
    sig = v & 0xFF
    text = R.flags(v & ~0xFF, N.CLONE_FLAGS, "")
    if sig:
        text = f"{text}|{R.signal(sig)}" if text else R.signal(sig)
    return text or "0"


_DETAILS = {
    "open_flags": lambda v, p: R.open_flags(p.abi.from_guest_open_flags(v)),
    "oflags": lambda v, p: R.open_flags(p.abi.from_guest_open_flags(v)),
    "fdflags": lambda v, p: R.flags(p.abi.from_guest_open_flags(v), N.OPEN_FLAGS),
    "at_flags": lambda v, p: R.flags(v, N.AT_FLAGS),
    "prot": lambda v, p: R.flags(v, N.PROT, "PROT_NONE"),
    "map_flags": lambda v, p: R.map_flags(v),
    "signal": lambda v, p: R.signal(v) if v else "0",
    "sighow": lambda v, p: R.enum(v, N.SIG_HOW),
    "whence": lambda v, p: R.enum(v, N.WHENCE, "SEEK_"),
    "clockid": lambda v, p: R.enum(v, N.CLOCKS, "CLOCK_"),
    "rlimit": lambda v, p: R.enum(v, N.RLIMITS),
    "wait_options": lambda v, p: R.flags(v, N.WAIT_OPTIONS),
    "fcntl_cmd": lambda v, p: R.enum(v, N.FCNTL),
    "ioctl": lambda v, p: N.IOCTLS.get(v) or netdev.request(p, v),
    "socket_family": lambda v, p: R.enum(v, N.FAMILIES),
    "socket_type": lambda v, p: _socket_type(v),
    "sock_flags": lambda v, p: R.flags(v, N.SOCK_FLAGS),
    "msg_flags": lambda v, p: R.flags(v, N.MSG_FLAGS),
    "access_mode": lambda v, p: R.flags(v, N.ACCESS, "F_OK"),
    "futex_op": lambda v, p: _futex_op(v),
    "epoll_op": lambda v, p: R.enum(v, N.EPOLL_OPS),
    "clone_flags": lambda v, p: _clone_flags(v),
    "grnd_flags": lambda v, p: R.flags(v, N.GRND_FLAGS),
    "rename_flags": lambda v, p: R.flags(v, N.RENAME_FLAGS),
    "mremap_flags": lambda v, p: R.flags(v, N.MREMAP_FLAGS),
    "madvise": lambda v, p: R.enum(v, N.MADVISE),
    "arch_prctl": lambda v, p: N.ARCH_PRCTL.get(v, hex(v)),
    "prctl": lambda v, p: R.enum(v, N.PRCTL),
    "sockopt_level": lambda v, p: R.enum(v, N.SOL),
    "sockopt": lambda v, p: R.enum(v, N.SO_NAMES),
    "statx_mask": lambda v, p: R.flags(v, N.STATX_MASK),
    "sfd_flags": lambda v, p: R.flags(v, N.SFD_FLAGS),
    "mode": lambda v, p: R.mode(v),
    "timer_flags": lambda v, p: "TIMER_ABSTIME" if v == 1 else str(v),
    **ipc.SCALARS,
}


def _ptr(v: int) -> str:
    return hex(v) if v else "NULL"


def _dirfd(v: int) -> str:
    return "AT_FDCWD" if v in (-100, 0xFFFFFF9C) else str(v)


# codes whose text is a function of the value alone: no memory, no other argument
_PLAIN: dict[str, Callable[[int], str]] = {
    "fd": str, "int": str, "long": str, "int:fd": str, "uint": str, "size": str, "ulong": str,
    "uint:uid": str, "uint:gid": str, "ptr": _ptr, "hex": _ptr, "dirfd": _dirfd,
    "fd:dirfd": _dirfd, "off": str, "ssize": str}
# name -> (codes, per code: its plain renderer or None, the first output's index)
_PLANS: dict[str, tuple[tuple[str, ...], tuple[Callable[[int], str] | None, ...], int]] = {}


def _plan(name: str, row: Row | None
          ) -> tuple[tuple[str, ...], tuple[Callable[[int], str] | None, ...], int]:
    plan = _PLANS.get(name)
    if plan is None or row is None:
        codes = tuple(SPECS.get(name) or (row.args if row is not None else ()))
        first = next((i for i, c in enumerate(codes) if c.startswith(">")), len(codes))
        plan = (codes, tuple(_PLAIN.get(c) for c in codes), first)
        if row is not None:
            _PLANS[name] = plan
    return plan


# structs shown from their address alone, as inputs (`code`) or outputs (`>code`)
_POINTED: dict[str, Callable[[Process, int], str]] = {
    "timespec": R.timespec, "timeval": R.timeval, "sigset": R.guest_sigset,
    "sigaction": R.sigaction, "stat": R.stat, "statx": R.statx, "utsname": R.utsname,
    "envp": R.envp,
}


class Call:
    """One call in flight: its rendered inputs now, its outputs once it returns."""

    __slots__ = ("_first", "args", "codes", "limit", "name", "parts", "proc", "saved", "tail")

    def __init__(self, proc: Process, name: str, row: Row | None, args: tuple[int, ...],
                 limit: int) -> None:
        self.proc, self.name, self.args, self.limit = proc, name, args, limit
        codes, plain, first = _plan(name, row)
        n = len(args)
        self.codes = codes[:n]
        self._first = min(first, n)
        self.tail = ""  # after the result: poll's revents, fcntl's flags
        self.saved = 0  # an input the call overwrites (SIOCGIFCONF's length)
        parts: list[str | None] = []
        for i, code in enumerate(self.codes):
            fn = plain[i]
            parts.append(fn(args[i]) if fn is not None else self._input(i, code))
        self.parts = parts
        if name == "futex" and n == 6:
            self.parts = self._futex_parts()
            self.codes = self.codes[:len(self.parts)]
            self._first = len(self.parts)

    def _futex_parts(self) -> list[str | None]:
        """strace shows the arguments the operation uses (a timeout for the waits)."""
        uaddr, op, val, timeout, uaddr2, val3 = self.args
        cmd = op & 0x7F
        head: list[str | None] = [_ptr(uaddr), _futex_op(op), str(val)]
        if cmd in (0, 9):  # WAIT, WAIT_BITSET
            try:
                ts = R.timespec(self.proc, timeout) if timeout else "NULL"
            except Exception:
                ts = hex(timeout)
            if cmd == 0:
                return [*head, ts]
            return [*head, ts, _bitset(val3)]
        if cmd == 1:  # WAKE
            return head
        if cmd == 10:  # WAKE_BITSET
            return [*head, "NULL", _bitset(val3)]
        if cmd == 3:  # REQUEUE
            return [*head, str(timeout & 0xFFFFFFFF), _ptr(uaddr2)]
        if cmd in (4, 5):  # CMP_REQUEUE, WAKE_OP
            return [*head, str(timeout & 0xFFFFFFFF), _ptr(uaddr2), str(val3)]
        return [*head, _ptr(timeout), _ptr(uaddr2), str(val3)]

    def _clone_parts(self) -> list[str]:
        """strace's clone: named fields, each only where the flags use it."""
        flags, sp, ptid, a3, a4 = self.args[:5]
        tls, ctid = (a3, a4) if self.proc.abi.clone_backwards else (a4, a3)
        out = [f"child_stack={_ptr(sp)}", f"flags={_clone_flags(flags)}"]
        if flags & 0x100000:  # CLONE_PARENT_SETTID
            try:
                out.append(f"parent_tid={R.int_array(self.proc, ptid, 1)}")
            except Exception:
                out.append(f"parent_tid={_ptr(ptid)}")
        if flags & 0x80000:  # CLONE_SETTLS
            out.append(f"tls={_ptr(tls)}")
        if flags & 0x1200000:  # CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID
            out.append(f"child_tidptr={_ptr(ctid)}")
        return out

    def _clone_args(self, v: int, size: int) -> str:
        """struct clone_args (u64 fields on every ABI): the fields its flags use."""
        p = self.proc
        raw = p.mem.read(v, min(max(size, 0), 88)).ljust(88, b"\0")
        f = [int.from_bytes(raw[i:i + 8], p.abi.byteorder) for i in range(0, 88, 8)]
        flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls = f[:8]
        out = [f"flags={_clone_flags(flags) if flags else '0'}"]
        if flags & 0x1000:  # CLONE_PIDFD
            out.append(f"pidfd={_ptr(pidfd)}")
        if flags & 0x1200000:  # CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID
            out.append(f"child_tid={_ptr(child_tid)}")
        if flags & 0x100000:  # CLONE_PARENT_SETTID
            out.append(f"parent_tid={_ptr(parent_tid)}")
        sig = p.abi.sig_in.get(exit_signal, exit_signal) if exit_signal else 0
        out += [f"exit_signal={R.signal(sig) if sig else 0}", f"stack={_ptr(stack)}",
                f"stack_size={hex(stack_size)}"]
        if flags & 0x80000:  # CLONE_SETTLS
            out.append(f"tls={_ptr(tls)}")
        if f[9]:
            out.append(f"set_tid={_ptr(f[8])}, set_tid_size={f[9]}")
        return "{" + ", ".join(out) + "}"

    def _ipc_ds_input(self, kind: str, v: int) -> str | None:
        """The last argument of shmctl/semctl/msgctl, as its command uses it."""
        cmd = self.args[-2]
        if ipc.is_stat(kind, cmd):
            return None  # filled by the call
        if ipc.is_set(cmd) and v:
            return ipc.ds(self.proc, kind, v, full=False)
        if kind == "sem" and cmd & 0xFF in (13, 16, 17):  # GETALL, SETVAL, SETALL
            return hex(v)
        return _ptr(v)

    def _clone3_result(self, ret: int) -> str:
        """` => {parent_tid=[N]}` after a clone3 that stored the child's tid."""
        v, size = self.args[0], self.args[1]
        try:
            raw = self.proc.mem.read(v, 32)
            bo = self.proc.abi.byteorder
            if not int.from_bytes(raw[0:8], bo) & 0x100000 or ret <= 0:
                return ""
            ptid = int.from_bytes(raw[24:32], bo)
            return f" => {{parent_tid={R.int_array(self.proc, ptid, 1)}}}" if size else ""
        except Exception:
            return ""

    # ---- before the call ---------------------------------------------------------------------
    def _input(self, i: int, code: str) -> str | None:
        if code.startswith(">"):
            return None  # an output: rendered by finish()
        v = self.args[i]
        p = self.proc
        try:
            return self._render_input(code, v, p)
        except Exception:  # a bad guest pointer (or anything odd): the address, as strace
            return hex(v) if v else "NULL"

    def _render_input(self, code: str, v: int, p: Process) -> str | None:
        head, _, ref = code.partition(":")
        if head in ("path", "str") and not ref:
            return R.cstr(p, v, None if head == "path" else self.limit)
        if head == "ibuf":
            n = self.args[int(ref)]
            return R.escape(p.mem.read(v, min(n, self.limit)), self.limit, n > self.limit)
        if head == "iov":
            return R.iovecs(p, v, self.args[int(ref)], None, self.limit)
        if head == "mode_creat":
            f = p.abi.from_guest_open_flags(self.args[int(ref)])
            return R.mode(v) if f & O_CREAT or f & O_TMPFILE == O_TMPFILE else ""
        if head == "statx_flags":
            return R.flags(v, N.AT_FLAGS, "AT_STATX_SYNC_AS_STAT")
        if head == "utimes":
            return R.utimes(p, v) if v else "NULL"
        if not v and head in ("timespec", "sigset", "sigaction", "sockaddr", "pollfds",
                              "rlimit_in", "rlimit64_in", "epoll_event", "argv", "envp",
                              "fdset", "timeval", "msghdr", "pselect_sig"):
            return "NULL"
        shown = _POINTED.get(head)
        if shown is not None:
            return shown(p, v)
        if head == "fdset":
            return R.fd_set(p, v, self.args[int(ref)])
        if head == "pselect_sig":
            w = p.abi.wordsize
            raw = p.mem.read(v, 2 * w)
            ss, size = (int.from_bytes(raw[i * w:(i + 1) * w], p.abi.byteorder) for i in (0, 1))
            return f"{{sigmask={R.guest_sigset(p, ss, size) if ss else 'NULL'}, " \
                   f"sigsetsize={size}}}"
        if head == "msghdr":
            return R.msghdr(p, v, self.limit, None)
        if head == "clone_args":
            return self._clone_args(v, self.args[int(ref)])
        if head == "sembufs":
            return ipc.sembufs(p, v, self.args[int(ref)])
        if head == "msgbuf":
            return ipc.msgbuf(p, v, self.args[int(ref)], self.limit)
        if head == "ipc_ds":
            return self._ipc_ds_input(ref, v)
        if head == "sockaddr":
            return R.sockaddr(p, v, self.args[int(ref)])
        if head == "pollfds":
            return R.pollfds(p, v, self.args[int(ref)], False)
        if head in ("rlimit_in", "rlimit64_in"):
            return R.rlimit(p, v, head == "rlimit64_in")
        if head == "argv":
            return R.argv(p, v, self.limit)
        if head == "epoll_event":
            raw = p.mem.read(v, 12)
            ev = int.from_bytes(raw[0:4], p.abi.byteorder)
            return f"{{events={R.flags(ev, N.EPOLL_EVENTS)}, data=...}}"
        if head == "fcntl_arg":
            return self._fcntl_arg(v)
        if head == "ioctl_arg":
            req = self.args[int(ref)]
            if req in (TCSETS, TCSETSW, TCSETSF) and v:
                return R.termios(p, v)
            if req == TIOCSWINSZ and v:
                return R.winsize(p, v)
            if req == TIOCSPTLCK and v:
                return R.int_array(p, v, 1)
            if req == SIOCGIFCONF and v:
                self.saved = netdev.ifconf_len(p, v)
                return None
            return None if req in _IOCTL_OUTPUTS and v else _ptr(v)
        return _scalar(code, v, p)

    def _fcntl_arg(self, v: int) -> str:
        cmd = self.args[1]
        if cmd in (F_GETFD, F_GETFL, 9, 11, 1025, 1032, 1034):
            return ""  # no third argument
        if cmd == F_SETFD:
            return "FD_CLOEXEC" if v == 1 else str(v)
        if cmd == F_SETFL:
            return R.open_flags(self.proc.abi.from_guest_open_flags(v))
        if cmd in (5, 6, 7, 36, 37, 38):
            return hex(v)
        return str(v)

    # ---- after the call ----------------------------------------------------------------------
    def first_output(self) -> int:
        """How many arguments an `<unfinished ...>` line shows: those before the first
        output."""
        return self._first

    def finish(self, ret: int, skip: int = 0) -> tuple[str, str]:
        """(the argument list, the result text) once the call returned `ret` (-errno);
        `skip`: arguments an `<unfinished ...>` line already showed."""
        return ", ".join(self.finish_list(ret, skip)), self.result(ret)

    def finish_list(self, ret: int, skip: int = 0) -> list[str]:
        """The rendered arguments, one string each (see finish)."""
        if self.name == "clone" and len(self.args) == 5:
            return self._clone_parts()[skip:]
        failed = -4096 < ret < 0
        parts = []
        for i, code in enumerate(self.codes):
            if i < skip:
                continue
            text = self.parts[i]
            if text is None:
                v = self.args[i]
                if not v:
                    text = "NULL"
                elif failed and not (code.startswith("ioctl_arg") and self._net_request()):
                    text = hex(v)
                else:
                    try:
                        text = self._render_output(code, v, ret)
                    except Exception:
                        text = hex(v)
            if text != "":
                parts.append(text)
        if self.name == "clone3" and parts and not skip:
            parts[0] += self._clone3_result(ret)
        return parts

    def _net_request(self) -> bool:
        """An ioctl whose struct strace shows as passed even when the call failed."""
        return self.args[1] in IFREQ_GETS or self.args[1] == SIOCGIFCONF

    def _render_output(self, code: str, v: int, ret: int) -> str:
        p = self.proc
        head, _, ref = code.partition(":")
        if head == ">buf":
            n = ret if ref == "ret" else self.args[int(ref)]
            return R.escape(p.mem.read(v, min(n, self.limit)), self.limit, n > self.limit)
        if head == ">link":
            return R.escape(p.mem.read(v, ret), ret)
        if head == ">cstr":
            return R.cstr(p, v, None)
        if head == ">iov":
            return R.iovecs(p, v, self.args[int(ref)], ret, self.limit)
        shown = _POINTED.get(head[1:])
        if shown is not None:
            return shown(p, v)
        if head == ">fdpair":
            return R.int_array(p, v, 2)
        if head == ">wstatus":
            return R.wait_status(int.from_bytes(p.mem.read(v, 4), p.abi.byteorder)) \
                if ret > 0 else hex(v)
        if head in (">rlimit", ">rlimit64"):
            return R.rlimit(p, v, head == ">rlimit64")
        if head == ">sockaddr":
            size_ptr = self.args[int(ref) if ref else 2]
            n = int.from_bytes(p.mem.read(size_ptr, 4), p.abi.byteorder) if size_ptr else 0
            return R.sockaddr(p, v, n)
        if head == ">socklen":
            return R.int_array(p, v, 1)
        if head == "ioctl_arg":  # an output for the get requests
            req = self.args[int(ref)]
            if req in (FIONREAD, TIOCGPTN):
                return R.int_array(p, v, 1)
            if req in IFREQ_GETS:
                return netdev.ifreq(p, v, req, ret >= 0)
            if req == SIOCGIFCONF:
                return netdev.ifconf(p, v, self.saved, ret >= 0)
            return R.termios(p, v) if req == TCGETS else R.winsize(p, v)
        if head == ">msghdr":
            return R.msghdr(p, v, self.limit, ret)
        if head == "ipc_ds":
            return ipc.ds(p, ref, v, full=True)
        if head == ">msgbuf":
            return ipc.msgbuf(p, v, self.args[int(ref)], self.limit)
        if head in (">statfs", ">statfs64"):
            return R.statfs(p, v, head == ">statfs64")
        if head == ">cpuset":
            return R.cpuset(p, v, ret)
        if head == ">dirents":
            return f"{hex(v)} /* {self._dirents(v, ret)} entries */"
        if head == ">epoll_events":
            return self._epoll_events(v, ret)
        return hex(v)

    def _dirents(self, ptr: int, size: int) -> int:
        raw = self.proc.mem.read(ptr, size)
        n = off = 0
        while off + 18 < len(raw):
            reclen = int.from_bytes(raw[off + 16:off + 18], self.proc.abi.byteorder)
            if not reclen:
                break
            n += 1
            off += reclen
        return n

    def _epoll_events(self, ptr: int, n: int) -> str:
        p = self.proc
        size = 12 if p.abi.epoll_packed else 16
        raw = p.mem.read(ptr, size * min(n, 16))
        items = []
        for i in range(0, len(raw), size):
            ev = int.from_bytes(raw[i:i + 4], p.abi.byteorder)
            data = int.from_bytes(raw[i + size - 8:i + size], p.abi.byteorder)
            items.append(f"{{events={R.flags(ev, N.EPOLL_EVENTS)}, "
                         f"data={{u32={data & 0xFFFFFFFF}, u64={data}}}}}")
        return "[" + ", ".join(items) + "]"

    def result(self, ret: int) -> str:
        if ret == REGISTERS_RESTORED:
            return "?"
        mask = self.proc.abi.mask
        if ret > mask >> 1 and ret <= mask and self.name not in HEX_RESULT:
            ret -= mask + 1  # a register value: signed, as strace shows it
        if -4096 < ret < 0:
            e = -ret
            return f"-1 {N.ERRNO.get(e, str(e))} ({os.strerror(e)})"
        name = self.name
        if name in HEX_RESULT:
            return hex(ret & self.proc.abi.mask)
        if name == "umask":
            return R.mode(ret)
        if name in ("fcntl", "fcntl64") and len(self.args) > 1:
            cmd = self.args[1]
            if cmd == F_GETFL:
                shown = R.open_flags(self.proc.abi.from_guest_open_flags(ret))
                return f"{ret:#x} (flags {shown})" if ret else f"0 (flags {shown})"
            if cmd == F_GETFD:
                return f"{ret:#x} (flags FD_CLOEXEC)" if ret == 1 else str(ret)
        if name in ("select", "_newselect", "pselect6") and len(self.args) > 3:
            if ret == 0:
                return "0 (Timeout)"
            try:
                sets = [(label, R.fd_set(self.proc, ptr, self.args[0])) for label, ptr in
                        zip(("in", "out", "except"), self.args[1:4], strict=True) if ptr]
                parts = [f"{label} {text}" for label, text in sets if text != "[]"]
                if len(self.args) > 4 and self.args[4]:  # the time left, written back
                    left = (R.timespec if name == "pselect6" else R.timeval)(self.proc,
                                                                             self.args[4])
                    parts.append(f"left {left}")
                return f"{ret} ({', '.join(parts)})"
            except Exception:
                return str(ret)
        if name in ("poll", "ppoll"):
            if ret == 0:
                return "0 (Timeout)"
            try:
                return f"{ret} ({R.pollfds(self.proc, self.args[0], self.args[1], True)})"
            except Exception:
                return str(ret)
        return str(ret)
