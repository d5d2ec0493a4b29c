"""The address a mips load or store touched, read from the instruction word itself (mips
runs on the CPU's own TLB, so no fill callback saw the page; docs/abi.md §6)."""

from __future__ import annotations

from usermode.arch.mipsel import SPEC

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

# loads and stores (I-type: base register, 16-bit signed offset), by major opcode
_MEM_OPS = frozenset({0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x28, 0x29, 0x2A, 0x2B,
                      0x2E, 0x30, 0x31, 0x35, 0x38, 0x39, 0x3D})


def access(p: Process, pc: int) -> int | None:
    """A fault in a branch delay slot is reported at the branch, or for a call at its
    target: then the access is at pc+4, or just before the return address. None if none of
    these instructions accesses memory."""
    a = SPEC
    for at in (pc, pc + 4, p.engine.reg(a.REG_RA) - 4):
        try:
            w = int.from_bytes(p.mem.read_for_debug(at, 4), "little")
        except Exception:
            return None
        if w >> 26 in _MEM_OPS:
            base = (w >> 21) & 0x1F
            off = w & 0xFFFF
            off -= (off & 0x8000) << 1
            value = p.engine.reg(a.REG_ZERO + base) if base else 0
            return (value + off) & 0xFFFFFFFF
    return None
