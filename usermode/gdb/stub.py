"""`usermode run -g PORT`: a gdb remote stub, as qemu-user's.

The stub waits for gdb before the guest's first instruction. While the guest is stopped,
the main thread answers gdb's packets; gdb's continue or step returns control to the
scheduler's run loop, which calls back here when a breakpoint, step, watchpoint, fault or
Ctrl-C stops the guest again (`Scheduler.run`, `Debugger` in usermode/kernel/sched.py).
All stop: every guest thread is a green thread on the one engine, so when the engine stops,
they all do. Each guest thread is a gdb thread, numbered by its tid.
"""

from __future__ import annotations

import os
import socket
import sys

from usermode.gdb import rsp
from usermode.gdb.commands import Resume, handle
from usermode.gdb.control import WATCH_NAMES, Controls
from usermode.gdb.hostio import HostIo
from usermode.gdb.signals import from_gdb, to_gdb
from usermode.gdb.target import Target
from usermode.host.fds import SURVIVE_EXEC, move_high
from usermode.kernel.errors import Errno
from usermode.kernel.exec import EXIT_USAGE, UsageError
from usermode.kernel.fatal import LAST_WORDS
from usermode.kernel.threads import DEAD
from usermode.uapi import SIGINT, SIGKILL, SIGTRAP

TYPE_CHECKING = False
if TYPE_CHECKING:
    from usermode.kernel.process import Process
    from usermode.kernel.threads import Thread

def listen(where: str) -> socket.socket:
    """The listening socket for `-g`: a TCP port on every address, or a Unix socket path
    (qemu's two forms). UsageError (one line, exit 2) when it cannot be had."""
    try:
        if where.isdigit():
            port = int(where)
            if not 0 < port < 65536:
                raise UsageError(f"-g {where}: not a TCP port (1-65535)", EXIT_USAGE)
            try:  # IPv6 and IPv4 both, where the host has IPv6
                sock = socket.socket(socket.AF_INET6)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            except OSError:
                sock = socket.socket(socket.AF_INET)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("", port))
        else:
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(where)
        sock.listen(1)
    except OSError as e:
        raise UsageError(f"-g {where}: cannot listen for gdb: {e.strerror or e}",
                         EXIT_USAGE) from None
    return sock


class GdbStub:
    def __init__(self, where: str) -> None:
        self.where = where
        self.server: socket.socket | None = listen(where)
        self.conn: rsp.Connection | None = None
        self.proc: Process | None = None
        self.target: Target | None = None
        self.controls: Controls | None = None
        self.active = False  # a gdb is connected to this process
        self.interrupt = False  # gdb's Ctrl-C arrived while the guest ran
        self.g_tid = 0  # the thread `g`, `p`, `m` read (0: the current one)
        self.c_tid = 0  # the thread `c` and `s` resume
        self.last_stop = b"S05"
        self.gdb_features: set[bytes] = set()
        self.exec_stop: bytes | None = None  # the stop reply a new image starts with
        self.hostio = HostIo()  # the files gdb reads through us (vFile)
        self.multiprocess = False
        self.pass_signals: set[int] = set()  # delivered without a stop (gdb's `handle`)
        self._scratch: object = None
        os.register_at_fork(after_in_child=self._forked)
        LAST_WORDS.append(self.killed)

    # ---- connecting
    def wait_for_gdb(self) -> None:
        """Block until gdb connects (before the guest's first instruction)."""
        server = self.server
        assert server is not None
        sys.stderr.flush()
        try:
            sock, _ = server.accept()
        except KeyboardInterrupt:
            raise UsageError("-g: interrupted while waiting for gdb", EXIT_USAGE) from None
        server.close()
        self.server = None
        if not isinstance(self.where, str) or not self.where.isdigit():
            try:
                os.unlink(self.where)
            except OSError:
                pass
        fd = move_high(sock.detach())
        SURVIVE_EXEC.add(fd)
        sock = socket.socket(fileno=fd)
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = rsp.Connection(sock, self._interrupted)
        self.active = True

    def attach(self, proc: Process) -> None:
        """A new process image to debug (the first one, or one a guest execve started)."""
        first = self.proc is None
        self.proc = proc
        proc.sched.debugger = self
        self.target = Target(proc.arch)
        self.controls = Controls(proc)
        if self.conn is not None:
            proc.fds.reserved.add(self.conn.sock.fileno())
        proc.sched.watchdog.start(preempt=True)  # gdb's Ctrl-C stops a running guest
        self.exec_stop = None
        if not first and self.active:
            if b"exec-events+" in self.gdb_features:  # told when the new image starts
                path = os.fsencode(proc.exe_path).hex().encode()
                self.exec_stop = b"T05exec:" + path + b";" + self._thread_part()
            else:
                self._detach(b"-g: the guest exec'd a new program; gdb is detached from it")

    # ---- the run loop's calls
    def started(self) -> None:
        """The guest is about to run its first instruction: gdb looks first."""
        if self.active and self.proc is not None and self.conn is not None:
            if self.exec_stop is not None:  # a guest execve: gdb hears of the new program
                self.last_stop, self.exec_stop = self.exec_stop, None
                self._serve(self.last_stop)
                return
            self.last_stop = b"T05" + self._thread_part()
            self._serve(None)  # the first image: gdb asks why it stopped

    def slice_ended(self) -> None:
        """A slice of guest execution ended: a breakpoint, a step or a watchpoint may have
        stopped it, or gdb's Ctrl-C."""
        proc, ctl = self.proc, self.controls
        if proc is None or ctl is None:
            return
        ev = proc.engine.debug_event
        if ev is None:
            if self.interrupt and self.active:
                self.interrupt = False
                self._report(SIGINT)
            return
        proc.engine.debug_event = None
        if not self.active:
            return
        why, _addr = ev
        t = proc.sched.current
        if why == "watch":
            ctl.finish_access(t.tid)  # the watched instruction runs again, then we report
            return
        if why == "step" and ctl.watch_hit is not None:
            kind, addr = ctl.watch_hit
            ctl.watch_hit = None
            ctl.quiet = False
            self._report(SIGTRAP, b"%s:%x;" % (WATCH_NAMES[kind], addr))
            return
        self._report(SIGTRAP)

    def waiting(self) -> None:
        """Every guest thread waits (in the event loop): gdb's Ctrl-C stops them there."""
        if self.interrupt and self.active:
            self.interrupt = False
            self._report(SIGINT)

    def fault(self, signo: int) -> int:
        """The current thread faulted with `signo`: gdb sees it first and says whether the
        guest gets it (the signal to deliver, or 0)."""
        if not self.active:
            return signo
        return self._report(signo, fault=True)

    def signal(self, signo: int) -> int:
        """A signal is about to be delivered to the current thread: gdb sees it first
        unless it asked for it to pass (QPassSignals); the signal to deliver, or 0."""
        if not self.active or signo in self.pass_signals:
            return signo
        return self._report(signo, fault=True)

    def exited(self, status: int) -> None:
        if self.active and self.conn is not None:
            self.conn.send(b"W%02x" % (status & 0xFF) + self._process_part())
            self._disconnect()

    def killed(self, signo: int) -> None:
        if self.active and self.conn is not None:
            self.conn.send(b"X%02x" % to_gdb(signo) + self._process_part())
            self._disconnect()

    # ---- stops
    def _thread_part(self) -> bytes:
        assert self.proc is not None
        return b"thread:" + self.thread_id(self.proc.sched.current.tid) + b";"

    def _process_part(self) -> bytes:
        return b";process:%x" % self.proc.pid if self.multiprocess and self.proc else b""

    def thread_id(self, tid: int) -> bytes:
        """A thread as gdb names it: pPID.TID once gdb speaks the multiprocess extension."""
        assert self.proc is not None
        return b"p%x.%x" % (self.proc.pid, tid) if self.multiprocess else b"%x" % tid

    def _report(self, signo: int, extra: bytes = b"", fault: bool = False) -> int:
        """Tell gdb the guest stopped with `signo` and serve it until it resumes. After a
        fault, returns the signal gdb wants the faulting thread to get (0: none); after any
        other stop a signal gdb asks for is queued here."""
        self.last_stop = b"T%02x" % to_gdb(signo) + self._thread_part() + extra
        resume = self._serve(self.last_stop)
        if resume is None:
            return signo if fault else 0  # gdb left: things go on as without it
        if fault or not resume.signo:
            return resume.signo
        from usermode.kernel import signals

        assert self.proc is not None
        t = self.thread(resume.signal_tid or 0) or self.proc.sched.current
        signals.queue(self.proc, t, resume.signo, signals.siginfo(self.proc, resume.signo, 0))
        return 0

    def _serve(self, reply: bytes | None) -> Resume | None:
        """Send a stop reply, then answer gdb until it resumes the guest (None: gdb left)."""
        conn = self.conn
        assert conn is not None and self.proc is not None
        self.g_tid = self.c_tid = 0
        if reply is not None:
            conn.send(reply)
        while True:
            try:
                pkt = conn.get()
            except rsp.Closed:
                self._gone()
                return None
            if pkt == rsp.INTERRUPT:
                continue  # already stopped
            try:
                resume = handle(self, pkt)
            except (ValueError, IndexError, KeyError):  # a malformed packet: an error reply
                conn.send(b"E01")
                continue
            if resume is not None:
                self._resume(resume)
                return resume
            if not self.active:
                return None

    def _resume(self, r: Resume) -> None:
        proc, ctl = self.proc, self.controls
        assert proc is not None and ctl is not None
        t = proc.sched.current
        pc = proc.engine.pc()
        ctl.skip = (t.tid, pc) if pc in ctl.breakpoints else None
        self.interrupt = False
        if self.conn is not None:
            self.conn.running()  # its watcher looks out for gdb's Ctrl-C
        proc.sched.only = self.thread(r.only_tid) if r.only_tid not in (None, 0, -1) else None
        if r.step_tid is not None:
            ctl.start_step(r.step_tid if r.step_tid > 0 else t.tid)
        elif ctl.watch_hit is None:
            ctl.end_steps()

    def _interrupted(self) -> None:
        """gdb's Ctrl-C (reader thread): stop the guest where it is."""
        self.interrupt = True
        proc = self.proc
        if proc is not None:
            proc.sched.wake()

    # ---- leaving
    def _gone(self) -> None:
        """gdb closed the connection without a word: the program runs on, as after `D`."""
        self._detach(None)

    def _detach(self, why: bytes | None) -> None:
        if why:
            sys.stderr.write(why.decode() + "\n")
        if self.controls is not None:
            self.controls.clear()
        self._disconnect()

    def _disconnect(self) -> None:
        self.active = False
        self.hostio.close_all()
        if self.killed in LAST_WORDS:
            LAST_WORDS.remove(self.killed)
        conn, self.conn = self.conn, None
        if conn is not None:
            SURVIVE_EXEC.discard(conn.sock.fileno())
            if self.proc is not None:
                self.proc.fds.reserved.discard(conn.sock.fileno())
            conn.close()

    def kill(self) -> None:
        from usermode.kernel.fatal import die

        self._disconnect()
        die(SIGKILL)

    def _forked(self) -> None:
        """A forked child runs on without gdb, as under qemu."""
        if self.conn is not None:
            SURVIVE_EXEC.discard(self.conn.sock.fileno())
            self.conn.forget()
            self.conn = None
        self.active = False
        self.hostio.close_all()
        if self.controls is not None:
            self.controls.clear()

    # ---- what commands use
    def thread(self, tid: int) -> Thread | None:
        """The thread `tid` names (0 or -1: the current one)."""
        assert self.proc is not None
        sched = self.proc.sched
        if tid in (0, -1):
            return sched.current
        t = sched.threads.get(tid)
        return t if t is not None and t.state != DEAD else None

    def with_registers(self, t: Thread, fn: object, write: bool = False) -> object:
        """fn() run with thread `t`'s registers in the engine (a stopped thread's are in its
        saved context)."""
        assert self.proc is not None
        sched = self.proc.sched
        eng = self.proc.engine
        if t is sched.owner or t.ctx is None:
            return fn()  # type: ignore[operator]
        if self._scratch is None:
            self._scratch = eng.new_context()
        eng.save_context(self._scratch)  # type: ignore[arg-type]
        eng.restore_context(t.ctx)
        try:
            return fn()  # type: ignore[operator]
        finally:
            if write:
                eng.save_context(t.ctx)
            eng.restore_context(self._scratch)  # type: ignore[arg-type]

    def read_memory(self, addr: int, n: int) -> bytes:
        """Up to `n` bytes from `addr`, whatever the protection (as ptrace reads); stops at
        the first unmapped byte."""
        assert self.proc is not None
        mem = self.proc.mem
        out = b""
        while len(out) < n:
            v = mem.find(addr + len(out))
            if v is None:
                break
            a = addr + len(out)
            take = min(n - len(out), v.end - a)
            try:
                out += mem.read_for_debug(a, take)
            except Errno:
                break
        return out

    def write_memory(self, addr: int, data: bytes) -> bool:
        assert self.proc is not None
        mem = self.proc.mem
        if not mem.is_mapped(addr, addr + len(data)):
            return False
        try:
            mem.write(addr, data, force=True)  # code translated from there goes too
        except Errno:
            return False
        if self.proc.engine is not None:
            self.proc.engine.uc.remove_cache(addr, addr + len(data))
        return True

    def resolve_signal(self, gdb_signo: int) -> int:
        return from_gdb(gdb_signo)
