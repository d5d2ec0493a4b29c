"""The exact address a faulting load or store touched (for si_addr and crash reports).

With the virtual TLB, Unicorn hands our fill callback only the page of a missing access,
and its invalid-memory hooks are not called. Only a fault needs the exact address, so it is
recomputed from the faulting instruction: capstone gives the memory operand (base, index,
shift or scale, displacement), the registers give the values. A post-indexed access uses
the base alone. If the result is not on the faulting page, the page address is kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from usermode.kernel.memory import Fault
    from usermode.kernel.process import Process

_X86_REGS = {"rax": 35, "rbx": 37, "rcx": 38, "rdx": 40, "rsi": 43, "rdi": 39, "rbp": 36,
             "rsp": 44, "rip": 41, "r8": 106, "r9": 107, "r10": 108, "r11": 109, "r12": 110,
             "r13": 111, "r14": 112, "r15": 113,
             "eax": 19, "ebp": 20, "ebx": 21, "ecx": 22, "edi": 23, "edx": 24, "esi": 29,
             "esp": 30}
_MASK64 = (1 << 64) - 1


def _a64_reg(name: str) -> int | None:
    if name == "sp":
        return 4
    if name in ("x29", "fp"):
        return 1
    if name in ("x30", "lr"):
        return 2
    if name[0] in "xw" and name[1:].isdigit() and int(name[1:]) <= 28:
        return 199 + int(name[1:])
    return None


_RV_NAMES = {n: i for i, n in enumerate(
    "zero ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 "
    "t3 t4 t5 t6".split())} | {"fp": 8} | {f"x{i}": i for i in range(32)}


def fault_address(p: Process, pc: int, page_addr: int) -> int:
    try:
        return _compute(p, pc, page_addr)
    except Exception:
        return page_addr


def _compute(p: Process, pc: int, page_addr: int) -> int:
    import capstone

    arch = p.elf.arch
    if arch not in ("aarch64", "x86_64", "riscv64", "arm", "i386"):
        return page_addr  # operand decoding for the other arches: issue 6
    mode = p.arch.CS_MODE
    if arch == "arm" and p.engine.resume_pc() & 1:
        mode |= 16  # CS_MODE_THUMB
    cs = capstone.Cs(p.arch.CS_ARCH, mode)
    cs.detail = True
    code = p.mem.read_for_debug(pc, 16 if arch in ("x86_64", "i386") else 4)
    insn = next(cs.disasm(code, pc), None)
    if insn is None:
        return page_addr
    eng = p.engine
    if arch == "riscv64":
        return _riscv(eng, insn, page_addr)
    if arch == "arm":
        return _arm(eng, insn, page_addr)
    for op in insn.operands:
        if op.type != 3:  # CS_OP_MEM (same value for ARM64 and X86 in capstone 5)
            continue
        m = op.mem
        if arch in ("x86_64", "i386"):
            base = _x86(eng, insn.reg_name(m.base), pc + insn.size) if m.base else 0
            index = _x86(eng, insn.reg_name(m.index), pc + insn.size) if m.index else 0
            addr = base + index * (m.scale or 1) + m.disp
        else:
            reg = _a64_reg(insn.reg_name(m.base)) if m.base else None
            base = eng.reg(reg) if reg is not None else 0
            index = 0
            if m.index:
                ireg = _a64_reg(insn.reg_name(m.index))
                index = eng.reg(ireg) if ireg is not None else 0
                if insn.reg_name(m.index).startswith("w"):
                    index &= 0xFFFFFFFF
                    if "sxtw" in insn.op_str and index & 0x80000000:
                        index -= 1 << 32
                if op.shift.type and op.shift.value:
                    index <<= op.shift.value
            post_indexed = "]," in insn.op_str
            addr = base if post_indexed else base + index + m.disp
        addr &= _MASK64
        if addr >> 12 == page_addr >> 12:
            return addr
    return page_addr


def _riscv(eng: object, insn: object, page_addr: int) -> int:
    """riscv loads and stores address base + displacement; capstone gives compressed ones
    (c.lw, c.sdsp, ...) as (reg, imm, base reg) rather than a memory operand."""
    ops = insn.operands  # type: ignore[attr-defined]
    base = disp = None
    for op in ops:
        if op.type == 3:
            base, disp = op.mem.base, op.mem.disp
    if base is None and len(ops) == 3 and (ops[1].type, ops[2].type) == (2, 1):
        base, disp = ops[2].reg, ops[1].imm
    if base is None:
        return page_addr
    idx = _RV_NAMES.get(insn.reg_name(base))  # type: ignore[attr-defined]
    addr = ((eng.reg(idx + 1) if idx else 0) + (disp or 0)) & _MASK64  # type: ignore[attr-defined]
    return addr if addr >> 12 == page_addr >> 12 else page_addr


_ARM_REGS = {f"r{i}": 66 + i for i in range(13)} | {
    "sb": 75, "sl": 76, "fp": 77, "ip": 78, "sp": 12, "lr": 10, "pc": 11}


def _arm(eng: object, insn: object, page_addr: int) -> int:
    """arm memory operands: base +/- index (shifted) + displacement; the base alone when
    post-indexed. Enough for the loads and stores compilers emit."""
    for op in insn.operands:  # type: ignore[attr-defined]
        if op.type != 3:
            continue
        m = op.mem

        def reg(r: int) -> int:
            rid = _ARM_REGS.get(insn.reg_name(r))  # type: ignore[attr-defined]
            return eng.reg(rid) if rid is not None else 0  # type: ignore[attr-defined]

        base = reg(m.base) if m.base else 0
        index = reg(m.index) if m.index else 0
        if op.shift.type and op.shift.value:
            index <<= op.shift.value
        if op.subtracted:
            index = -index
        addr = base if "]," in insn.op_str else base + index + m.disp  # type: ignore[attr-defined]
        addr &= 0xFFFFFFFF
        if addr >> 12 == page_addr >> 12:
            return addr
    return page_addr


def _x86(eng: object, name: str, next_pc: int) -> int:
    if name in ("rip", "eip"):
        return next_pc
    reg = _X86_REGS.get(name)
    return eng.reg(reg) if reg is not None else 0  # type: ignore[attr-defined]


# mips loads and stores (I-type: base register, 16-bit signed offset), by major opcode
_MIPS_MEM_OPS = frozenset({0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x28, 0x29, 0x2A, 0x2B,
                           0x2E, 0x30, 0x31, 0x35, 0x38, 0x39, 0x3D})


def mips_access(p: Process, pc: int) -> int | None:
    """The address the load or store at `pc` touched. A fault in a branch delay slot is
    reported at the branch, or for a call at its target: then the access is at pc+4, or
    just before the return address. mips runs on the CPU's own TLB, so no fill callback saw
    the page; None if none of these instructions accesses memory."""
    for at in (pc, pc + 4, p.engine.reg(p.arch.REG_RA) - 4):
        try:
            w = int.from_bytes(p.mem.read_for_debug(at, 4), "little")
        except Exception:
            return None
        if w >> 26 in _MIPS_MEM_OPS:
            base = (w >> 21) & 0x1F
            off = w & 0xFFFF
            off -= (off & 0x8000) << 1
            value = p.engine.reg(2 + base) if base else 0
            return (value + off) & 0xFFFFFFFF
    return None


def cpu_tlb_fault(p: Process, err: int) -> Fault | None:
    """The faulting access of a guest run on the CPU's own TLB, from the instruction."""
    from usermode.engine import capi
    from usermode.kernel.memory import Fault

    pc = p.engine.pc()
    fetch = err in (capi.UC_ERR_FETCH_UNMAPPED, capi.UC_ERR_FETCH_PROT)
    addr = pc if fetch else mips_access(p, pc)
    if addr is None:
        return None
    return Fault(addr, 0, p.mem.find(addr) is not None)
