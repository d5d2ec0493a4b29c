"""The GDB remote serial protocol's framing over one connection: `$payload#checksum`
packets, `+`/`-` acknowledgements (until QStartNoAckMode), `}` escapes, and the lone `\\x03`
byte by which gdb interrupts a running target.

A reader thread owns the socket's receiving side, so an interrupt is seen while the guest
runs; the main thread takes whole packets from it with `get`.
"""

from __future__ import annotations

import os
import queue
import socket
import threading

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
        self._inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._send_lock = threading.Lock()
        self._last = b""
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="usermode-gdb", daemon=True)
        self._reader.start()

    # ---- receiving (reader thread) ---------------------------------------------------------------
    def _read(self) -> None:
        buf = b""
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                buf = self._parse(buf + data)
        except OSError:
            pass
        self._inbox.put(None)

    def _parse(self, buf: bytes) -> bytes:
        while buf:
            c = buf[0]
            if c == 0x03:
                buf = buf[1:]
                self._inbox.put(INTERRUPT)
                self.on_interrupt()
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
                    self._inbox.put(unescape(body))
            elif c == ord("-") and self.ack:
                buf = buf[1:]
                self._send_raw(self._last)  # gdb saw a damaged packet: once more
            else:
                buf = buf[1:]  # '+' acks, and noise between packets
        return buf

    def get(self) -> bytes:
        """The next packet's payload (or INTERRUPT); raises Closed when gdb has gone."""
        if self._closed:
            raise Closed
        item = self._inbox.get()
        if item is None:
            self._closed = True
            raise Closed
        return item

    # ---- sending
    def send(self, payload: bytes) -> None:
        data = frame(payload)
        self._last = data
        self._send_raw(data)

    def _send_raw(self, data: bytes) -> None:
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                pass  # the reader sees the connection end

    def close(self) -> None:
        self._closed = True
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
