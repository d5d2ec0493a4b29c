"""The guest's registers as gdb numbers them: the target description (`target.xml`) built
from the arch's data (usermode/arch/<arch>/gdb.py), and the `g`/`p` packet bytes read from
and written to the engine."""

from __future__ import annotations

import ctypes

from usermode.engine import capi
from usermode.host.lean import import_module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple

    from usermode.arch.spec import ArchSpec
    from usermode.engine.core import Engine
else:
    from loaders.records import NamedTuple


class Register(NamedTuple):
    name: str
    bits: int
    type: str
    uc: int | None  # Unicorn's id; None: no such state here, reads as zero, writes ignored
    regnum: int


class Target:
    """One arch's register set: the description gdb reads, and the packet layout."""

    def __init__(self, arch: ArchSpec) -> None:
        data = import_module(f"usermode.arch.{arch.FAMILY or arch.NAME}.gdb")
        regs: list[Register] = []
        features: list[tuple[str, list[Register]]] = []
        n = 0
        for feature, entries in data.FEATURES:
            these = []
            for name, bits, type_, uc, regnum in entries:
                n = n if regnum is None else regnum
                these.append(Register(name, bits, type_, uc, n))
                n += 1
            features.append((feature, these))
            regs.extend(these)
        # the `g` packet holds the registers in the order of their numbers
        self.regs = sorted(regs, key=lambda r: r.regnum)
        self.by_num = {r.regnum: r for r in regs}
        self.pc = next(r for r in regs if r.name in ("pc", "rip", "eip", "pswa"))
        self.xml = _describe(data.ARCHITECTURE, data.TYPES, features).encode()
        self.big = not arch.LITTLE_ENDIAN  # gdb wants the target's byte order (s390x)
        self._buf = (ctypes.c_uint8 * 64)()
        self._ref = ctypes.byref(self._buf)
        # `g` reads every register with one Unicorn call: 64 bytes of room for each
        real = [r for r in self.regs if r.uc is not None]
        self._all = (ctypes.c_uint8 * (64 * len(real)))()
        base = ctypes.addressof(self._all)
        self._all_ids = (ctypes.c_int * len(real))(*(r.uc for r in real if r.uc is not None))
        self._all_ptrs = (ctypes.c_void_p * len(real))(*(base + 64 * i
                                                          for i in range(len(real))))
        self._slots = [(r.bits // 8, None if r.uc is None else 64 * real.index(r))
                       for r in self.regs]

    # ---- one register --------------------------------------------------------------------------
    def read(self, eng: Engine, reg: Register) -> bytes:
        """The register's bytes, little-endian, as gdb wants them."""
        size = reg.bits // 8
        if reg.uc is None:
            return bytes(size)
        ctypes.memset(self._ref, 0, 64)
        capi.uc_reg_read(eng.uc.handle, reg.uc, self._ref)
        value = bytes(self._buf[:size])
        return value[::-1] if self.big else value

    def write(self, eng: Engine, reg: Register, value: bytes) -> None:
        if reg.uc is None or len(value) != reg.bits // 8:
            return
        if self.big:
            value = value[::-1]
        ctypes.memset(self._ref, 0, 64)
        ctypes.memmove(self._ref, value, len(value))
        capi.uc_reg_write(eng.uc.handle, reg.uc, self._ref)

    # ---- the whole set ---------------------------------------------------------------------------
    def read_all(self, eng: Engine) -> bytes:
        n = len(self._all_ids)
        ctypes.memset(self._all, 0, len(self._all))
        capi.uc_reg_read_batch(eng.uc.handle, self._all_ids, self._all_ptrs, n)
        raw = bytes(self._all)
        if self.big:
            return b"".join(bytes(size) if off is None else raw[off:off + size][::-1]
                            for size, off in self._slots)
        return b"".join(bytes(size) if off is None else raw[off:off + size]
                        for size, off in self._slots)

    def write_all(self, eng: Engine, data: bytes) -> None:
        """`G`: only the registers whose value changes are written (a segment register or
        a flag word written back unchanged could still have side effects)."""
        off = 0
        for r in self.regs:
            size = r.bits // 8
            value = data[off:off + size]
            off += size
            if len(value) == size and value != self.read(eng, r):
                self.write(eng, r, value)


def _describe(arch: str, types: str, features: list[tuple[str, list[Register]]]) -> str:
    out = ['<?xml version="1.0"?>', '<!DOCTYPE target SYSTEM "gdb-target.dtd">', "<target>",
           f"<architecture>{arch}</architecture>", "<osabi>GNU/Linux</osabi>"]
    for name, regs in features:
        out.append(f'<feature name="{name}">')
        if types.strip():
            out.append(types.strip())  # gdb looks a type up in its own feature only
        out.extend(f'<reg name="{r.name}" bitsize="{r.bits}" type="{r.type}" '
                   f'regnum="{r.regnum}"/>' for r in regs)
        out.append("</feature>")
    out.append("</target>")
    return "\n".join(out) + "\n"
