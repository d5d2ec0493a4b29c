"""Machine-readable traces: JSON lines (--trace-json) and a Chrome/Perfetto trace-event file
(--trace-timeline), plus in-memory events for the Python API.

Every process of a run appends to the same files with one write per record (O_APPEND), so
records of processes and threads never interleave mid-record. The timeline is the JSON
array format: `[` first, then one event per line each followed by a comma; the run's first
process closes the array when it exits (viewers also accept an array left open).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, NamedTuple

from usermode.host.fds import move_high

_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii


class SyscallEvent(NamedTuple):
    """One completed guest syscall."""

    ts: float  # wall-clock seconds at entry
    pid: int
    tid: int
    arch: str
    name: str
    number: int
    raw_args: tuple[int, ...]  # the registers as the guest passed them
    args: tuple[str, ...]  # decoded, as strace shows them
    ret: int  # the result, -errno on failure
    errno: str | None  # ENOENT...
    duration: float  # seconds, entry to result (time parked included)
    parked: float  # seconds spent parked in the event loop


class SignalEvent(NamedTuple):
    """A signal delivered to a guest thread."""

    ts: float
    pid: int
    tid: int
    signal: str
    info: str


class _File:
    """An O_APPEND fd kept open for the run (above the guest's fds, which `reserve` keeps
    the guest from closing); each record is one write."""

    def __init__(self, path: str, fresh: bool, reserve: Callable[[int], None]) -> None:
        if fresh:
            open(path, "w").close()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        self.fd = move_high(fd)
        reserve(self.fd)

    def write(self, text: str) -> None:
        try:
            os.write(self.fd, text.encode(errors="replace"))
        except OSError:
            pass


class JsonSink:
    """JSON lines: one object per syscall (and per signal, with "signal" set)."""

    def __init__(self, path: str, fresh: bool, reserve: Callable[[int], None]) -> None:
        self.out = _File(path, fresh, reserve)
        self._dumps = json.JSONEncoder().encode

    def syscall(self, ev: SyscallEvent) -> None:
        """The line json.dumps(ev._asdict()) gives, built directly (a third of the cost)."""
        q = _quote
        err = "null" if ev.errno is None else q(ev.errno)
        self.out.write(
            f'{{"ts": {ev.ts!r}, "pid": {ev.pid}, "tid": {ev.tid}, "arch": {q(ev.arch)}, '
            f'"name": {q(ev.name)}, "number": {ev.number}, '
            f'"raw_args": [{", ".join(map(str, ev.raw_args))}], '
            f'"args": [{", ".join(map(q, ev.args))}], "ret": {ev.ret}, "errno": {err}, '
            f'"duration": {ev.duration!r}, "parked": {ev.parked!r}}}\n')

    def signal(self, ev: SignalEvent) -> None:
        self.out.write(self._dumps(ev._asdict()) + "\n")

    def process_exit(self, pid: int, root: bool, how: str) -> None:
        return None


class TimelineSink:
    """Trace events: a track per guest thread, syscalls and parked time as slices, signals
    as instant events."""

    def __init__(self, path: str, fresh: bool, reserve: Callable[[int], None]) -> None:
        self.out = _File(path, fresh, reserve)
        if fresh:
            self.out.write("[\n")
        self._named: set[tuple[int, int]] = set()

    def _event(self, ev: dict[str, Any]) -> None:
        self.out.write(json.dumps(ev) + ",\n")

    def _name_track(self, pid: int, tid: int, comm: str) -> None:
        if (pid, tid) in self._named:
            return
        if not any(p == pid for p, _ in self._named):
            self._event({"name": "process_name", "ph": "M", "pid": pid, "tid": pid,
                         "args": {"name": f"{comm} ({pid})"}})
        self._named.add((pid, tid))
        label = "main" if tid == pid else f"thread {tid}"
        self._event({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                     "args": {"name": label}})

    def syscall(self, ev: SyscallEvent, comm: str = "guest") -> None:
        self._name_track(ev.pid, ev.tid, comm)
        start = ev.ts * 1e6
        args = {"args": ", ".join(ev.args), "ret": ev.errno or ev.ret}
        self._event({"name": ev.name, "cat": "syscall", "ph": "X", "ts": round(start, 3),
                     "dur": round(ev.duration * 1e6, 3), "pid": ev.pid, "tid": ev.tid,
                     "args": args})
        if ev.parked > 0:  # the wait inside the call: its end is the call's end
            end = start + ev.duration * 1e6
            self._event({"name": f"parked: {ev.name}", "cat": "parked", "ph": "X",
                         "ts": round(end - ev.parked * 1e6, 3),
                         "dur": round(ev.parked * 1e6, 3), "pid": ev.pid, "tid": ev.tid})

    def signal(self, ev: SignalEvent, comm: str = "guest") -> None:
        self._name_track(ev.pid, ev.tid, comm)
        self._event({"name": ev.signal, "cat": "signal", "ph": "i", "s": "t",
                     "ts": round(ev.ts * 1e6, 3), "pid": ev.pid, "tid": ev.tid,
                     "args": {"info": ev.info}})

    def process_exit(self, pid: int, root: bool, how: str) -> None:
        self._event({"name": how, "cat": "process", "ph": "i", "s": "p",
                     "ts": round(_now() * 1e6, 3), "pid": pid, "tid": pid})
        if root:  # close the array: the file is then strict JSON
            self.out.write(json.dumps({"name": "trace_end", "ph": "M", "pid": pid,
                                       "tid": pid, "args": {}}) + "\n]\n")


def _now() -> float:
    import time

    return time.time()
