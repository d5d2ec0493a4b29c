"""arm private syscalls (base 0xf0000): set_tls, get_tls, cacheflush, breakpoint."""

from __future__ import annotations

from syscalls.registry import syscall

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process


@syscall("set_tls", args=("ulong",))
def sys_set_tls(p: Process, tls: int) -> int:
    p.engine.set_reg(p.arch.TLS_REG, tls)  # TPIDRURO, what `mrc p15, 0, rX, c13, c0, 3` reads
    return 0


@syscall("get_tls")
def sys_get_tls(p: Process) -> int:
    return p.engine.reg(p.arch.TLS_REG)


@syscall("cacheflush", args=("ulong", "ulong", "int"))
def sys_cacheflush(p: Process, lo: int, hi: int, _flags: int) -> int:
    if hi > lo:
        p.engine.uc.remove_cache(lo, hi)  # code written by the guest itself: translate anew
    return 0
