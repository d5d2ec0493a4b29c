"""The records of the guest address space: host backings, guest mappings (`Vma`) and the
last refused access (`Fault`). The address space itself is usermode/kernel/memory.py."""

from __future__ import annotations

from usermode.host import mm as hostmm


class Backing:
    """A reserved host range registered with Unicorn as guest [lo, hi)."""

    __slots__ = ("hi", "host", "lo", "mv")

    def __init__(self, lo: int, hi: int, host: int) -> None:
        self.lo, self.hi, self.host = lo, hi, host
        self.mv = hostmm.view(host, hi - lo)


class Vma:
    """One guest mapping, as /proc/self/maps would show it."""

    __slots__ = ("backing", "dev", "end", "ino", "maywrite", "name", "offset", "past_eof", "prot",
                 "rec", "shared", "shown", "start")

    def __init__(self, start: int, end: int, prot: int, shared: bool, backing: Backing,
                 name: str = "", offset: int = 0, dev: int = 0, ino: int = 0,
                 maywrite: bool = True) -> None:
        self.start, self.end, self.prot, self.shared = start, end, prot, shared
        self.backing = backing
        self.name = name  # path, "[heap]", "[stack]" or ""
        self.offset = offset  # file offset of `start`
        self.dev, self.ino = dev, ino
        # False for a shared mapping of a file opened read-only: the host pages are read-only
        # and mprotect(PROT_WRITE) must fail with EACCES, as on Linux.
        self.maywrite = maywrite
        # the protection the guest asked for, as /proc/self/maps shows it: a PROT_WRITE-only
        # mapping is "-w-" there, though the hardware (and `prot`) lets it be read too
        self.shown = prot
        # whole pages of a file mapping past the file's end (when it was mapped): an access is
        # SIGBUS, as on Linux. They are zero pages of ours with `prot` 0, never the host's file
        # pages, which would raise SIGBUS in the emulator itself when it reads them.
        self.past_eof = False
        # its record in the compiled core's copy of the map, made when it is first listed
        # there (a listed mapping's prot never changes: mprotect makes new pieces; a merge
        # that extends it clears the record)
        self.rec: bytes | None = None

    def piece(self, lo: int, hi: int) -> Vma:
        """The part [lo, hi) of this mapping, with the same attributes."""
        v = Vma(lo, hi, self.prot, self.shared, self.backing, self.name,
                self.offset + (lo - self.start), self.dev, self.ino, self.maywrite)
        v.shown = self.shown
        v.past_eof = self.past_eof
        return v

    def host(self, addr: int) -> int:
        return self.backing.host + (addr - self.backing.lo)


class Fault:
    """The last access the TLB fill refused (for si_addr and si_code)."""

    __slots__ = ("access", "addr", "mapped")

    def __init__(self, addr: int, access: int, mapped: bool) -> None:
        self.addr = addr
        self.access = access  # capi.UC_MEM_READ / WRITE / FETCH
        self.mapped = mapped  # True: permission fault (SEGV_ACCERR); False: SEGV_MAPERR
