"""The address a riscv64 load or store touched: base + displacement. capstone gives the
compressed forms (c.lw, c.sdsp, ...) as (register, immediate, base register) rather than a
memory operand."""

from __future__ import annotations

from usermode.arch.riscv64 import SPEC

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MASK64 = (1 << 64) - 1
# ABI names -> x number; Unicorn's x<n> is REG_X0 + n
_NAMES = {n: i for i, n in enumerate(
    "zero ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 "
    "t3 t4 t5 t6".split())} | {"fp": 8} | {f"x{i}": i for i in range(32)}


def address(eng: Any, insn: Any, page_addr: int) -> int:
    ops = insn.operands
    base = disp = None
    for op in ops:
        if op.type == 3:  # CS_OP_MEM
            base, disp = op.mem.base, op.mem.disp
    if base is None and len(ops) == 3 and (ops[1].type, ops[2].type) == (2, 1):
        base, disp = ops[2].reg, ops[1].imm
    if base is None:
        return page_addr
    idx = _NAMES.get(insn.reg_name(base))
    addr = ((eng.reg(SPEC.REG_X0 + idx) if idx else 0) + (disp or 0)) & MASK64
    return addr if addr >> 12 == page_addr >> 12 else page_addr
