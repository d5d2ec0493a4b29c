"""The aarch64 signal frame: siginfo, a ucontext whose mcontext holds x0..x30, sp, pc and
pstate with an FPSIMD record header, and a frame record {fp, lr}; without SA_RESTORER the
handler returns to our trampoline page."""

from __future__ import annotations

from usermode.arch.aarch64 import SPEC
from usermode.arch.sigframe import (
    guest_stack_t,
    handler_stack,
    pack64,
    restore_snapshot,
    snapshot,
    u64s,
)
from usermode.uapi import FAULT_SIGNALS, SA_RESTORER, UNBLOCKABLE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process
    from usermode.kernel.signals import Action
    from usermode.kernel.threads import Thread


A64_UC_MCONTEXT = 176
A64_MCONTEXT_SIZE = 288 + 4096
A64_UC_SIZE = A64_UC_MCONTEXT + A64_MCONTEXT_SIZE
A64_FRAME = 128 + A64_UC_SIZE + 16  # siginfo, ucontext, frame record {fp, lr}
FPSIMD_MAGIC, FPSIMD_SIZE = 0x46508001, 528
A64_TRAMPOLINE = bytes.fromhex("681180d2" "010000d4")  # mov x8, #139; svc #0


def build(p: Process, t: Thread, signo: int, info: bytes, act: Action) -> None:
    a, eng = SPEC, p.engine
    regs = [eng.reg(r) for r in a.GPRS]  # x0..x30
    sp, pc, nzcv = eng.reg(a.REG_SP), eng.reg(a.REG_PC), eng.reg(a.REG_NZCV)
    top = handler_stack(t, act, sp)
    frame = (top - A64_FRAME) & ~15
    snapshot(p, t, frame)
    uc = bytearray(A64_UC_SIZE)
    uc[16:40] = guest_stack_t(p, t)
    uc[40:48] = t.sigmask.to_bytes(8, "little")
    m = A64_UC_MCONTEXT
    fault_addr = int.from_bytes(info[16:24], "little") if signo in FAULT_SIGNALS else 0
    uc[m:m + 8] = fault_addr.to_bytes(8, "little")
    uc[m + 8:m + 256] = pack64(regs)
    uc[m + 256:m + 280] = pack64([sp, pc, nzcv])
    r = m + 288
    uc[r:r + 8] = FPSIMD_MAGIC.to_bytes(4, "little") + FPSIMD_SIZE.to_bytes(4, "little")
    record = frame + 128 + A64_UC_SIZE
    p.mem.write(frame, info + bytes(uc) + pack64([regs[29], regs[30]]))
    restorer = act.restorer if act.flags & SA_RESTORER and act.restorer else \
        p.signal_trampoline(A64_TRAMPOLINE)
    for reg, val in ((a.REG_X0, signo), (a.REG_X0 + 1, frame), (a.REG_X0 + 2, frame + 128),
                     (a.REG_SP, frame), (a.REG_X29, record), (a.REG_X30, restorer),
                     (a.REG_PC, act.handler)):
        eng.set_reg(reg, val)


def rt_sigreturn(p: Process, t: Thread) -> int:
    a, eng = SPEC, p.engine
    frame = eng.reg(a.REG_SP)
    raw = p.mem.read(frame + 128, A64_UC_MCONTEXT + 288)
    mask = int.from_bytes(raw[40:48], "little")
    m = A64_UC_MCONTEXT
    regs = u64s(raw[m + 8:m + 256], 31)
    sp, pc, pstate = u64s(raw[m + 256:m + 280], 3)
    restore_snapshot(p, t, frame)
    for reg, val in zip(a.GPRS, regs, strict=True):
        eng.set_reg(reg, val)
    eng.set_reg(a.REG_SP, sp)
    eng.set_reg(a.REG_PC, pc)
    eng.set_reg(a.REG_NZCV, pstate & 0xF0000000)
    t.sigmask = mask & ~UNBLOCKABLE
    return regs[0]
