"""The address an arm load or store touched: base +/- index (shifted) + displacement, or the
base alone when post-indexed; enough for the loads and stores compilers emit."""

from __future__ import annotations

from usermode.arch.arm import SPEC

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_REGS = {f"r{i}": SPEC.REG_R0 + i for i in range(13)} | {
    "sb": SPEC.REG_R0 + 9, "sl": SPEC.REG_R0 + 10, "fp": SPEC.REG_R0 + 11,
    "ip": SPEC.REG_R0 + 12, "sp": SPEC.REG_SP, "lr": SPEC.REG_LR, "pc": SPEC.REG_PC}


def address(eng: Any, insn: Any, page_addr: int) -> int:
    def reg(r: int) -> int:
        rid = _REGS.get(insn.reg_name(r))
        return eng.reg(rid) if rid is not None else 0

    for op in insn.operands:
        if op.type != 3:  # CS_OP_MEM
            continue
        m = op.mem
        base = reg(m.base) if m.base else 0
        index = reg(m.index) if m.index else 0
        if op.shift.type and op.shift.value:
            index <<= op.shift.value
        if op.subtracted:
            index = -index
        addr = (base if "]," in insn.op_str else base + index + m.disp) & 0xFFFFFFFF
        if addr >> 12 == page_addr >> 12:
            return addr
    return page_addr
