"""Syscall tracing: strace's output from inside the emulator, one whole line per syscall.

The tracer wraps every handler when tracing is on (a normal run keeps the bare table), so
it sees the arguments as the handler does: register pairs joined and mips numbers made the
host's. Each line goes out with one write(2) on a private dup of the log fd, so lines from
threads and processes never interleave mid-line. A call that parks prints strace's
`<unfinished ...>` line and, once it completes, `<... name resumed>`.

Options follow strace: -o FILE (-ff: FILE.PID per process), -e trace=SET (names and
%file %network %process %signal %memory %desc classes, `!` to invert), -e status=failed or
successful (-Z, -z), -s N, -T, -t/-tt/-ttt, -c and -C (the summary table, over every
process and exec of the run).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from syscalls.errors import Errno, ExecRequest, Park
from usermode.trace.classes import expand_set
from usermode.trace.format import Call
from usermode.trace.summary import Counts, table

if TYPE_CHECKING:
    from collections.abc import Callable

    from syscalls.dispatch import Dispatcher
    from usermode.process import Process

HIGH_FD = 900  # keep our log fd out of the way of the guest's low fds
_FORKS = frozenset({"fork", "vfork", "clone", "clone3"})


@dataclass
class TraceOptions:
    """What to trace and how to print it; carried through fork and exec with the run."""

    output: str | None = None  # -o FILE (default: stderr)
    per_process: bool = False  # -ff
    limit: int = 32  # -s N
    only: frozenset[str] | None = None  # -e trace=SET
    status: str | None = None  # "failed" or "successful"
    durations: bool = False  # -T
    timestamps: int = 0  # -t 1, -tt 2, -ttt 3
    summary: str | None = None  # "c": the table only; "C": lines and table
    root_pid: int = 0  # the run's first process: it prints the summary
    counts_file: str | None = None  # where every process leaves its counts for the summary
    extra: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> bool:
        return self.summary != "c"


class Tracer:
    def __init__(self, proc: Process, dispatch: Dispatcher,
                 opts: TraceOptions | None = None) -> None:
        self.proc = proc
        self.opts = opts = opts if opts is not None else TraceOptions()
        if not opts.root_pid:
            opts.root_pid = proc.pid
        if opts.summary and opts.counts_file is None:
            fd, opts.counts_file = tempfile.mkstemp(prefix="usermode-strace-", suffix=".json")
            os.close(fd)
        self.fd = -1
        self.pid = -1
        self._open()
        self.counts = Counts()
        self.rows = dispatch.rows
        self.names: dict[int, str] = dispatch.names
        dispatch.wrap_handlers(self._wrap)
        self.inner = dispatch.call
        proc.tracer = self
        self._seen = False

    # ---- output ------------------------------------------------------------------------------
    def _open(self) -> None:
        """The log fd of this process (after a fork, -ff opens the child's own file)."""
        o = self.opts
        if self.fd >= 0:
            self.proc.fds.reserved.discard(self.fd)
            os.close(self.fd)
        self.pid = os.getpid()
        if o.output:
            name = f"{o.output}.{self.pid}" if o.per_process else o.output
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        else:
            fd = os.dup(2)
        self.fd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
        os.close(fd)
        self.proc.fds.reserved.add(self.fd)

    def _write(self, text: str) -> None:
        if os.getpid() != self.pid:  # a forked child: its own file under -ff
            self.pid = os.getpid()
            self.counts = Counts()
            if self.opts.per_process:
                self._open()
        try:
            os.write(self.fd, text.encode(errors="replace"))  # one write per line: atomic
        except OSError:
            pass  # the guest may have closed our log fd

    def _prefix(self, tid: int, when: float) -> str:
        ts = self.opts.timestamps
        stamp = ""
        if ts == 1:
            stamp = time.strftime("%H:%M:%S ", time.localtime(when))
        elif ts == 2:
            stamp = time.strftime("%H:%M:%S", time.localtime(when)) + f".{int(when % 1 * 1e6):06d} "
        elif ts == 3:
            stamp = f"{when:.6f} "
        return f"{tid} {stamp}"

    # ---- the wrapped handlers ----------------------------------------------------------------
    def __call__(self, nr: int, args: list[int]) -> int:
        self._seen = False
        ret = self.inner(nr, args)
        if not self._seen:  # no handler ran: unknown, or its arguments were refused
            self._unhandled(nr, args, ret)
        return ret

    def _unhandled(self, nr: int, args: list[int], ret: int) -> None:
        name = self.names.get(nr) or f"syscall_{nr:#x}"
        if not self._wanted(name):
            return
        row = self.rows.get(name)
        proc = self.proc
        if row is None or row.handler is None:
            head = f"{name}(" + ", ".join(hex(a) for a in args[:6]) + ")"
            call = Call(proc, name, None, (), self.opts.limit)
            self.counts.add(name, 0, True)
            self._finish(call, head, proc.thread.tid, time.time(), 0, -errno.ENOSYS)
            return
        # an argument the dispatcher refused (a negative fd): shown as the registers hold it
        vals = tuple(proc.abi.s32(a) if k.split(":")[0] in ("int", "fd") else a
                     for k, a in zip(row.args, args, strict=False))
        call = Call(proc, name, row, vals, self.opts.limit)
        ret = _host_errno(proc, ret)
        self.counts.add(name, 0, -4096 < ret < 0)
        if self._status_ok(ret) and self.opts.lines():
            shown, result = call.finish(ret)
            self._finish(call, f"{name}({shown})", proc.thread.tid, time.time(), 0, ret, result)

    def _wanted(self, name: str) -> bool:
        only = self.opts.only
        return only is None or name in only

    def _wrap(self, name: str, fn: Callable[..., int]) -> Callable[..., int]:
        exiting = name in ("exit", "exit_group")
        if not self._wanted(name):
            def seen(proc: Process, *a: int) -> int:
                self._seen = True
                if exiting:  # the end of the process: the exit line and the summary
                    self._exiting(None, proc.thread.tid, time.time(), name, a)
                return fn(proc, *a)

            return seen
        row = self.rows.get(name)
        lines = self.opts.lines()
        limit = self.opts.limit

        def traced(proc: Process, *a: int) -> int:
            self._seen = True
            call = Call(proc, name, row, a, limit) if lines else None
            tid = proc.thread.tid
            when = time.time()
            t0 = time.perf_counter_ns()
            if exiting:  # no result: "= ?" now
                self._exiting(call, tid, when, name, a)
                return fn(proc, *a)
            try:
                r = fn(proc, *a)
            except Errno as e:
                self._done(name, call, tid, when, t0, -e.errno)
                raise
            except OSError as e:
                self._done(name, call, tid, when, t0, -(e.errno or errno.EIO))
                raise
            except (ValueError, OverflowError):
                self._done(name, call, tid, when, t0, -errno.EINVAL)
                raise
            except ExecRequest:
                self._done(name, call, tid, when, t0, 0)
                self._flush_counts()
                raise
            except Park as park:
                self._parked(name, call, park, tid, when, t0)
                raise
            self._done(name, call, tid, when, t0, r)
            return r

        return traced

    def _done(self, name: str, call: Call | None, tid: int, when: float, t0: int, ret: int,
              resumed: bool = False) -> None:
        dt = time.perf_counter_ns() - t0
        if os.getpid() != self.pid and name in _FORKS:
            # the child side of a fork: strace shows the call in the parent only, and the
            # child's trace (and counts) start afresh
            self._write("")
            return
        self.counts.add(name, dt, -4096 < ret < 0)
        if call is None or not self._status_ok(ret):
            return
        args, result = call.finish(ret, call.first_output() if resumed else 0)
        head = f"<... {call.name} resumed>{args})" if resumed else f"{call.name}({args})"
        self._finish(call, head, tid, when, dt, ret, result)

    def _status_ok(self, ret: int) -> bool:
        st = self.opts.status
        failed = -4096 < ret < 0
        return st is None or (st == "failed") == failed

    def _finish(self, call: Call, head: str, tid: int, when: float, dt: int, ret: int,
                result: str | None = None) -> None:
        if not self.opts.lines():
            return
        text = result if result is not None else call.result(ret)
        line = f"{self._prefix(tid, when)}{head} = {text}"
        if self.opts.durations:
            line += f" <{dt / 1e9:.6f}>"
        self._write(line + "\n")

    def _parked(self, name: str, call: Call | None, park: Park, tid: int, when: float,
                t0: int, resumed: bool = False) -> None:
        """A call that waits: strace's `<unfinished ...>` line now (once), its result when a
        retry finally produces one (a retry may park again)."""
        if not resumed and call is not None and park.waits and self.opts.status is None:
            n = call.first_output()
            shown = ", ".join(x for x in call.parts[:n] if x)
            sep = ", " if shown and n < len(call.codes) else ""
            self._write(f"{self._prefix(tid, when)}{name}({shown}{sep} <unfinished ...>\n")
            resumed = True
        inner = park.retry

        def retry(reason: int) -> int:
            try:
                r = inner(reason)
            except Park as again:
                self._parked(name, call, again, tid, when, t0, resumed)
                raise
            except Errno as e:
                self._done(name, call, tid, time.time(), t0, -e.errno, resumed)
                raise
            except OSError as e:
                self._done(name, call, tid, time.time(), t0, -(e.errno or errno.EIO), resumed)
                raise
            self._done(name, call, tid, time.time(), t0, r, resumed)
            return r

        park.retry = retry

    def _exiting(self, call: Call | None, tid: int, when: float, name: str,
                 a: tuple[int, ...]) -> None:
        status = a[0] & 0xFF if a else 0
        if call is not None and self._status_ok(0):
            args, _ = call.finish(0)
            self._write(f"{self._prefix(tid, when)}{name}({args}) = ?\n")
        if self._wanted(name):
            self.counts.add(name, 0, False)
        if name == "exit" and self.proc.sched.live_threads() > 1:
            return
        if self.opts.lines():
            self._write(f"{self._prefix(tid, time.time())}+++ exited with {status} +++\n")
        self._flush_counts()
        if self.opts.summary and os.getpid() == self.opts.root_pid:
            self._write(table(self._merged()))

    # ---- signals -----------------------------------------------------------------------------
    def signal(self, tid: int, signo: int, info: bytes) -> None:
        """A signal delivered to a guest thread: strace's `--- SIGNAME {siginfo} ---`."""
        if not self.opts.lines() or self.opts.status is not None:
            return
        from usermode.trace import render

        try:
            text = render.siginfo(self.proc, signo, info)
        except Exception:
            text = "{...}"
        self._write(f"{self._prefix(tid, time.time())}--- {render.signal(signo)} {text} ---\n")

    def killed(self, signo: int) -> None:
        """The process dies of `signo`: the last line, and its part of the summary."""
        from usermode.trace import render

        if self.opts.lines():
            tid = self.proc.thread.tid
            self._write(f"{self._prefix(tid, time.time())}+++ killed by "
                        f"{render.signal(signo)} +++\n")
        self._flush_counts()
        if self.opts.summary and os.getpid() == self.opts.root_pid:
            self._write(table(self._merged()))

    # ---- the -c summary ----------------------------------------------------------------------
    def _flush_counts(self) -> None:
        path = self.opts.counts_file
        if path is None or not self.counts:
            return
        line = json.dumps(self.counts.to_json()) + "\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        self.counts = Counts()

    def _merged(self) -> Counts:
        total = Counts()
        path = self.opts.counts_file
        if path is None:
            return total
        try:
            with open(path) as f:
                for line in f:
                    total.merge(Counts.from_json(json.loads(line)))
            os.unlink(path)
        except (OSError, ValueError):
            pass
        return total


def _host_errno(proc: Process, ret: int) -> int:
    """The host errno behind a guest's -errno return (mips numbers errors anew)."""
    if ret >= 0 or ret <= -4096:
        return ret
    out = proc.abi.errno_out
    if out:
        back = {g: h for h, g in out.items()}
        return -back.get(-ret, -ret)
    return ret


def parse_expr(opts: TraceOptions, expr: str) -> None:
    """One -e argument: trace=SET, status=failed|successful, or a bare SET (strace's
    shorthand for trace=SET). Raises ValueError."""
    key, sep, value = expr.partition("=")
    if not sep:
        key, value = "trace", expr
    if key in ("trace", "t"):
        opts.only = expand_set(value)
    elif key == "status":
        if value not in ("failed", "successful"):
            raise ValueError(f"status={value}: only failed or successful")
        opts.status = value
    else:
        raise ValueError(f"-e {key}=...: only trace= and status= are supported")
