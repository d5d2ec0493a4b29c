"""The address an aarch64 load or store touched: base + index (extended, shifted) +
displacement, or the base alone when post-indexed."""

from __future__ import annotations

from usermode.arch.aarch64 import SPEC

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MASK64 = (1 << 64) - 1


def _reg(name: str) -> int | None:
    if name == "sp":
        return SPEC.REG_SP
    if name in ("x29", "fp"):
        return SPEC.REG_X29
    if name in ("x30", "lr"):
        return SPEC.REG_X30
    if name[0] in "xw" and name[1:].isdigit() and int(name[1:]) <= 28:
        return SPEC.REG_X0 + int(name[1:])
    return None


def address(eng: Any, insn: Any, page_addr: int) -> int:
    for op in insn.operands:
        if op.type != 3:  # CS_OP_MEM
            continue
        m = op.mem
        reg = _reg(insn.reg_name(m.base)) if m.base else None
        base = eng.reg(reg) if reg is not None else 0
        index = 0
        if m.index:
            ireg = _reg(insn.reg_name(m.index))
            index = eng.reg(ireg) if ireg is not None else 0
            if insn.reg_name(m.index).startswith("w"):
                index &= 0xFFFFFFFF
                if "sxtw" in insn.op_str and index & 0x80000000:
                    index -= 1 << 32
            if op.shift.type and op.shift.value:
                index <<= op.shift.value
        post_indexed = "]," in insn.op_str
        addr = (base if post_indexed else base + index + m.disp) & MASK64
        if addr >> 12 == page_addr >> 12:
            return addr
    return page_addr
