"""Guest syscall number -> registered handler; errors become the guest's return value here.

This is the only place that turns a raised `Errno` (or host `OSError`) into the guest's
return convention and the only place unknown numbers become -ENOSYS (with one warning
per name when asked for).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
import sys

from syscalls import registry, tables
from syscalls.abi import Abi
from usermode.engine.native import CONV, FAST, FD_CHECK
from usermode.kernel.errors import Errno, errno_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    Conv = Callable[[int], int]
    # (nr, handler, argument count, conversions, fast kind, fd check): a row of the compiled
    # core's table
    NativeRow = tuple[int, Callable[..., int], int, bytes, int, int]
    Entry = tuple[Callable[..., int], tuple[tuple[int, Conv], ...], int, str]
    Wrap = Callable[[str, Callable[..., int]], Callable[..., int]]
# syscalls the compiled core can serve itself, by the name of its FAST_* kind
FAST_NAMES = {"getpid": "getpid", "getppid": "getppid", "getuid": "getuid",
              "geteuid": "geteuid", "getgid": "getgid", "getegid": "getegid",
              "getuid32": "getuid", "geteuid32": "geteuid", "getgid32": "getgid",
              "getegid32": "getegid", "read": "read", "write": "write", "pread64": "pread",
              "pwrite64": "pwrite", "lseek": "lseek", "getrandom": "getrandom",
              "clock_gettime": "clock_gettime64", "clock_gettime64": "clock_gettime64"}
# calls whose fd Linux checks for reading or writing (at an offset) before it touches the
# caller's memory
FD_READ_CALLS = frozenset({"read", "readv"})
FD_WRITE_CALLS = frozenset({"write", "writev"})
FD_PREAD_CALLS = frozenset({"pread64", "preadv", "preadv2"})
FD_PWRITE_CALLS = frozenset({"pwrite64", "pwritev", "pwritev2"})
# calls on an fd that read the caller's memory before they look the fd up
MEMORY_FIRST_CALLS = frozenset({"epoll_ctl", "fgetxattr", "fsetxattr", "fremovexattr"})
FD_SOCKET_CALLS = frozenset({"accept", "accept4", "bind", "connect", "listen", "shutdown",
                             "getsockname", "getpeername", "getsockopt", "setsockopt",
                             "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg",
                             "recvmmsg", "send", "recv"})


class Dispatcher:
    def __init__(self, arch: str, abi: Abi, proc: Any, rows: Mapping[str, registry.Row], *,
                 warn_unsupported: bool = False) -> None:
        self.abi = abi
        self.proc = proc
        self.names = tables.load(abi.family)
        self.warn_unsupported = warn_unsupported
        self._warned: set[str] = set()
        convs: dict[str, Conv] = {}
        for k in registry.SIGNED32:
            convs[k] = abi.s32
        def fd_conv(v: int) -> int:
            v &= 0xFFFFFFFF
            if v & 0x80000000:  # negative: Python's os would raise ValueError; Linux says EBADF
                raise Errno(errno.EBADF)
            return v

        convs["fd"] = fd_conv
        for k in registry.UNSIGNED32:
            convs[k] = _u32
        for k in registry.SIGNED_WORD:
            convs[k] = abi.sword
        self._convs = convs
        self.rows = dict(rows)
        self._wraps: list[Wrap] = []
        self._native: Callable[[list[NativeRow]], None] | None = None
        # nr -> what an EFAULT may hide (see fd_fault)
        self.table, self.fd_checks = self._build()
        self.call = self._make_call()

    @property
    def sync_native(self) -> Callable[[list[NativeRow]], None] | None:
        return self._native

    @sync_native.setter
    def sync_native(self, sink: Callable[[list[NativeRow]], None] | None) -> None:
        """Keep the compiled core's table (`sink(rows)`) in step with this one."""
        self._native = sink
        if sink is not None:
            sink(self.native_rows())

    def native_rows(self) -> list[NativeRow]:
        """The rows the compiled core can call itself: (nr, handler, argument count,
        conversion per argument, fast kind). A row whose arguments need more than a width
        or sign conversion (renumbering, register pairs, stack arguments) is left to
        `call`, as is every number without a row."""
        out: list[NativeRow] = []
        abi = self.abi
        for nr, (fn, _plan, n, name) in self.table.items():
            row = self.rows[name]
            codes = bytearray()
            for arg, base in zip(row.args, row.base_kinds, strict=True):
                if ":" in arg and arg.split(":", 1)[1] in abi.arg_convs:
                    break  # renumbered on this ABI
                if base in registry.WIDE and abi.wordsize == 4:
                    break  # a register pair
                if arg.endswith(":dirfd") or (base in registry.SIGNED32 and base != "fd"):
                    codes.append(CONV["s32"])
                elif base == "fd":
                    codes.append(CONV["fd"])
                elif base in registry.UNSIGNED32:
                    codes.append(CONV["u32"])
                elif base in registry.SIGNED_WORD or base in registry.WIDE:
                    codes.append(CONV["sword"])
                else:
                    codes.append(CONV["raw"])
            else:
                if abi.stack_args is not None and n > 4:
                    continue  # mips o32: arguments 5.. come from the stack
                fast = 0 if self._wraps else _fast_kind(name, abi)
                check = self.fd_checks.get(nr)
                out.append((nr, fn, n, bytes(codes), fast, FD_CHECK[check] if check else 0))
        return out

    def wrap_handlers(self, wrap: Wrap, inner: bool = False) -> None:
        """Rebuild the table with every handler wrapped (`wrap(name, handler)`): tracing and
        hooks see the decoded arguments; a run without them pays nothing. Wrappers stack:
        `inner` puts this one closest to the handler (API hooks, inside the tracer)."""
        if inner:
            self._wraps.insert(0, wrap)
        else:
            self._wraps.append(wrap)
        self._rebuild()

    def _rebuild(self) -> None:
        # in place: the engine's hook (and a tracer) already hold `call`, bound to these dicts
        table, checks = self._build()
        self.table.clear()
        self.table.update(table)
        self.fd_checks.clear()
        self.fd_checks.update(checks)
        if self._native is not None:
            self._native(self.native_rows())

    def serve_unimplemented(self, name: str) -> None:
        """Give a syscall without a handler one that says ENOSYS, taking six raw words, so a
        wrapper (a Python hook replacing it) has something to wrap."""
        if name in self.rows and self.rows[name].handler is not None:
            return

        def enosys(_p: Any, *_a: int) -> int:
            raise Errno(errno.ENOSYS)

        self.rows[name] = registry.Row(name, enosys, ("ulong",) * 6, registry.UNSUPPORTED,
                                       "served by a Python hook", "int")
        self._rebuild()

    def _build(self) -> tuple[dict[int, Entry], dict[int, str]]:
        """The table by number, and the fd check of each call on an fd (see fd_fault)."""
        abi, convs, rows = self.abi, self._convs, self.rows
        table: dict[int, Entry] = {}
        fd_checks: dict[int, str] = {}
        stack_args = abi.stack_args  # mips o32: arguments 5.. are on the guest's stack
        for nr, name in self.names.items():
            row = rows.get(name)
            if row is None or row.handler is None:
                continue
            fn = row.handler
            for wrap in self._wraps:
                fn = wrap(name, fn)
            kinds = [k if not a.endswith(":dirfd") else "int" for k, a in zip(
                row.base_kinds, row.args, strict=True)]
            if kinds and kinds[0] == "fd" and name not in MEMORY_FIRST_CALLS:
                fd_checks[nr] = ("read" if name in FD_READ_CALLS else
                                 "write" if name in FD_WRITE_CALLS else
                                 "pread" if name in FD_PREAD_CALLS else
                                 "pwrite" if name in FD_PWRITE_CALLS else
                                 "socket" if name in FD_SOCKET_CALLS else "open")
            arg_convs = [_arg_conv(a, k, convs, abi) for a, k in zip(row.args, kinds,
                                                                      strict=True)]
            wide = abi.wordsize == 4 and bool(registry.WIDE.intersection(kinds))
            if wide or (stack_args is not None and len(kinds) > 4):
                handler, nregs = _gather(fn, kinds, arg_convs, abi)
                table[nr] = (handler, (), nregs, name)
                continue
            plan = tuple((i, c) for i, c in enumerate(arg_convs) if c is not None)
            table[nr] = (fn, plan, len(row.args), name)
        return table, fd_checks

    def __call__(self, nr: int, args: list[int]) -> int:
        """Run syscall `nr`; returns the signed result (-errno on failure). May raise Park."""
        return self.call(nr, args)

    def _make_call(self) -> Callable[[int, list[int]], int]:
        """The hot path as a closure over locals (cheaper than a bound __call__)."""
        get = self.table.get
        proc = self.proc
        unknown = self.unknown
        to_guest_errno = self.abi.to_guest_errno
        fd_checks = self.fd_checks  # rebuilt in place, as the table

        def call(nr: int, args: list[int]) -> int:
            ent = get(nr)
            if ent is None:
                return unknown(nr)
            fn, plan, n, _name = ent
            a = args[:n]
            try:
                for i, conv in plan:
                    a[i] = conv(a[i])
                return fn(proc, *a)
            except Errno as e:  # the common case, without a call
                err = e.errno
            except Exception as e:
                maybe = errno_of(e)
                if maybe is None:
                    raise
                err = maybe
            if err == errno.EFAULT and nr in fd_checks:
                err = fd_fault(fd_checks[nr], args[0])
            return -to_guest_errno(err)

        return call

    def refine(self, nr: int, err: int, raw_fd: int) -> int:
        """The errno call `nr` gives for a handler's `err` (an EFAULT may stand for an fd
        Linux refuses first: see fd_fault)."""
        if err == errno.EFAULT and nr in self.fd_checks:
            return fd_fault(self.fd_checks[nr], raw_fd)
        return err

    def unknown(self, nr: int) -> int:
        name = self.names.get(nr)
        label = name or str(nr)
        if self.warn_unsupported and label not in self._warned:
            self._warned.add(label)
            text = f"{name} ({nr})" if name else f"{nr}"
            sys.stderr.write(f"usermode: unsupported syscall {text}\n")
        return -self.abi.to_guest_errno(errno.ENOSYS)


def fdget(fd: int) -> int:
    """Linux's fdget for calls that need an open file (read, ioctl, the socket calls): EBADF
    for a closed fd and for an O_PATH one, which fstat and fcntl still accept. Returns the
    file's status flags."""
    fl = fcntl.fcntl(fd, fcntl.F_GETFL)  # OSError EBADF
    if fl & os.O_PATH:
        raise Errno(errno.EBADF)
    return fl


def fd_fault(check: str, raw_fd: int) -> int:
    """The errno for an EFAULT raised by a call on guest fd `raw_fd`: Linux looks the fd up
    (EBADF), checks its open mode (EBADF) or that it is a socket (ENOTSOCK), and that the
    file can be read or written at all, at an offset (EISDIR, EINVAL, ESPIPE) before it
    touches the caller's memory."""
    fd = raw_fd & 0xFFFFFFFF
    try:
        if fd >= 0x80000000:
            return errno.EBADF
        fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        st = os.fstat(fd)
    except OSError:
        return errno.EBADF
    reads, writes = check in ("read", "pread"), check in ("write", "pwrite")
    if (reads or writes or check == "socket") and fl & os.O_PATH:
        return errno.EBADF
    if check == "socket" and not stat.S_ISSOCK(st.st_mode):
        return errno.ENOTSOCK
    mode = fl & os.O_ACCMODE
    if (reads and mode == os.O_WRONLY) or (writes and mode == os.O_RDONLY):
        return errno.EBADF
    if check in ("pread", "pwrite") and (stat.S_ISFIFO(st.st_mode) or
                                         stat.S_ISSOCK(st.st_mode)):
        return errno.ESPIPE
    if reads and stat.S_ISDIR(st.st_mode):
        return errno.EISDIR
    if (reads or writes) and is_epoll(fd):
        return errno.EINVAL  # no read or write at all
    return errno.EFAULT


def is_epoll(fd: int) -> bool:
    """An epoll fd: it can be neither read nor written (EINVAL, at once)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventpoll]"
    except OSError:
        return False


def _fast_kind(name: str, abi: Abi) -> int:
    """The compiled core's FAST_* code for a call it can serve on this ABI (0: none)."""
    kind = FAST_NAMES.get(name)
    if kind is None:
        return 0
    if abi.wordsize == 4 and name in ("getuid", "geteuid", "getgid", "getegid",
                                      "clock_gettime", "lseek"):
        return 0  # 16-bit ids, a 32-bit timespec, a 32-bit offset
    if kind == "clock_gettime64" and not abi.little_endian:
        return 0
    return FAST.get(kind, 0)


def _arg_conv(arg: str, kind: str, convs: dict[str, Conv], abi: Abi) -> Conv | None:
    """How one argument is decoded: its kind's range check, then the ABI's renumbering of
    what the kind's detail names (a mips signal number, ioctl request, mmap flag...)."""
    base = convs.get(kind) if kind not in registry.WIDE else abi.sword
    extra = abi.arg_convs.get(arg.split(":", 1)[1]) if ":" in arg else None
    if extra is None:
        return base
    if base is None:
        return extra
    return lambda v: extra(base(v))


def _gather(fn: Callable[..., int], kinds: list[str], arg_convs: list[Conv | None],
            abi: Abi) -> tuple[Callable[..., int], int]:
    """A handler whose arguments are not one register each: 64-bit ones on a 32-bit ABI come
    in two registers (the first one even-numbered where the ABI aligns pairs), and on mips
    o32 those past the fourth are read from the guest stack (the fifth register value is the
    sp). Returns (wrapper, registers used)."""
    slots: list[tuple[int, Conv | None, bool]] = []
    r = 0
    for k, conv in zip(kinds, arg_convs, strict=True):
        if k in registry.WIDE and abi.wordsize == 4:
            if abi.pair_align and r % 2:
                r += 1
            slots.append((r, None, True))
            r += 2
        else:
            slots.append((r, conv, False))
            r += 1
    lo_first = abi.little_endian
    stack_off = abi.stack_args
    if stack_off is not None and r > 4:
        nstack = r - 4
        word_fmt = struct.Struct(("<" if lo_first else ">") + "I" * nstack)

        def from_stack(proc: Any, *regs: int) -> int:
            # an unreadable stack fails the call with EFAULT, as the o32 entry code does
            words = word_fmt.unpack_from(proc.mem.view(regs[4] + stack_off, 4 * nstack))
            return gathered(proc, *regs[:4], *words)

        outer: Callable[..., int] = from_stack
        nregs = 5
    else:
        outer, nregs = None, r  # type: ignore[assignment]

    def gathered(proc: Any, *regs: int) -> int:
        args = []
        for i, conv, pair in slots:
            if pair:
                lo, hi = (regs[i], regs[i + 1]) if lo_first else (regs[i + 1], regs[i])
                v = (lo & 0xFFFFFFFF) | (hi & 0xFFFFFFFF) << 32
                args.append(v - (1 << 64) if v >> 63 else v)
            else:
                args.append(conv(regs[i]) if conv is not None else regs[i])
        return fn(proc, *args)

    return (gathered if outer is None else outer), nregs


def _u32(v: int) -> int:
    return v & 0xFFFFFFFF
