"""arch_prctl: x86_64 FS/GS base for TLS; set_thread_area: i386 TLS in GDT entries (and
mips's UserLocal register)."""

from __future__ import annotations

import errno

from syscalls.registry import PARTIAL, syscall
from usermode.arch.i386 import SPEC as I386
from usermode.arch.i386.tls import install_tls
from usermode.arch.x86_64 import SPEC as X86_64
from usermode.kernel.errors import Errno

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004


@syscall("arch_prctl", args=("int:arch_prctl", "ulong"), support=PARTIAL,
         note="ARCH_SET_FS/GET_FS/SET_GS/GET_GS; others EINVAL")
def sys_arch_prctl(p: Process, code: int, addr: int) -> int:
    if p.arch.NAME != "x86_64":  # i386 has the number but no such call
        raise Errno(errno.EINVAL)
    regs = {ARCH_SET_FS: X86_64.REG_FS_BASE, ARCH_GET_FS: X86_64.REG_FS_BASE,
            ARCH_SET_GS: X86_64.REG_GS_BASE, ARCH_GET_GS: X86_64.REG_GS_BASE}
    reg = regs.get(code)
    if reg is None:
        raise Errno(errno.EINVAL)
    if code in (ARCH_SET_FS, ARCH_SET_GS):
        p.engine.set_reg(reg, addr)
        return 0
    p.mem.write(addr, p.abi.pack_word(p.engine.reg(reg)))
    return 0


@syscall("set_thread_area", args=("ptr",), support=PARTIAL,
         note="i386: TLS entries 6-8; mips: the UserLocal register")
def sys_set_thread_area(p: Process, u_info: int) -> int:
    if p.arch.TLS_KIND == "gdt":
        install_tls(p, u_info)
    else:  # mips o32: the value `rdhwr $3, $29` reads
        p.engine.set_reg(p.arch.TLS_REG, u_info)
    return 0


def tls_regs(p: Process, tls: int) -> list[tuple[int, int]]:
    """The registers a new thread gets for clone's CLONE_SETTLS argument: the TLS register
    itself, or on i386 %gs loaded with the GDT entry the user_desc describes."""
    if p.arch.TLS_KIND == "gdt":
        return [(I386.REG_GS, install_tls(p, tls))]
    if p.arch.TLS_REG_LOW is not None:  # s390x: a0 and a1 hold the two halves
        return [(p.arch.TLS_REG, tls >> 32), (p.arch.TLS_REG_LOW, tls & 0xFFFFFFFF)]
    return [(p.arch.TLS_REG, tls)]
