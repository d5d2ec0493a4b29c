"""The s390x signal frame (arch/s390/kernel/signal.c, rt_sigframe): 160 bytes the handler may
use as its callee's save area (the first word the back chain to the interrupted frame), the
svc a handler without SA_RESTORER would return through, the siginfo, then an extended
ucontext whose mcontext holds the PSW, r0-r15 and the access registers, big-endian. The FP
and vector records are left zero: that state comes back from the delivery snapshot, as on
the other arches."""

from __future__ import annotations

from usermode.arch.s390x import SPEC
from usermode.arch.sigframe import guest_stack_t, handler_stack, restore_snapshot, snapshot
from usermode.uapi import SA_RESTORER, UNBLOCKABLE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process
    from usermode.kernel.signals import Action
    from usermode.kernel.threads import Thread

CALLEE_AREA = 160  # __SIGNAL_FRAMESIZE
INFO = 168  # after the 2-byte svc, 8-aligned
UC = INFO + 128
UC_MCONTEXT = 40  # uc_flags, uc_link, uc_stack (24)
SIGREGS = 16 + 16 * 8 + 16 * 4 + 8 + 16 * 8  # psw, gprs, acrs, fpc and fprs: 344
UC_SIGMASK = UC_MCONTEXT + SIGREGS
UC_SIZE = UC_SIGMASK + 128 + 512  # the mask and its padding, then the vector registers
FRAME = UC + UC_SIZE
RT_SIGRETURN = 173
TRAMPOLINE = bytes((0x0A, RT_SIGRETURN))  # svc 173
PSW_MASK_64 = 0x180000000  # EA and BA: 64-bit addressing, as Linux forces for a handler
REG_A = 49  # a0; a1..a15 follow


def _be(values: list[int], size: int) -> bytes:
    return b"".join((v & ((1 << 8 * size) - 1)).to_bytes(size, "big") for v in values)


def build(p: Process, t: Thread, signo: int, info: bytes, act: Action) -> None:
    a, eng = SPEC, p.engine
    gprs = [eng.reg(r) for r in a.GPRS]
    acrs = [eng.reg(REG_A + i) for i in range(16)]
    pc, mask = eng.reg(a.REG_PC), eng.reg(a.REG_PSWM)
    top = handler_stack(t, act, gprs[15])
    frame = (top - FRAME) & ~7
    snapshot(p, t, frame)
    raw = bytearray(FRAME)
    raw[0:8] = gprs[15].to_bytes(8, "big")  # the back chain
    raw[CALLEE_AREA:CALLEE_AREA + 2] = TRAMPOLINE
    raw[INFO:INFO + 128] = info
    uc = UC
    raw[uc + 16:uc + 40] = guest_stack_t(p, t)
    m = uc + UC_MCONTEXT
    raw[m:m + 16] = _be([mask, pc], 8)
    raw[m + 16:m + 144] = _be(gprs, 8)
    raw[m + 144:m + 208] = _be(acrs, 4)
    raw[uc + UC_SIGMASK:uc + UC_SIGMASK + 8] = t.sigmask.to_bytes(8, "big")
    p.mem.write(frame, bytes(raw))
    restorer = act.restorer if act.flags & SA_RESTORER and act.restorer else \
        p.signal_trampoline(TRAMPOLINE)
    for reg, val in ((a.REG_R2, signo), (a.REG_R2 + 1, frame + INFO), (a.REG_R2 + 2, frame + UC),
                     (a.REG_R14, restorer), (a.REG_R15, frame), (a.REG_PSWM, mask | PSW_MASK_64),
                     (a.REG_PC, act.handler)):
        eng.set_reg(reg, val)


def rt_sigreturn(p: Process, t: Thread) -> int:
    a, eng = SPEC, p.engine
    frame = eng.reg(a.REG_R15)
    m = frame + UC + UC_MCONTEXT
    raw = p.mem.read(m, SIGREGS)
    mask = int.from_bytes(p.mem.read(frame + UC + UC_SIGMASK, 8), "big")
    psw_mask, pc = (int.from_bytes(raw[i:i + 8], "big") for i in (0, 8))
    gprs = [int.from_bytes(raw[16 + 8 * i:24 + 8 * i], "big") for i in range(16)]
    acrs = [int.from_bytes(raw[144 + 4 * i:148 + 4 * i], "big") for i in range(16)]
    restore_snapshot(p, t, frame)
    eng.set_reg(a.REG_PSWM, psw_mask | PSW_MASK_64)
    eng.set_reg(a.REG_PC, pc)
    for reg, val in zip(a.GPRS, gprs, strict=True):
        eng.set_reg(reg, val)
    for i, val in enumerate(acrs):
        eng.set_reg(REG_A + i, val)
    t.sigmask = mask & ~UNBLOCKABLE
    return gprs[2]
sigreturn = rt_sigreturn  # musl's restorer for plain handlers (svc 119) finds the same frame
