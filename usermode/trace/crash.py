"""One-line reports of fatal guest faults, with the faulting instruction disassembled."""

from __future__ import annotations

from usermode.kernel.fatal import SIGNAMES

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.engine.core import GuestFault
    from usermode.kernel.process import Process



def disassemble(proc: Process, pc: int) -> str:
    try:
        import capstone  # imported only here: it costs start-up time

        arch, mode = proc.arch.CS_ARCH, proc.arch.CS_MODE
        code = b""
        for n in (16, 8, 4):  # near the end of a mapping fewer bytes are readable
            try:
                code = proc.mem.read_for_debug(pc, n)
                break
            except Exception:
                continue
        if proc.engine.thumb():
            mode = capstone.CS_MODE_THUMB
        md = capstone.Cs(arch, mode)
        for insn in md.disasm(code, pc):
            return f"{insn.mnemonic} {insn.op_str}".strip()
        return "(undecodable: " + code[:4].hex() + ")"
    except Exception:
        return "(code not readable)"


def describe(proc: Process, f: GuestFault) -> str:
    name = SIGNAMES.get(f.signo, f"signal {f.signo}")
    where = f"pc 0x{f.pc:x}"
    if f.addr is not None:
        where += f", address 0x{f.addr:x}" + (f" ({f.code})" if f.code else "")
    return f"usermode: {proc.argv[0]}: {name} at {where}: {disassemble(proc, f.pc)}"
