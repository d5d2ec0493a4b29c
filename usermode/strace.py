"""`-strace`: one whole line per guest syscall, `TID name(args) = result`.

The tracer wraps the dispatcher only when tracing is on, so a normal run pays nothing.
Each line is written with a single write(2) on a private dup of the log fd, so lines from
different processes never interleave mid-line. Arguments are shown by the kinds the
registry declares; issue 7 adds flag names, structs and the other strace options.
"""

from __future__ import annotations

import errno
import fcntl
import os
from typing import TYPE_CHECKING

from syscalls.errors import Errno, Park
from syscalls.registry import Row

if TYPE_CHECKING:
    from syscalls.dispatch import Dispatcher
    from usermode.process import Process

STRING_LIMIT = 32
HIGH_FD = 900  # keep our log fd out of the way of the guest's low fds


def _escape(data: bytes) -> str:
    out = []
    for b in data:
        c = chr(b)
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif 32 <= b < 127:
            out.append(c)
        elif c in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[c])
        else:
            out.append(f"\\{b:o}")
    return "".join(out)


class Tracer:
    def __init__(self, proc: Process, dispatch: Dispatcher,
                 log_file: str | None) -> None:
        self.proc = proc
        self.inner = dispatch.call
        if log_file:
            fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        else:
            fd = os.dup(2)
        self.fd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
        os.close(fd)
        proc.fds.reserved.add(self.fd)
        self.names: dict[int, str] = dispatch.names
        self.rows: dict[str, Row] = dispatch.rows

    def _arg(self, kind: str, v: int) -> str:
        base, _, detail = kind.partition(":")
        abi = self.proc.abi
        if base in ("int", "fd"):
            v = abi.s32(v)
            if detail == "dirfd" and v == -100:
                return "AT_FDCWD"
            if detail in ("open_flags", "at_flags", "prot", "map_flags"):
                return hex(v & 0xFFFFFFFF)
            return str(v)
        if base == "uint":
            v &= 0xFFFFFFFF
            return oct(v) if detail == "mode" else str(v)
        if base in ("long", "off", "ssize"):
            return str(abi.sword(v))
        if base in ("str", "path"):
            if v == 0:
                return "NULL"
            try:
                s = self.proc.mem.read_cstr(v, 4096)
            except (Errno, OSError):
                return hex(v)
            cut = s[:STRING_LIMIT]
            return f'"{_escape(cut)}"' + ("..." if len(s) > STRING_LIMIT else "")
        if base == "ptr":
            return "NULL" if v == 0 else hex(v)
        return str(v)

    def _result(self, ret: int, kind: str) -> str:
        if -4096 < ret < 0:
            e = -ret
            name = errno.errorcode.get(e, str(e))
            return f"-1 {name} ({os.strerror(e)})"
        if kind == "ptr":
            return hex(ret & self.proc.abi.mask)
        return str(ret)

    def _write(self, text: str) -> None:
        try:
            os.write(self.fd, text.encode(errors="replace"))  # one write per line: atomic
        except OSError:
            pass  # the guest may have closed our log fd

    def _emit(self, head: str, result: str, tid: int | None = None) -> None:
        self._write(f"{self.proc.thread.tid if tid is None else tid} {head} = {result}\n")

    def __call__(self, nr: int, args: list[int]) -> int:
        name = self.names.get(nr)
        row = self.rows.get(name) if name else None
        if row is None or row.handler is None:
            head = f"{name or f'syscall_{nr}'}(" + ", ".join(hex(a) for a in args[:6]) + ")"
            kind = "int"
        else:
            head = f"{name}(" + ", ".join(self._arg(k, a) for k, a in zip(row.args, args,
                                                                              strict=False)) + ")"
            kind = row.ret
        if name in ("exit_group", "exit"):
            self._write(f"{self.proc.thread.tid} {head} = ?\n")
            return self.inner(nr, args)
        try:
            ret = self.inner(nr, args)
        except Park as p:
            tid = self.proc.thread.tid
            if p.waits:  # strace's split line: the thread sleeps here
                self._write(f"{tid} {head[:-1]} <unfinished ...>\n")
                head = f"<... {name} resumed>)"
            self._wrap(p, head, kind, tid)
            raise
        self._emit(head, self._result(ret, kind))
        return ret

    def _wrap(self, park: Park, head: str, kind: str, tid: int) -> None:
        """Report the parked call's result when its retry finally produces one."""
        inner = park.retry

        def retry(reason: int) -> int:
            try:
                r = inner(reason)
            except Park as again:
                self._wrap(again, head, kind, tid)
                raise
            except Errno as e:
                self._emit(head, self._result(-e.errno, kind), tid)
                raise
            except OSError as e:
                self._emit(head, self._result(-(e.errno or 5), kind), tid)
                raise
            self._emit(head, self._result(r, kind), tid)
            return r

        park.retry = retry
