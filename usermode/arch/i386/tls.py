"""i386 TLS: a GDT page of our own with flat 32-bit segments, and the TLS entries that
set_thread_area and clone's CLONE_SETTLS write into it."""

from __future__ import annotations

import ctypes
import errno
import struct

from usermode.arch.i386 import SPEC
from usermode.engine import capi
from usermode.uapi import PROT_READ, PROT_WRITE

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process


class _Mmr(ctypes.Structure):  # uc_x86_mmr: a descriptor-table register
    _fields_ = (("selector", ctypes.c_uint16), ("base", ctypes.c_uint64),
                ("limit", ctypes.c_uint32), ("flags", ctypes.c_uint32))


def setup_gdt(p: Process) -> None:
    """Map the GDT page and load GDTR, at start-up (not inside a syscall hook, where mapping
    memory and changing descriptor tables under the running translation block misbehaves)."""
    a = SPEC
    p.mem.map(a.GDT_ADDR, 4096, PROT_READ | PROT_WRITE, fixed=True, name="[gdt]")
    mmr = _Mmr(0, a.GDT_ADDR, 4096 - 1, 0)
    capi.check(capi.uc_reg_write(p.engine.uc.handle, a.REG_GDTR, ctypes.byref(mmr)),
               "uc_reg_write(GDTR)")
    # Flat 4 GiB 32-bit segments, loaded now: Unicorn's start-up segment caches lack the
    # 32-bit (B) flag, and once anything recomputes the CPU's flags from them (after a
    # segment load and an int 0x80) the stack would turn 16-bit. Linux's user CS and DS;
    # SS is a ring-0 copy because Unicorn runs guest code at CPL 0.
    flat = 0x1 | 0x10  # 32-bit, limit in pages
    for entry, dpl in ((15, 3), (17, 0), (14, 3)):
        d = _descriptor(0, 0xFFFFF, flat) & ~(3 << 45) | dpl << 45
        p.mem.write(a.GDT_ADDR + entry * 8, d.to_bytes(8, "little"), force=True)
    for reg, sel in ((a.REG_SS, 17 << 3), (a.REG_DS, 15 << 3 | 3), (a.REG_ES, 15 << 3 | 3),
                     (a.REG_CS, 14 << 3 | 3)):
        p.engine.set_reg(reg, sel)


def _descriptor(base: int, limit: int, flags: int) -> int:
    """A user_desc as the 8-byte segment descriptor Linux writes (fill_ldt)."""
    seg_32bit, contents = flags & 1, (flags >> 1) & 3
    read_exec_only, limit_in_pages = (flags >> 3) & 1, (flags >> 4) & 1
    not_present, useable = (flags >> 5) & 1, (flags >> 6) & 1
    lo = (limit & 0xFFFF) | (base & 0xFFFF) << 16
    hi = ((base >> 16) & 0xFF) | (limit & 0xF0000) | (base & 0xFF000000) | \
        (read_exec_only ^ 1) << 9 | contents << 10 | (not_present ^ 1) << 15 | \
        seg_32bit << 22 | limit_in_pages << 23 | useable << 20 | 0x7000 | 0x100
    return lo | hi << 32


def install_tls(p: Process, u_info: int) -> int:
    """Write the user_desc at `u_info` into our GDT (picking a free TLS entry for -1 and
    writing its number back); returns the entry's selector (RPL 3)."""
    a = SPEC
    raw = p.mem.read(u_info, 16)
    entry, base, limit, flags = (int(v) for v in struct.unpack("<iIII", raw))
    gdt = a.GDT_ADDR
    used = p.gdt_used
    if entry == -1:
        free = [e for e in range(a.GDT_TLS_MIN, a.GDT_TLS_MIN + a.GDT_TLS_ENTRIES)
                if e not in used]
        if not free:
            raise OSError(errno.ESRCH, "no free TLS entry")
        entry = free[0]
        p.mem.write(u_info, struct.pack("<i", entry))
    if not a.GDT_TLS_MIN <= entry < a.GDT_TLS_MIN + a.GDT_TLS_ENTRIES:
        raise OSError(errno.EINVAL, "not a TLS entry")
    used.add(entry)
    p.mem.write(gdt + entry * 8, _descriptor(base, limit, flags).to_bytes(8, "little"),
                force=True)
    return entry << 3 | 3
