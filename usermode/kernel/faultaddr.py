"""The exact address a faulting load or store touched (for si_addr and crash reports).

With the virtual TLB, Unicorn hands our fill callback only the page of a missing access,
and its invalid-memory hooks are not called. Only a fault needs the exact address, so it is
recomputed from the faulting instruction: capstone decodes it, and the arch's `fault.py`
(usermode/arch/<name>/fault.py) works out its memory operand from the registers. If the
result is not on the faulting page, the page address is kept.
"""

from __future__ import annotations

from usermode.engine import capi
from usermode.kernel.memory import Fault

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

CS_MODE_THUMB = 16


def fault_address(p: Process, pc: int, page_addr: int) -> int:
    decoder = p.arch.fault
    if decoder is None or not hasattr(decoder, "address"):
        return page_addr
    try:
        import capstone

        a = p.arch
        mode = a.CS_MODE | (CS_MODE_THUMB if a.THUMB_CPSR_BIT and p.engine.resume_pc() & 1
                            else 0)
        cs = capstone.Cs(a.CS_ARCH, mode)
        cs.detail = True
        insn = next(cs.disasm(p.mem.read_for_debug(pc, a.MAX_INSN_BYTES), pc), None)
        if insn is None:
            return page_addr
        return int(decoder.address(p.engine, insn, page_addr))
    except Exception:
        return page_addr


def cpu_tlb_fault(p: Process, err: int) -> Fault | None:
    """The faulting access of a guest run on the CPU's own TLB, from the instruction."""
    pc = p.engine.pc()
    fetch = err in (capi.UC_ERR_FETCH_UNMAPPED, capi.UC_ERR_FETCH_PROT)
    decoder = p.arch.fault
    addr = pc if fetch else (decoder.access(p, pc) if decoder is not None else None)
    if addr is None:
        return None
    return Fault(addr, 0, p.mem.find(addr) is not None)
