"""arch_prctl: x86_64 FS/GS base for TLS."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from syscalls.errors import Errno
from syscalls.registry import PARTIAL, syscall

if TYPE_CHECKING:
    from usermode.process import Process

ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004


@syscall("arch_prctl", args=("int:arch_prctl", "ulong"), support=PARTIAL,
         note="ARCH_SET_FS/GET_FS/SET_GS/GET_GS; others EINVAL")
def sys_arch_prctl(p: Process, code: int, addr: int) -> int:
    regs = {ARCH_SET_FS: p.arch.REG_FS_BASE, ARCH_GET_FS: p.arch.REG_FS_BASE,
            ARCH_SET_GS: p.arch.REG_GS_BASE, ARCH_GET_GS: p.arch.REG_GS_BASE}
    reg = regs.get(code)
    if reg is None:
        raise Errno(errno.EINVAL)
    if code in (ARCH_SET_FS, ARCH_SET_GS):
        p.engine.set_reg(reg, addr)
        return 0
    p.mem.write(addr, p.abi.pack_word(p.engine.reg(reg)))
    return 0
