"""Guest syscall number -> registered handler; errors become the guest's return value here.

This is the only place that turns a raised `Errno` (or host `OSError`) into the guest's
return convention and the only place unknown numbers become -ENOSYS (with one warning
per name when asked for).
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from typing import Any

from syscalls import registry, tables
from syscalls.abi import Abi
from syscalls.errors import Errno

Conv = Callable[[int], int]
Entry = tuple[Callable[..., int], tuple[tuple[int, Conv], ...], int, str]


class Dispatcher:
    def __init__(self, arch: str, abi: Abi, proc: Any, *, warn_unsupported: bool = False) -> None:
        self.abi = abi
        self.proc = proc
        self.names = tables.load(arch)
        self.warn_unsupported = warn_unsupported
        self._warned: set[str] = set()
        rows = registry.load_all()
        convs: dict[str, Conv] = {}
        for k in registry.SIGNED32:
            convs[k] = abi.s32
        def fd_conv(v: int) -> int:
            v &= 0xFFFFFFFF
            if v & 0x80000000:  # negative: Python's os would raise ValueError; Linux says EBADF
                raise Errno(errno.EBADF)
            return v

        convs["fd"] = fd_conv
        for k in registry.UNSIGNED32:
            convs[k] = _u32
        for k in registry.SIGNED_WORD:
            convs[k] = abi.sword
        self.table: dict[int, Entry] = {}
        for nr, name in self.names.items():
            row = rows.get(name)
            if row is None or row.handler is None:
                continue
            kinds = [k if not a.endswith(":dirfd") else "int" for k, a in zip(
                row.base_kinds, row.args, strict=True)]
            if abi.wordsize == 4 and registry.WIDE.intersection(kinds):
                handler, nregs = _gather_pairs(row.handler, kinds, convs, abi)
                self.table[nr] = (handler, (), nregs, name)
                continue
            plan = tuple((i, convs[k] if k not in registry.WIDE else abi.sword)
                         for i, k in enumerate(kinds) if k in convs or k in registry.WIDE)
            self.table[nr] = (row.handler, plan, len(row.args), name)
        self.rows = rows
        self.call = self._make_call()

    def name_of(self, nr: int) -> str:
        return self.names.get(nr, f"syscall_{nr}")

    def __call__(self, nr: int, args: list[int]) -> int:
        """Run syscall `nr`; returns the signed result (-errno on failure). May raise Park."""
        return self.call(nr, args)

    def _make_call(self) -> Callable[[int, list[int]], int]:
        """The hot path as a closure over locals (cheaper than a bound __call__)."""
        get = self.table.get
        proc = self.proc
        unknown = self.unknown
        to_guest_errno = self.abi.to_guest_errno

        def call(nr: int, args: list[int]) -> int:
            ent = get(nr)
            if ent is None:
                return unknown(nr)
            fn, plan, n, _name = ent
            a = args[:n]
            try:
                for i, conv in plan:
                    a[i] = conv(a[i])
                return fn(proc, *a)
            except Errno as e:
                return -to_guest_errno(e.errno)
            except OSError as e:
                return -to_guest_errno(e.errno or errno.EIO)
            except (ValueError, OverflowError):
                # Python's own argument checks (a uid out of range, an invalid rlimit
                # resource): the kernel would have said EINVAL.
                return -to_guest_errno(errno.EINVAL)

        return call

    def unknown(self, nr: int) -> int:
        name = self.names.get(nr)
        label = name or str(nr)
        if self.warn_unsupported and label not in self._warned:
            self._warned.add(label)
            text = f"{name} ({nr})" if name else f"{nr}"
            sys.stderr.write(f"usermode: unsupported syscall {text}\n")
        return -self.abi.to_guest_errno(errno.ENOSYS)


def _gather_pairs(fn: Callable[..., int], kinds: list[str], convs: dict[str, Conv],
                  abi: Abi) -> tuple[Callable[..., int], int]:
    """A handler taking 64-bit arguments on a 32-bit ABI: each comes in two registers (the
    first one even-numbered where the ABI aligns pairs); returns (wrapper, registers used)."""
    slots: list[tuple[int, Conv | None, bool]] = []
    r = 0
    for k in kinds:
        if k in registry.WIDE:
            if abi.pair_align and r % 2:
                r += 1
            slots.append((r, None, True))
            r += 2
        else:
            slots.append((r, convs.get(k), False))
            r += 1
    lo_first = abi.little_endian

    def gathered(proc: Any, *regs: int) -> int:
        args = []
        for i, conv, pair in slots:
            if pair:
                lo, hi = (regs[i], regs[i + 1]) if lo_first else (regs[i + 1], regs[i])
                v = (lo & 0xFFFFFFFF) | (hi & 0xFFFFFFFF) << 32
                args.append(v - (1 << 64) if v >> 63 else v)
            else:
                args.append(conv(regs[i]) if conv is not None else regs[i])
        return fn(proc, *args)

    return gathered, r


def _u32(v: int) -> int:
    return v & 0xFFFFFFFF
