"""Syscall tracing: strace's output from inside the emulator, one whole line per syscall.

The tracer wraps every handler when tracing is on (a normal run keeps the bare table), so
it sees the arguments as the handler does: register pairs joined and mips numbers made the
host's. Each line goes out with one write(2) on a private dup of the log fd, so lines from
threads and processes never interleave mid-line. A call that parks prints strace's
`<unfinished ...>` line and, once it completes, `<... name resumed>`.

Each line starts with the thread id (`PID/TID` for threads other than a process's main
thread). Options follow strace: -o FILE (-ff: FILE.PID per process), -e trace=SET (names and
%file %network %process %signal %memory %desc classes, `!` to invert), -e status=failed or
successful (-Z, -z), -s N, -T, -t/-tt/-ttt, -c and -C (the summary table, over every
process and exec of the run). The same calls can also go to JSON lines, a Perfetto
timeline and, for the Python API, a list of event objects (`usermode.trace.sinks`).
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import time
from dataclasses import dataclass

from usermode.host.fds import move_high
from usermode.kernel.errors import Errno, ExecRequest, Park, errno_of
from usermode.trace import ipc, render
from usermode.trace.classes import expand_set
from usermode.trace.format import Call
from usermode.trace.names import ERRNO
from usermode.trace.sinks import JsonSink, SignalEvent, SyscallEvent, TimelineSink
from usermode.trace.summary import Counts, table
from usermode.uapi import MSG_NOSIGNAL, SI_USER, SIGPIPE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable

    from syscalls.dispatch import Dispatcher
    from usermode.kernel.process import Process

_FORKS = frozenset({"fork", "vfork", "clone", "clone3"})
# calls whose EPIPE raises SIGPIPE (the send calls unless MSG_NOSIGNAL); flags argument index
_PIPE_WRITERS = {"write": None, "writev": None, "pwrite64": None, "pwritev": None,
                 "pwritev2": None, "sendfile": None, "sendfile64": None, "splice": None,
                 "send": 3, "sendto": 3, "sendmsg": 2, "sendmmsg": 3}


@dataclass
class TraceOptions:
    """What to trace and how to show it; carried through fork and exec with the run."""

    text: bool = True  # strace's lines (off when only a machine-readable trace is wanted)
    output: str | None = None  # -o FILE (default: stderr)
    per_process: bool = False  # -ff
    limit: int = 32  # -s N
    only: frozenset[str] | None = None  # -e trace=SET
    status: str | None = None  # "failed" or "successful"
    durations: bool = False  # -T
    timestamps: int = 0  # -t 1, -tt 2, -ttt 3
    summary: str | None = None  # "c": the table only; "C": lines and table
    json_file: str | None = None  # --trace-json FILE
    timeline_file: str | None = None  # --trace-timeline FILE
    events: list[SyscallEvent | SignalEvent] | None = None  # the Python API's record
    root_pid: int = 0  # the run's first process: it prints the summary
    counts_file: str | None = None  # where every process leaves its counts for the summary

    def lines(self) -> bool:
        return self.text and self.summary != "c"


class _InFlight:
    """One traced call between entry and result."""

    __slots__ = ("args", "call", "done", "name", "nr", "parked_at", "parked_ns", "raw",
                 "result_at", "resumed", "t0", "tid", "when")

    def __init__(self, name: str, call: Call | None, tid: int, nr: int,
                 raw: tuple[int, ...], args: tuple[int, ...] = ()) -> None:
        self.name, self.call, self.tid, self.nr, self.raw = name, call, tid, nr, raw
        self.args = args
        self.done = False
        self.when = time.time()
        self.t0 = time.perf_counter_ns()
        self.parked_at = 0
        self.parked_ns = 0
        self.resumed = False
        self.result_at = 0  # ipc's shmat: where the address it returns is stored


class Tracer:
    def __init__(self, proc: Process, dispatch: Dispatcher,
                 opts: TraceOptions | None = None) -> None:
        self.proc = proc
        self.opts = opts = opts if opts is not None else TraceOptions()
        first = not opts.root_pid
        if first:
            opts.root_pid = proc.pid
        if opts.summary and opts.counts_file is None:
            fd, opts.counts_file = tempfile.mkstemp(prefix="usermode-strace-", suffix=".json")
            os.close(fd)
        reserve = proc.fds.reserved.add
        self.json = JsonSink(opts.json_file, first, reserve) if opts.json_file else None
        self.timeline = (TimelineSink(opts.timeline_file, first, reserve)
                         if opts.timeline_file else None)
        self.records = bool(self.json or self.timeline or opts.events is not None)
        self.fd = -1
        self.pid = os.getpid()
        self.lines = opts.lines()
        if self.lines or opts.summary:
            self._open(truncate=first)
        global _CURRENT
        _CURRENT = self
        self.counts = Counts()
        self.counting = opts.counts_file is not None  # -c: every process adds its counts
        self.rows = dispatch.rows
        self.names: dict[int, str] = dispatch.names
        self.refine = dispatch.refine
        dispatch.wrap_handlers(self._wrap)
        self.inner = dispatch.call
        proc.tracer = self
        from usermode.kernel import signals

        signals.mirror_disposition(proc, SIGPIPE)  # EPIPE comes back to us
        self._seen = False
        self._exec: _InFlight | None = None  # the execve in flight
        self._child = False  # set in a forked child until its fork call returns
        self._nr = 0
        self._raw: list[int] = []

    # ---- output ------------------------------------------------------------------------------
    def _open(self, truncate: bool = False) -> None:
        """The log fd of this process (after a fork, -ff opens the child's own file). The
        run's first process starts the file afresh, as strace does; a process's -ff file
        is its own."""
        o = self.opts
        if self.fd >= 0:
            self.proc.fds.reserved.discard(self.fd)
            os.close(self.fd)
        self.pid = os.getpid()
        if o.output:
            name = f"{o.output}.{self.pid}" if o.per_process else o.output
            mode = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
            if truncate:
                mode |= os.O_TRUNC
            fd = os.open(name, mode, 0o644)
        else:
            fd = os.dup(2)
        self.fd = move_high(fd)
        self.proc.fds.reserved.add(self.fd)

    def _forked(self) -> None:
        """In a forked child (os.register_at_fork): its own counts, and its own file under
        -ff."""
        if os.getpid() != self.pid:
            self.pid = os.getpid()
            self.counts = Counts()
            if self.opts.per_process and self.fd >= 0:
                self._open(truncate=True)  # a new process: its own file, afresh
            self._child = True

    def _write(self, text: str) -> None:
        if self.fd < 0:
            return
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
        pid = self.pid
        # a main thread's tid is its pid; other threads' ids are per process (above
        # pid_max), so in a log shared by processes they come with their pid
        return f"{tid} {stamp}" if tid == pid else f"{pid}/{tid} {stamp}"

    # ---- the wrapped handlers ----------------------------------------------------------------
    def __call__(self, nr: int, args: list[int]) -> int:
        self._seen = False
        self._nr, self._raw = nr, args
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
            vals: tuple[int, ...] = tuple(args[:6])
            call = Call(proc, name, None, (), self.opts.limit)
            call.args = vals
            call.codes = ("hex",) * len(vals)
            call.parts = [hex(a) for a in vals]
            ret = -errno.ENOSYS
        else:  # an argument the dispatcher refused (a negative fd): as the registers hold it
            vals = tuple(proc.abi.s32(a) if k.split(":")[0] in ("int", "fd") else a
                         for k, a in zip(row.args, args, strict=False))
            call = Call(proc, name, row, vals, self.opts.limit)
            ret = _host_errno(proc, ret)
        f = _InFlight(name, call, proc.thread.tid, nr, tuple(args[:6]))
        self._done(f, ret)

    def _wanted(self, name: str) -> bool:
        only = self.opts.only
        return only is None or name in only

    def _wrap(self, name: str, fn: Callable[..., int]) -> Callable[..., int]:
        exiting = name in ("exit", "exit_group")
        wanted = self._wanted(name) or (
            name == "ipc" and any(self._wanted(n) for n in ipc.SUBCALLS.values()))
        if not wanted:
            def seen(proc: Process, *a: int) -> int:
                self._seen = True
                if exiting:  # the end of the process: the exit line and the summary
                    self._exiting(None, proc.thread.tid, name, a)
                return fn(proc, *a)

            return seen
        row = self.rows.get(name)
        render_args = self.lines or self.records
        limit = self.opts.limit

        def traced(proc: Process, *a: int) -> int:
            self._seen = True
            if name == "ipc" and render_args:
                f = self._ipc_call(proc, a)
                if not self._wanted(f.name):
                    return fn(proc, *a)
            else:
                call = Call(proc, name, row, a, limit) if render_args else None
                f = _InFlight(name, call, proc.thread.tid, self._nr, tuple(self._raw[:6]), a)
            if name in ("execve", "execveat"):
                self._exec = f
            if exiting:  # no result: "= ?" now
                self._exiting(call, f.tid, name, a)
                return fn(proc, *a)
            try:
                r = fn(proc, *a)
            except ExecRequest:
                self._done(f, 0)
                self._flush_counts()
                raise
            except Park as park:
                self._parked(f, park)
                raise
            except Exception as e:
                err = errno_of(e)
                if err is not None:
                    err = self.refine(self._nr, err, self._raw[0] if self._raw else 0)
                    self._done(f, -err)
                    self._pipe_check(f, err)
                raise
            self._done(f, r)
            return r

        return traced

    def _ipc_call(self, proc: Process, a: tuple[int, ...]) -> _InFlight:
        """i386's and MIPS's ipc: shown as the call it makes, as strace does."""
        raw = tuple(self._raw[:6])
        try:
            sub = ipc.subcall(proc, a)
        except Exception:  # a bad pointer (msgrcv's kludge): the raw call
            sub = None
        if sub is None:
            return _InFlight("ipc", Call(proc, "ipc", self.rows.get("ipc"), a, self.opts.limit),
                             proc.thread.tid, self._nr, raw, a)
        name, args, result_at = sub
        stat = False
        semun: str | int = 0
        if name == "semctl":
            stat = ipc.is_stat("sem", args[2])
            try:
                semun = ipc.semun_by_reference(proc, stat, args[3])
            except Exception:
                semun = hex(args[3])
            if isinstance(semun, int):
                args = (*args[:3], semun)
        call = Call(proc, name, self.rows.get(name), args, self.opts.limit)
        if isinstance(semun, str):
            call.parts[3] = semun
        f = _InFlight(name, call, proc.thread.tid, self._nr, raw, args)
        f.result_at = result_at
        return f

    def _done(self, f: _InFlight, ret: int) -> None:
        if f.done:
            return
        f.done = True
        dt = time.perf_counter_ns() - f.t0
        if self._child and f.name in _FORKS:
            # the child side of a fork: strace shows the call in the parent only
            self._child = False
            return
        failed = -4096 < ret < 0
        if self.counting:
            self.counts.add(f.name, dt, failed)
        call = f.call
        if call is None or (self.opts.status is not None and not self._status_ok(ret)):
            return
        parts = call.finish_list(ret)
        if f.result_at and ret == 0:  # ipc's shmat returned the address through memory
            try:
                ws = self.proc.abi.wordsize
                ret = int.from_bytes(self.proc.mem.read(f.result_at, ws), self.proc.abi.byteorder)
            except Exception:
                pass
        if self.lines:
            shown = parts[call.first_output():] if f.resumed else parts
            args = ", ".join(shown)
            head = f"<... {f.name} resumed>{args})" if f.resumed else f"{f.name}({args})"
            line = f"{self._prefix(f.tid, f.when)}{head} = {call.result(ret)}"
            if self.opts.durations:
                line += f" <{dt / 1e9:.6f}>"
            self._write(line + "\n")
        if self.records:
            ev = SyscallEvent(
                f.when, self.pid, f.tid, self.proc.abi.arch, f.name, f.nr, f.raw,
                tuple(parts), ret, ERRNO.get(-ret) if failed else None, dt / 1e9,
                f.parked_ns / 1e9)
            self._record(ev)

    def _record(self, ev: SyscallEvent | SignalEvent) -> None:
        if isinstance(ev, SyscallEvent):
            if self.json:
                self.json.syscall(ev)
            if self.timeline:
                self.timeline.syscall(ev, os.fsdecode(self.proc.comm))
        else:
            if self.json:
                self.json.signal(ev)
            if self.timeline:
                self.timeline.signal(ev, os.fsdecode(self.proc.comm))
        if self.opts.events is not None:
            self.opts.events.append(ev)

    def _status_ok(self, ret: int) -> bool:
        st = self.opts.status
        failed = -4096 < ret < 0
        return st is None or (st == "failed") == failed

    def _parked(self, f: _InFlight, park: Park) -> None:
        """A call that waits: strace's `<unfinished ...>` line now (once), its result when a
        retry finally produces one (a retry may park again)."""
        call = f.call
        if park.waits:
            f.parked_at = time.perf_counter_ns()
            if not f.resumed and call is not None and self.opts.status is None:
                if self.lines:
                    n = call.first_output()
                    shown = ", ".join(x for x in call.parts[:n] if x)
                    sep = ", " if shown and n < len(call.codes) else ""
                    self._write(f"{self._prefix(f.tid, f.when)}{f.name}({shown}{sep} "
                                "<unfinished ...>\n")
                f.resumed = True
        inner = park.retry

        def retry(reason: int) -> int:
            if f.parked_at:
                f.parked_ns += time.perf_counter_ns() - f.parked_at
                f.parked_at = 0
            try:
                r = inner(reason)
            except Park as again:
                self._parked(f, again)
                raise
            except ExecRequest:  # execve runs its work outside the syscall hook
                self._done(f, 0)
                self._flush_counts()
                raise
            except Exception as e:
                err = errno_of(e)
                if err is not None:
                    err = self.refine(self._nr, err, self._raw[0] if self._raw else 0)
                    self._done(f, -err)
                raise
            self._done(f, r)
            return r

        park.retry = retry

    def _exiting(self, call: Call | None, tid: int, name: str, a: tuple[int, ...]) -> None:
        status = a[0] & 0xFF if a else 0
        if call is not None and self._status_ok(0) and self.lines:
            args, _ = call.finish(0)
            self._write(f"{self._prefix(tid, time.time())}{name}({args}) = ?\n")
        if self._wanted(name):
            self.counts.add(name, 0, False)
        if name == "exit" and self.proc.sched.live_threads() > 1:
            return
        self._process_end(f"+++ exited with {status} +++")

    def _process_end(self, text: str) -> None:
        if self.lines:
            self._write(f"{self._prefix(self.proc.thread.tid, time.time())}{text}\n")
        self._flush_counts()
        root = self.pid == self.opts.root_pid
        if self.opts.summary and root:
            self._write(table(self._merged()))
        if self.timeline:
            self.timeline.process_exit(self.pid, root, text.strip("+ "))

    def native_exec(self) -> None:
        """The execve in flight hands this process to a native program: its line now (the
        host's exec does not return), and the process's part of the summary."""
        f = self._exec
        if f is not None:
            self._done(f, 0)
        if self.lines:
            self._write(f"{self._prefix(self.proc.thread.tid, time.time())}+++ running a "
                        "native program: not traced further +++\n")
        self._flush_counts()

    def _pipe_check(self, f: _InFlight, err: int) -> None:
        """EPIPE on a pipe or socket: the SIGPIPE the host would have sent (its own is
        ignored while tracing, so that the trace can show it), delivered as the call
        returns: the call ends outside the hook, where the run loop delivers it."""
        if err != errno.EPIPE or f.name not in _PIPE_WRITERS:
            return
        from syscalls.linux.signal import check_delivery
        from usermode.kernel import signals

        at = _PIPE_WRITERS[f.name]
        if at is not None and len(f.args) > at and f.args[at] & MSG_NOSIGNAL:
            return
        proc = self.proc
        info = signals.siginfo(proc, SIGPIPE, SI_USER, pid=self.pid,
                               uid=os.getuid())
        signals.queue(proc, proc.thread, SIGPIPE, info)
        try:
            check_delivery(proc)
        except Park as park:
            def epipe(_reason: int) -> int:
                raise Errno(errno.EPIPE)

            park.retry = epipe
            raise park from None

    # ---- signals -----------------------------------------------------------------------------
    def signal(self, tid: int, signo: int, info: bytes) -> None:
        """A signal delivered to a guest thread: strace's `--- SIGNAME {siginfo} ---`."""
        if self.opts.status is not None:
            return
        try:
            text = render.siginfo(self.proc, signo, info)
        except Exception:
            text = "{...}"
        when = time.time()
        if self.lines:
            self._write(f"{self._prefix(tid, when)}--- {render.signal(signo)} {text} ---\n")
        if self.records:
            self._record(SignalEvent(when, self.pid, tid, render.signal(signo), text))

    def killed(self, signo: int) -> None:
        """The process dies of `signo`: the last line, and its part of the summary."""
        self._process_end(f"+++ killed by {render.signal(signo)} +++")

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


_CURRENT: Tracer | None = None  # this process's tracer (an exec makes a new one)


def _after_fork() -> None:
    if _CURRENT is not None:
        _CURRENT._forked()


os.register_at_fork(after_in_child=_after_fork)


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
