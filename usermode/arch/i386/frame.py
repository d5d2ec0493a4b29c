"""The i386 signal frames (arch/x86/kernel/signal_32.c): the return address, the signal
number and (rt frames) pointers to siginfo and ucontext on the stack, then the sigcontext
with the general registers and segments. Handlers return through sa_restorer (libc always
sets it) or our trampolines; sigreturn (119) and rt_sigreturn (173) put everything back. FP
state returns from the delivery snapshot."""

from __future__ import annotations

from usermode.arch.i386 import SPEC
from usermode.arch.sigframe import guest_stack_t, handler_stack, restore_snapshot, snapshot
from usermode.uapi import FAULT_SIGNALS, SA_RESTORER, SA_SIGINFO, UNBLOCKABLE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process
    from usermode.kernel.signals import Action
    from usermode.kernel.threads import Thread

# sigcontext: gs fs es ds edi esi ebp esp ebx edx ecx eax trapno err eip cs eflags
# esp_at_signal ss fpstate oldmask cr2 (88 bytes)
SC_ORDER = ("edi", "esi", "ebp", "esp", "ebx", "edx", "ecx", "eax")
SC_REGS = 16  # offset of edi
SC_EIP, SC_EFLAGS, SC_OLDMASK, SC_CR2, SC_SIZE = 56, 64, 80, 84, 88
UC_MCONTEXT, UC_SIGMASK, UC_SIZE = 20, 108, 116
RT_INFO, RT_UC = 16, 144  # rt_sigframe: pretcode, sig, pinfo, puc, info, uc
OLD_SC, OLD_EXTRAMASK = 8, 96  # sigframe: pretcode, sig, sc, extramask (high mask word)
# pop eax; mov eax, 119; int 0x80 | mov eax, 173; int 0x80
TRAMPOLINES = bytes.fromhex("58b877000000cd80" "b8ad000000cd80")
REGS = {n: getattr(SPEC, "REG_" + n.upper()) for n in SC_ORDER}
EIP, EFLAGS = SPEC.REG_EIP, SPEC.REG_EFLAGS


def _sigcontext(p: Process, t: Thread, signo: int, info: bytes) -> bytearray:
    eng = p.engine
    sc = bytearray(SC_SIZE)
    for i, name in enumerate(SC_ORDER):
        sc[SC_REGS + 4 * i:SC_REGS + 4 * i + 4] = (eng.reg(REGS[name]) & 0xFFFFFFFF).to_bytes(
            4, "little")
    sc[SC_EIP:SC_EIP + 4] = (eng.reg(EIP) & 0xFFFFFFFF).to_bytes(4, "little")
    sc[SC_EFLAGS:SC_EFLAGS + 4] = (eng.reg(EFLAGS) & 0xFFFFFFFF).to_bytes(4, "little")
    sc[SC_OLDMASK:SC_OLDMASK + 4] = (t.sigmask & 0xFFFFFFFF).to_bytes(4, "little")
    if signo in FAULT_SIGNALS:
        sc[SC_CR2:SC_CR2 + 4] = info[12:16]
    return sc


def build(p: Process, t: Thread, signo: int, info: bytes, act: Action) -> None:
    eng = p.engine
    rt = bool(act.flags & SA_SIGINFO)
    size = RT_UC + UC_SIZE + 8 if rt else OLD_EXTRAMASK + 4 + 8
    top = handler_stack(t, act, eng.reg(REGS["esp"]))
    frame = ((top - size) & ~15) - 4  # (esp + 4) % 16 == 0 at the handler's entry
    sc = _sigcontext(p, t, signo, info)
    if act.flags & SA_RESTORER and act.restorer:
        ret = act.restorer
    else:
        ret = p.signal_trampoline(TRAMPOLINES) + (8 if rt else 0)
    if rt:
        uc = bytearray(UC_SIZE)
        uc[8:20] = guest_stack_t(p, t)
        uc[UC_MCONTEXT:UC_MCONTEXT + SC_SIZE] = sc
        uc[UC_SIGMASK:UC_SIGMASK + 8] = t.sigmask.to_bytes(8, "little")
        head = b"".join(v.to_bytes(4, "little") for v in (
            ret, signo, frame + RT_INFO, frame + RT_UC))
        snapshot(p, t, frame + RT_UC)
        p.mem.write(frame, head + info + bytes(uc))
        regs = (("eax", signo), ("edx", frame + RT_INFO), ("ecx", frame + RT_UC))
    else:
        snapshot(p, t, frame + OLD_SC)
        p.mem.write(frame, ret.to_bytes(4, "little") + signo.to_bytes(4, "little") + bytes(sc)
                    + (t.sigmask >> 32).to_bytes(4, "little"))
        regs = (("eax", signo), ("edx", 0), ("ecx", 0))
    for name, val in (*regs, ("esp", frame)):
        eng.set_reg(REGS[name], val)
    eng.set_reg(EIP, act.handler)


def _restore(p: Process, t: Thread, sc_addr: int, mask: int, key: int) -> int:
    eng = p.engine
    sc = p.mem.read(sc_addr, SC_SIZE)
    restore_snapshot(p, t, key)
    vals = [int.from_bytes(sc[SC_REGS + 4 * i:SC_REGS + 4 * i + 4], "little")
            for i in range(len(SC_ORDER))]
    for name, val in zip(SC_ORDER, vals, strict=True):
        eng.set_reg(REGS[name], val)
    eng.set_reg(EIP, int.from_bytes(sc[SC_EIP:SC_EIP + 4], "little"))
    flags = int.from_bytes(sc[SC_EFLAGS:SC_EFLAGS + 4], "little")
    eng.set_reg(EFLAGS, (eng.reg(EFLAGS) & ~0x40DD5) | (flags & 0x40DD5))
    t.sigmask = mask & ~UNBLOCKABLE
    return vals[SC_ORDER.index("eax")]


def rt_sigreturn(p: Process, t: Thread) -> int:
    frame = p.engine.reg(REGS["esp"]) - 4  # the handler's ret popped pretcode
    uc = frame + RT_UC
    mask = int.from_bytes(p.mem.read(uc + UC_SIGMASK, 8), "little")
    return _restore(p, t, uc + UC_MCONTEXT, mask, uc)


def sigreturn(p: Process, t: Thread) -> int:
    frame = p.engine.reg(REGS["esp"]) - 8  # ret popped pretcode, the restorer popped sig
    low = int.from_bytes(p.mem.read(frame + OLD_SC + SC_OLDMASK, 4), "little")
    high = int.from_bytes(p.mem.read(frame + OLD_EXTRAMASK, 4), "little")
    return _restore(p, t, frame + OLD_SC, low | high << 32, frame + OLD_SC)
