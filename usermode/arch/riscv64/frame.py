"""The riscv64 signal frame (arch/riscv/kernel/signal.c): siginfo, then a ucontext whose
mcontext holds pc and x1..x31 (the FP record is present but zero: FP state comes back from
the delivery snapshot, as on the other arches). riscv has no SA_RESTORER: the handler returns
through ra to our trampoline page."""

from __future__ import annotations

from usermode.arch.riscv64 import SPEC
from usermode.arch.sigframe import (
    guest_stack_t,
    handler_stack,
    pack64,
    restore_snapshot,
    snapshot,
    u64s,
)
from usermode.uapi import UNBLOCKABLE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process
    from usermode.kernel.signals import Action
    from usermode.kernel.threads import Thread

RV_UC_SIGMASK, RV_UC_MCONTEXT = 40, 176
RV_MCONTEXT_SIZE = 784  # user_regs_struct (256) + the FP state union (528)
RV_UC_SIZE = RV_UC_MCONTEXT + RV_MCONTEXT_SIZE
RV_FRAME = 128 + RV_UC_SIZE
RV_TRAMPOLINE = bytes.fromhex("9308b008" "73000000")  # li a7, 139; ecall


def build(p: Process, t: Thread, signo: int, info: bytes, act: Action) -> None:
    a, eng = SPEC, p.engine
    regs = [eng.reg(r) for r in a.GPRS]  # x1..x31
    pc = eng.reg(a.REG_PC)
    top = handler_stack(t, act, regs[1])
    frame = (top - RV_FRAME) & ~15
    snapshot(p, t, frame)
    uc = bytearray(RV_UC_SIZE)
    uc[16:40] = guest_stack_t(p, t)
    uc[RV_UC_SIGMASK:RV_UC_SIGMASK + 8] = t.sigmask.to_bytes(8, "little")
    m = RV_UC_MCONTEXT
    uc[m:m + 256] = pack64([pc, *regs])
    p.mem.write(frame, info + bytes(uc))
    for reg, val in ((a.REG_A0, signo), (a.REG_A0 + 1, frame), (a.REG_A0 + 2, frame + 128),
                     (a.REG_SP, frame), (a.REG_RA, p.signal_trampoline(RV_TRAMPOLINE)),
                     (a.REG_PC, act.handler)):
        eng.set_reg(reg, val)


def rt_sigreturn(p: Process, t: Thread) -> int:
    a, eng = SPEC, p.engine
    frame = eng.reg(a.REG_SP)
    raw = p.mem.read(frame + 128, RV_UC_MCONTEXT + 256)
    mask = int.from_bytes(raw[RV_UC_SIGMASK:RV_UC_SIGMASK + 8], "little")
    vals = u64s(raw[RV_UC_MCONTEXT:RV_UC_MCONTEXT + 256], 32)
    restore_snapshot(p, t, frame)
    eng.set_reg(a.REG_PC, vals[0])
    for reg, val in zip(a.GPRS, vals[1:], strict=True):
        eng.set_reg(reg, val)
    t.sigmask = mask & ~UNBLOCKABLE
    return vals[10]  # a0 (x10)
