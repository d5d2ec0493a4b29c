"""Ancillary data (cmsghdr chains) between 32-bit guests and the 64-bit host.

A 32-bit cmsghdr is {u32 len; s32 level; s32 type} with data aligned to 4 bytes; the host's
has a 64-bit len and data aligned to 8. The payloads (SCM_RIGHTS fd arrays, SCM_CREDENTIALS)
are the same, so converting is re-framing each message."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    ByteOrder = Literal["little", "big"]


def _align(n: int, a: int) -> int:
    return (n + a - 1) & ~(a - 1)


def _messages(buf: bytes, w: int, bo: ByteOrder) -> list[tuple[int, int, bytes]]:
    out = []
    hdr = _align(w + 8, w)
    off = 0
    while off + hdr <= len(buf):
        length = int.from_bytes(buf[off:off + w], bo)
        if length < hdr or off + length > len(buf):
            break
        level = int.from_bytes(buf[off + w:off + w + 4], bo, signed=True)
        kind = int.from_bytes(buf[off + w + 4:off + w + 8], bo, signed=True)
        out.append((level, kind, buf[off + hdr:off + length]))
        off += _align(length, w)
    return out


def _frame(msgs: list[tuple[int, int, bytes]], w: int, bo: ByteOrder) -> bytes:
    hdr = _align(w + 8, w)
    out = bytearray()
    for level, kind, data in msgs:
        length = hdr + len(data)
        out += length.to_bytes(w, bo) + level.to_bytes(4, bo, signed=True) + \
            kind.to_bytes(4, bo, signed=True)
        out += b"\0" * (hdr - (w + 8)) + data
        out += b"\0" * (_align(length, w) - length)
    return bytes(out)


def from_guest_control(buf: bytes, guest_word: int, bo: ByteOrder, sol_socket: int = 1) -> bytes:
    """`sol_socket`: the guest's SOL_SOCKET (mips: 0xffff; the host's is 1)."""
    msgs = [(1 if lv == sol_socket else lv, k, d) for lv, k, d in _messages(buf, guest_word, bo)]
    return _frame(msgs, 8, "little")


def to_guest_control(buf: bytes, guest_word: int, bo: ByteOrder, room: int,
                     sol_socket: int = 1) -> tuple[bytes, bool]:
    """The host's chain re-framed for the guest, cut to `room` bytes; True if cut."""
    msgs = [(sol_socket if lv == 1 else lv, k, d) for lv, k, d in _messages(buf, 8, "little")]
    out = _frame(msgs, guest_word, bo)
    return out[:room], len(out) > room


def host_room(guest_len: int) -> int:
    """A host buffer size that holds whatever fits in `guest_len` bytes of guest chain."""
    return 2 * guest_len + 64
