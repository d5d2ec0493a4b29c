"""brk, mmap, munmap, mprotect, mremap, madvise, msync, mlock family: the address space."""

from __future__ import annotations

import ctypes
import errno
import os
import stat

from syscalls.registry import PARTIAL, syscall
from usermode.host import mm as hostmm
from usermode.host import syscalls as hostsys
from usermode.kernel.errors import Errno
from usermode.kernel.memory import PAGE, PROT_R, PROT_W, PROT_X, page_up
from usermode.uapi import (
    MADV_DONTNEED,
    MADV_FREE,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    PROT_GROWSDOWN,
    PROT_GROWSUP,
)

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process

MAP_32BIT = 0x40  # x86_64 only (on mips 0x40 is another flag)
MAP_32BIT_LO, MAP_32BIT_HI = 0x40000000, 0x80000000
PROT_VALID = PROT_R | PROT_W | PROT_X
MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4
O_ACCMODE, O_WRONLY, O_RDWR = 3, 1, 2


@syscall("brk", args=("ptr",), ret="ptr")
def sys_brk(p: Process, addr: int) -> int:
    return p.mem.brk(addr)


@syscall("mmap", args=("ptr", "size", "int:prot", "int:map_flags", "int:fd", "off"), ret="ptr")
def sys_mmap(p: Process, addr: int, length: int, prot: int, flags: int, fd: int,
             off: int) -> int:
    kind = flags & 0x3
    if kind not in (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE) or length == 0:
        raise Errno(errno.EINVAL)
    if off & (PAGE - 1) or off < 0:
        raise Errno(errno.EINVAL)
    if page_up(length) == 0 or length > p.abi.mask - PAGE:
        raise Errno(errno.ENOMEM)
    shared = kind != MAP_PRIVATE
    fixed = bool(flags & MAP_FIXED)
    noreplace = bool(flags & MAP_FIXED_NOREPLACE)
    prot &= PROT_VALID
    if flags & MAP_32BIT and p.elf.arch == "x86_64" and not (fixed or noreplace):
        addr = _low_2g(p, page_up(length))
        fixed = True
    if flags & MAP_ANONYMOUS:
        return p.mem.map(addr, length, prot, fixed=fixed, noreplace=noreplace, shared=shared)
    st = os.fstat(fd)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise Errno(errno.ENODEV)
    acc = _access_mode(fd)
    if acc == O_WRONLY:
        raise Errno(errno.EACCES)
    # Private pages are copy-on-write, always writable for us; shared ones as the fd allows.
    host_prot = 3 if not shared or acc == O_RDWR else 1
    if shared and acc != O_RDWR and prot & PROT_W:
        raise Errno(errno.EACCES)
    addr = p.mem.map(addr, length, prot, fixed=fixed, noreplace=noreplace, shared=shared,
                     fd=fd, offset=off, name=_fd_name(fd), dev=st.st_dev, ino=st.st_ino,
                     host_prot=host_prot,
                     file_size=st.st_size if stat.S_ISREG(st.st_mode) else None)
    if prot & PROT_X:
        p.code_mapped(addr, addr + length)
    return addr


def _low_2g(p: Process, length: int) -> int:
    """A free range for MAP_32BIT, searched top-down as Linux does."""
    top = MAP_32BIT_HI
    for v in reversed(p.mem.vmas):
        if v.start >= top:
            continue
        if v.end <= top - length and top - length >= MAP_32BIT_LO and \
                p.mem.is_free(top - length, top):
            return top - length
        top = min(top, v.start)
    if top - length >= MAP_32BIT_LO and p.mem.is_free(top - length, top):
        return top - length
    raise Errno(errno.ENOMEM)


def _access_mode(fd: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_GETFL) & O_ACCMODE


def _fd_name(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


@syscall("munmap", args=("ptr", "size"))
def sys_munmap(p: Process, addr: int, length: int) -> int:
    if addr & (PAGE - 1) or length == 0:
        raise Errno(errno.EINVAL)
    p.mem.unmap(addr, length)
    return 0


@syscall("mprotect", args=("ptr", "size", "int:prot"))
def sys_mprotect(p: Process, addr: int, length: int, prot: int) -> int:
    if addr & (PAGE - 1) or prot & ~(PROT_VALID | PROT_GROWSDOWN | PROT_GROWSUP):
        raise Errno(errno.EINVAL)
    p.mem.protect(addr, length, prot & PROT_VALID)
    if prot & PROT_X:
        p.code_mapped(addr, addr + length)
    return 0


@syscall("mremap", args=("ptr", "size", "size", "int:mremap_flags", "ptr"), ret="ptr",
         support=PARTIAL, note="MREMAP_DONTUNMAP unsupported")
def sys_mremap(p: Process, old: int, old_len: int, new_len: int, flags: int, new_addr: int) -> int:
    if flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED) or (flags & MREMAP_FIXED and
                                                    not flags & MREMAP_MAYMOVE):
        raise Errno(errno.EINVAL)
    fixed = new_addr if flags & MREMAP_FIXED else None
    return p.mem.remap(old, old_len, new_len, bool(flags & MREMAP_MAYMOVE), fixed)


@syscall("madvise", args=("ptr", "size", "int:madvise"), support=PARTIAL,
         note="MADV_DONTNEED/MADV_FREE drop pages; other advice is accepted and ignored")
def sys_madvise(p: Process, addr: int, length: int, advice: int) -> int:
    if addr & (PAGE - 1):
        raise Errno(errno.EINVAL)
    if advice in (MADV_DONTNEED, MADV_FREE):
        p.mem.dontneed(addr, length)
    return 0


@syscall("msync", args=("ptr", "size", "int"))
def sys_msync(p: Process, addr: int, length: int, flags: int) -> int:
    if addr & (PAGE - 1):
        raise Errno(errno.EINVAL)
    hostmm.msync(p.mem.host_ptr(addr, max(length, 1)), page_up(length) or PAGE, flags)
    return 0


@syscall("mincore", args=("ptr", "size", "ptr"))
def sys_mincore(p: Process, addr: int, length: int, vec: int) -> int:
    """Which pages are resident: the host's answer for the memory behind each mapping."""
    if addr & (PAGE - 1):
        raise Errno(errno.EINVAL)
    hi = page_up(addr + length)
    if hi < addr:
        raise Errno(errno.ENOMEM)
    pages = (hi - addr) // PAGE
    if not pages:
        return 0
    if not p.mem.is_mapped(addr, hi):
        raise Errno(errno.ENOMEM)
    out = p.mem.view(vec, pages, PROT_W)  # EFAULT before any work, as Linux
    at = 0
    while at < pages:  # mapping by mapping: each has its own host memory
        v = p.mem.find(addr + at * PAGE)
        assert v is not None
        n = min(pages - at, (v.end - (addr + at * PAGE)) // PAGE)
        buf = ctypes.create_string_buffer(n)
        hostsys.syscall(hostsys.NR["mincore"], v.host(addr + at * PAGE), n * PAGE,
                        ctypes.addressof(buf))
        out[at:at + n] = bytes(b & 1 for b in buf.raw)
        at += n
    return 0


# membarrier: guest threads are green threads on one host thread, so every barrier already
# holds when the call is made; what is checked is the API's bookkeeping.
MEMBARRIER_QUERY, MEMBARRIER_GLOBAL, MEMBARRIER_GLOBAL_EXPEDITED = 0, 1, 2
MEMBARRIER_REGISTER_GLOBAL_EXPEDITED, MEMBARRIER_PRIVATE_EXPEDITED = 4, 8
MEMBARRIER_REGISTER_PRIVATE_EXPEDITED = 16
MEMBARRIER_SUPPORTED = (MEMBARRIER_GLOBAL | MEMBARRIER_GLOBAL_EXPEDITED |
                        MEMBARRIER_REGISTER_GLOBAL_EXPEDITED | MEMBARRIER_PRIVATE_EXPEDITED |
                        MEMBARRIER_REGISTER_PRIVATE_EXPEDITED)


@syscall("membarrier", args=("int", "uint", "int"), support=PARTIAL,
         note="query, global and private expedited (every barrier holds: one host thread); "
              "sync-core and rseq commands are EINVAL")
def sys_membarrier(p: Process, cmd: int, flags: int, cpu_id: int) -> int:
    if flags:
        raise Errno(errno.EINVAL)
    if cmd == MEMBARRIER_QUERY:
        return MEMBARRIER_SUPPORTED
    if cmd == MEMBARRIER_REGISTER_PRIVATE_EXPEDITED:
        p.membarrier_private = True
        return 0
    if cmd == MEMBARRIER_PRIVATE_EXPEDITED:
        if not p.membarrier_private:
            raise Errno(errno.EPERM)
        return 0
    if cmd in (MEMBARRIER_GLOBAL, MEMBARRIER_GLOBAL_EXPEDITED,
               MEMBARRIER_REGISTER_GLOBAL_EXPEDITED):
        return 0
    raise Errno(errno.EINVAL)


MLOCK_ONFAULT = 1
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4


@syscall("mlock", "munlock", args=("ptr", "size"), support=PARTIAL,
         note="the range is checked (ENOMEM where it is not all mapped); nothing is pinned")
def sys_mlock(p: Process, addr: int, length: int) -> int:
    lo = addr & ~(PAGE - 1)
    hi = page_up(addr + length)
    if hi < lo or not p.mem.is_mapped(lo, hi):
        raise Errno(errno.ENOMEM)
    return 0


@syscall("mlock2", args=("ptr", "size", "uint"), support=PARTIAL,
         note="the flags and range are checked; nothing is pinned")
def sys_mlock2(p: Process, addr: int, length: int, flags: int) -> int:
    if flags & ~MLOCK_ONFAULT:
        raise Errno(errno.EINVAL)
    return sys_mlock(p, addr, length)


@syscall("mlockall", args=("int",), support=PARTIAL, note="flags checked; nothing is pinned")
def sys_mlockall(p: Process, flags: int) -> int:
    if not flags or flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) or flags == MCL_ONFAULT:
        raise Errno(errno.EINVAL)
    return 0


@syscall("munlockall", args=())
def sys_munlockall(p: Process) -> int:
    return 0

