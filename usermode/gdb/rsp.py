"""The GDB remote serial protocol's framing over one connection: `$payload#checksum`
packets, `+`/`-` acknowledgements (until QStartNoAckMode), `}` escapes, and the lone `\\x03`
byte by which gdb interrupts a running target.

While the guest is stopped the main thread reads gdb's packets itself (no hand-off between
threads: gdb sends about eight packets per single step). While the guest runs, a watcher
thread looks at the connection for gdb's Ctrl-C, and takes nothing else from it.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

INTERRUPT = b"\x03"  # what `get` returns for gdb's Ctrl-C
_SPECIAL = frozenset(b"$#}*")


class Closed(Exception):
    """gdb went away (it closed the connection, or the connection failed)."""


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def escape(payload: bytes) -> bytes:
    if not any(c in _SPECIAL for c in payload):
        return payload
    out = bytearray()
    for c in payload:
        if c in _SPECIAL:
            out += bytes((0x7D, c ^ 0x20))
        else:
            out.append(c)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    if b"}" not in data:
        return data
    out = bytearray()
    it = iter(data)
    for c in it:
        if c == 0x7D:
            c = next(it, 0) ^ 0x20
        out.append(c)
    return bytes(out)


def frame(payload: bytes) -> bytes:
    body = escape(payload)
    return b"$" + body + b"#" + b"%02x" % checksum(body)


class Connection:
    def __init__(self, sock: socket.socket, on_interrupt: Callable[[], None]) -> None:
        self.sock = sock
        self.ack = True  # until gdb asks for QStartNoAckMode
        self.on_interrupt = on_interrupt
        self._buf = b""  # received, not yet parsed
        self._items: list[bytes] = []  # parsed, not yet taken
        self._send_lock = threading.Lock()
        self._read_lock = threading.Lock()  # the watcher's look against the main thread's
        self._running = threading.Event()  # the guest runs: the watcher watches
        self._last = b""
        self._closed = False
        self._watcher = threading.Thread(target=self._watch, name="usermode-gdb",
                                         daemon=True)
        self._watcher.start()

    # ---- while the guest runs (watcher thread) ---------------------------------------------------
    def running(self) -> None:
        """The guest runs on: gdb's Ctrl-C may come now."""
        if INTERRUPT in self._items or b"\x03" in self._buf:  # it came with the resume
            self._items = [i for i in self._items if i != INTERRUPT]
            self._buf = self._buf.replace(b"\x03", b"")
            self.on_interrupt()
        self._running.set()

    def _watch(self) -> None:
        while not self._closed:
            self._running.wait()
            try:
                ready, _, _ = select.select([self.sock], [], [], 0.1)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            with self._read_lock:
                if not self._running.is_set():
                    continue  # the main thread reads from here on
                try:
                    head = self.sock.recv(1, socket.MSG_PEEK)
                except OSError:
                    head = b""
                if head in (b"\x03", b"+"):
                    self.sock.recv(1)
                    if head == b"\x03":
                        self.on_interrupt()
                    continue
            # the connection ended, or gdb sent a packet: the main thread will see it once
            # the guest stops; do not spin on it meanwhile
            while self._running.is_set() and not self._closed:
                time.sleep(0.05)

    # ---- while the guest is stopped (main thread) ----------------
    def get(self) -> bytes:
        """The next packet's payload (or INTERRUPT); raises Closed when gdb has gone."""
        with self._read_lock:
            self._running.clear()
        while not self._items:
            if self._closed:
                raise Closed
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._closed = True
                raise Closed
            self._buf = self._parse(self._buf + data)
        return self._items.pop(0)

    def _parse(self, buf: bytes) -> bytes:
        while buf:
            c = buf[0]
            if c == 0x03:
                buf = buf[1:]
                self._items.append(INTERRUPT)
            elif c == ord("$"):
                end = buf.find(b"#", 1)
                if end < 0 or len(buf) < end + 3:
                    return buf  # the rest has not arrived yet
                body, sent = buf[1:end], buf[end + 1:end + 3]
                buf = buf[end + 3:]
                try:
                    good = int(sent, 16) == checksum(body)
                except ValueError:
                    good = False
                if self.ack:
                    self._send_raw(b"+" if good else b"-")
                if good:
                    self._items.append(unescape(body))
            elif c == ord("-") and self.ack:
                buf = buf[1:]
                self._send_raw(self._last)  # gdb saw a damaged packet: once more
            else:
                buf = buf[1:]  # '+' acks, and noise between packets
        return buf

    # ---- sending ----------------
    def send(self, payload: bytes) -> None:
        data = frame(payload)
        self._last = data
        self._send_raw(data)

    def _send_raw(self, data: bytes) -> None:
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                pass  # the next read sees the connection end

    def close(self) -> None:
        self._closed = True
        self._running.set()  # (the watcher ends)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def forget(self) -> None:
        """A forked child's copy: closed here without touching the parent's connection."""
        self._closed = True
        try:
            os.close(self.sock.detach())
        except OSError:
            pass
