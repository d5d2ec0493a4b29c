"""The mips o32 signal frame (arch/mips/kernel/signal.c): four argument save words and two
pad words, siginfo, then a ucontext whose sigcontext holds pc, $0..$31 (as 64-bit slots),
hi and lo. mips has no SA_RESTORER: the handler returns through ra to our trampoline page,
which calls rt_sigreturn. Every handler gets this frame (the old non-rt one only differs in
what a non-SA_SIGINFO handler could find past its first argument). FP state comes back from
the delivery snapshot, as on the other arches; the frame's FP area is left zero."""

from __future__ import annotations

import struct

from usermode.arch.mipsel import SPEC
from usermode.arch.sigframe import guest_stack_t, handler_stack, restore_snapshot, snapshot
from usermode.engine.core import REGISTERS_RESTORED
from usermode.uapi import UNBLOCKABLE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process
    from usermode.kernel.signals import Action
    from usermode.kernel.threads import Thread

INFO = 24  # after u32 ass[4] and u32 pad[2]
UC = INFO + 128
UC_MCONTEXT = 24  # after uc_flags, uc_link, uc_stack
SC_PC, SC_REGS, SC_MDHI, SC_MDLO = 8, 16, 552, 560
UC_SIGMASK = UC_MCONTEXT + 592
FRAME = UC + UC_SIGMASK + 16
TRAMPOLINE = bytes.fromhex("61100224" "0c000000")  # li v0, 4193 (rt_sigreturn); syscall
_REGS = struct.Struct("<32Q")


def build(p: Process, t: Thread, signo: int, info: bytes, act: Action) -> None:
    a, eng = SPEC, p.engine
    regs = [0, *(eng.reg(r) for r in a.GPRS)]  # $0..$31
    top = handler_stack(t, act, regs[29])
    frame = (top - 32 - FRAME) & ~7
    snapshot(p, t, frame)
    uc = bytearray(UC_SIGMASK + 16)
    uc[8:20] = guest_stack_t(p, t)
    m = UC_MCONTEXT
    uc[m + SC_PC:m + SC_PC + 8] = eng.resume_pc().to_bytes(8, "little")
    uc[m + SC_REGS:m + SC_REGS + 256] = _REGS.pack(*(r & 0xFFFFFFFF for r in regs))
    uc[m + SC_MDHI:m + SC_MDHI + 8] = eng.reg(a.REG_HI).to_bytes(8, "little")
    uc[m + SC_MDLO:m + SC_MDLO + 8] = eng.reg(a.REG_LO).to_bytes(8, "little")
    uc[UC_SIGMASK:UC_SIGMASK + 16] = p.abi.to_guest_sigset(t.sigmask)
    p.mem.write(frame, bytes(INFO) + info + bytes(uc))
    for reg, val in ((a.REG_A0, p.abi.sig_to_guest(signo)), (a.REG_A0 + 1, frame + INFO),
                     (a.REG_A0 + 2, frame + UC), (a.REG_SP, frame),
                     (a.REG_RA, p.signal_trampoline(TRAMPOLINE)), (a.REG_T9, act.handler),
                     (a.REG_PC, act.handler)):
        eng.set_reg(reg, val)


def rt_sigreturn(p: Process, t: Thread) -> int:
    a, eng = SPEC, p.engine
    frame = eng.reg(a.REG_SP)
    raw = p.mem.read(frame + UC, UC_SIGMASK + 16)
    m = UC_MCONTEXT
    regs = _REGS.unpack_from(raw, m + SC_REGS)
    restore_snapshot(p, t, frame)
    eng.set_reg(a.REG_PC, int.from_bytes(raw[m + SC_PC:m + SC_PC + 8], "little"))
    for reg, val in zip(a.GPRS, regs[1:], strict=True):
        eng.set_reg(reg, val & 0xFFFFFFFF)
    eng.set_reg(a.REG_HI, int.from_bytes(raw[m + SC_MDHI:m + SC_MDHI + 4], "little"))
    eng.set_reg(a.REG_LO, int.from_bytes(raw[m + SC_MDLO:m + SC_MDLO + 4], "little"))
    t.sigmask = p.abi.from_guest_sigset(raw[UC_SIGMASK:UC_SIGMASK + 16]) & ~UNBLOCKABLE
    return REGISTERS_RESTORED  # v0 and a3 are the interrupted code's: write neither
