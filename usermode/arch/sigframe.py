"""What every arch's signal frame code shares: the stack the handler runs on, the stack_t it
records, and the register snapshot taken at delivery (the FP/SIMD state comes back from it at
sigreturn, since the frames' own FP records are left zero).

Frame modules (`usermode/arch/<name>/frame.py`) each provide `build(p, t, signo, info, act)`
and `rt_sigreturn(p, t)`, and 32-bit ones with a non-rt frame `sigreturn(p, t)`.
"""

from __future__ import annotations

from usermode.uapi import SA_ONSTACK, SS_DISABLE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process
    from usermode.kernel.signals import Action
    from usermode.kernel.threads import Thread

MAX_SNAPSHOTS = 64  # handlers that siglongjmp never return: keep the newest


class FrameError(Exception):
    """The frame cannot be built (x86_64 without a restorer): as Linux does, the thread is
    forced to die of SIGSEGV."""


def handler_stack(t: Thread, act: Action, sp: int) -> int:
    """The stack the handler runs on: the alternate one with SA_ONSTACK, unless already on it."""
    if act.flags & SA_ONSTACK and t.altstack:
        ss_sp, flags, size = t.altstack
        if not flags & SS_DISABLE and not ss_sp <= sp < ss_sp + size:
            return ss_sp + size
    return sp


def guest_stack_t(p: Process, t: Thread) -> bytes:
    return p.abi.to_guest_stack_t(*t.altstack or (0, SS_DISABLE, 0))


def snapshot(p: Process, t: Thread, frame: int) -> None:
    eng = p.engine
    ctx = eng.new_context()
    eng.save_context(ctx)
    t.sigsnapshots[frame] = ctx
    while len(t.sigsnapshots) > MAX_SNAPSHOTS:
        old = next(iter(t.sigsnapshots))
        eng.free_context(t.sigsnapshots.pop(old))


def restore_snapshot(p: Process, t: Thread, frame: int) -> None:
    ctx = t.sigsnapshots.pop(frame, None)
    if ctx is not None:
        p.engine.restore_context(ctx)
        p.engine.free_context(ctx)


def u64s(data: bytes, n: int) -> list[int]:
    return [int.from_bytes(data[i * 8:i * 8 + 8], "little") for i in range(n)]


def pack64(values: list[int]) -> bytes:
    return b"".join((v & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little") for v in values)
