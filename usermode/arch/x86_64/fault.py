"""The address an x86 instruction's memory operand touched: base + index * scale +
displacement (rip-relative from the next instruction). i386 decodes the same way."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MASK64 = (1 << 64) - 1


def _regs() -> dict[str, int]:
    from usermode.arch.i386 import SPEC as I386
    from usermode.arch.x86_64 import SPEC as X64

    wide = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "rip",
            *(f"r{i}" for i in range(8, 16)))
    narrow = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "eip")
    return {n: getattr(X64, "REG_" + n.upper()) for n in wide} | {
        n: getattr(I386, "REG_" + n.upper()) for n in narrow}


def address(eng: Any, insn: Any, page_addr: int) -> int:
    regs = _regs()
    next_pc = int(insn.address + insn.size)

    def value(name: str) -> int:
        if name in ("rip", "eip"):
            return next_pc
        reg = regs.get(name)
        return int(eng.reg(reg)) if reg is not None else 0

    for op in insn.operands:
        if op.type != 3:  # CS_OP_MEM
            continue
        m = op.mem
        base = value(insn.reg_name(m.base)) if m.base else 0
        index = value(insn.reg_name(m.index)) if m.index else 0
        addr = int(base + index * (m.scale or 1) + m.disp) & MASK64
        if addr >> 12 == page_addr >> 12:
            return addr
    return page_addr
