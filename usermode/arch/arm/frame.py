"""The arm (EABI) signal frames (arch/arm/kernel/signal.c): an SA_SIGINFO handler gets
siginfo + ucontext and returns through rt_sigreturn; any other handler gets the old frame
(ucontext alone) and returns through sigreturn. The ucontext's sigcontext holds r0..r15 and
CPSR; FP/NEON state comes back from the delivery snapshot (the VFP record is left empty).
A handler's address with bit 0 set runs in Thumb state, as `bx` would enter it."""

from __future__ import annotations

from usermode.arch.arm import SPEC
from usermode.arch.sigframe import guest_stack_t, handler_stack, restore_snapshot, snapshot
from usermode.uapi import FAULT_SIGNALS, SA_RESTORER, SA_SIGINFO, UNBLOCKABLE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process
    from usermode.kernel.signals import Action
    from usermode.kernel.threads import Thread

UC_MCONTEXT, UC_SIGMASK, UC_SIZE = 20, 104, 744  # uc_regspace (512 bytes) at 232
SC_R0, SC_CPSR, SC_FAULT = 12, 76, 80  # sigcontext: trap_no, error_code, oldmask, r0..pc
RETCODE = 16
# mov r7, #119; svc 0 (sigreturn) and mov r7, #173; svc 0 (rt_sigreturn), ARM state
TRAMPOLINES = bytes.fromhex("7770a0e3" "000000ef" "ad70a0e3" "000000ef")


def _words(data: bytes, n: int) -> list[int]:
    return [int.from_bytes(data[i * 4:i * 4 + 4], "little") for i in range(n)]


def build(p: Process, t: Thread, signo: int, info: bytes, act: Action) -> None:
    a, eng = SPEC, p.engine
    regs = [eng.reg(r) for r in a.GPRS]  # r0..r12, sp, lr
    pc, cpsr = eng.reg(a.REG_PC), eng.reg(a.REG_CPSR)
    rt = bool(act.flags & SA_SIGINFO)
    size = (128 if rt else 0) + UC_SIZE + RETCODE
    frame = (handler_stack(t, act, regs[13]) - size) & ~7
    uc_addr = frame + (128 if rt else 0)
    snapshot(p, t, uc_addr)
    uc = bytearray(UC_SIZE)
    uc[8:20] = guest_stack_t(p, t)
    sc = UC_MCONTEXT
    uc[sc + 8:sc + 12] = (t.sigmask & 0xFFFFFFFF).to_bytes(4, "little")  # oldmask
    uc[sc + SC_R0:sc + SC_CPSR] = b"".join(
        (v & 0xFFFFFFFF).to_bytes(4, "little") for v in (*regs, pc))
    uc[sc + SC_CPSR:sc + SC_FAULT] = cpsr.to_bytes(4, "little")
    if signo in FAULT_SIGNALS:
        uc[sc + SC_FAULT:sc + SC_FAULT + 4] = info[12:16]  # si_addr (4 bytes on 32-bit)
    uc[UC_SIGMASK:UC_SIGMASK + 8] = t.sigmask.to_bytes(8, "little")
    p.mem.write(frame, (info if rt else b"") + bytes(uc))
    if act.flags & SA_RESTORER and act.restorer:
        ret = act.restorer
    else:
        ret = p.signal_trampoline(TRAMPOLINES) + (8 if rt else 0)
    for reg, val in ((a.REG_R0, signo), (a.REG_R0 + 1, frame if rt else 0),
                     (a.REG_R0 + 2, uc_addr if rt else 0), (a.REG_SP, frame),
                     (a.REG_LR, ret), (a.REG_PC, act.handler)):  # PC bit 0: Thumb
        eng.set_reg(reg, val)


def _restore(p: Process, t: Thread, uc_addr: int) -> int:
    a, eng = SPEC, p.engine
    raw = p.mem.read(uc_addr, UC_SIZE)
    sc = UC_MCONTEXT
    vals = _words(raw[sc + SC_R0:sc + SC_FAULT], 17)  # r0..r12, sp, lr, pc, cpsr
    mask = int.from_bytes(raw[UC_SIGMASK:UC_SIGMASK + 8], "little")
    restore_snapshot(p, t, uc_addr)
    for reg, val in zip(a.GPRS, vals[:15], strict=True):
        eng.set_reg(reg, val)
    thumb = vals[16] & a.THUMB_CPSR_BIT
    eng.set_reg(a.REG_CPSR, (eng.reg(a.REG_CPSR) & ~0xF80F0000) | (vals[16] & 0xF80F0000))
    eng.set_reg(a.REG_PC, vals[15] | (1 if thumb else 0))  # bit 0 restores the Thumb state
    t.sigmask = mask & ~UNBLOCKABLE
    return vals[0]


def rt_sigreturn(p: Process, t: Thread) -> int:
    return _restore(p, t, p.engine.reg(SPEC.REG_SP) + 128)


def sigreturn(p: Process, t: Thread) -> int:
    return _restore(p, t, p.engine.reg(SPEC.REG_SP))
