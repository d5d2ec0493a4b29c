"""The x86_64 signal frame: the restorer address, a ucontext whose mcontext is the
sigcontext (r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags), then siginfo."""

from __future__ import annotations

from usermode.arch.sigframe import (
    FrameError,
    guest_stack_t,
    handler_stack,
    pack64,
    restore_snapshot,
    snapshot,
    u64s,
)
from usermode.arch.x86_64 import SPEC
from usermode.uapi import FAULT_SIGNALS, SA_RESTORER, UNBLOCKABLE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process
    from usermode.kernel.signals import Action
    from usermode.kernel.threads import Thread


# sigcontext order: r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags
X64_ORDER = ("R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15", "RDI", "RSI", "RBP", "RBX",
             "RDX", "RAX", "RCX", "RSP", "RIP", "EFLAGS")
X64_IDS = {n: getattr(SPEC, "REG_" + n) for n in X64_ORDER}
X64_UC_MCONTEXT, X64_UC_SIGMASK, X64_UC_SIZE = 40, 296, 304


def build(p: Process, t: Thread, signo: int, info: bytes, act: Action) -> None:
    eng = p.engine
    if not act.flags & SA_RESTORER or not act.restorer:
        raise FrameError("no sa_restorer")  # x86_64 has no kernel trampoline
    vals = [eng.reg(X64_IDS[n]) for n in X64_ORDER]
    sp = vals[15]
    top = handler_stack(t, act, sp - 128)  # skip the red zone
    frame = ((top - (8 + X64_UC_SIZE + 128)) & ~15) - 8  # (rsp + 8) % 16 == 0 at entry
    snapshot(p, t, frame + 8)
    uc = bytearray(X64_UC_SIZE)
    uc[16:40] = guest_stack_t(p, t)
    m = X64_UC_MCONTEXT
    uc[m:m + 8 * 18] = pack64(vals)
    uc[m + 144:m + 146] = (0x33).to_bytes(2, "little")  # cs
    if signo in FAULT_SIGNALS:
        uc[m + 176:m + 184] = info[16:24]  # cr2: the fault address
    uc[X64_UC_SIGMASK:X64_UC_SIGMASK + 8] = t.sigmask.to_bytes(8, "little")
    p.mem.write(frame, act.restorer.to_bytes(8, "little") + bytes(uc) + info)
    for name, val in (("RDI", signo), ("RSI", frame + 8 + X64_UC_SIZE), ("RDX", frame + 8),
                      ("RAX", 0), ("RSP", frame), ("RIP", act.handler)):
        eng.set_reg(X64_IDS[name], val)


def rt_sigreturn(p: Process, t: Thread) -> int:
    eng = p.engine
    uc_addr = eng.reg(X64_IDS["RSP"])  # the handler's ret popped the restorer address
    raw = p.mem.read(uc_addr, X64_UC_SIZE)
    vals = u64s(raw[X64_UC_MCONTEXT:X64_UC_MCONTEXT + 8 * 18], 18)
    mask = int.from_bytes(raw[X64_UC_SIGMASK:X64_UC_SIGMASK + 8], "little")
    restore_snapshot(p, t, uc_addr)
    for name, val in zip(X64_ORDER, vals, strict=True):
        if name == "EFLAGS":
            val = (eng.reg(X64_IDS[name]) & ~0x40DD5) | (val & 0x40DD5)
        eng.set_reg(X64_IDS[name], val)
    t.sigmask = mask & ~UNBLOCKABLE
    return vals[13]  # rax
