"""The guest address space: guest mappings backed by host memory.

Design (measured on Unicorn 2.1.4):
- Host memory is reserved in a few large *backings* (PROT_NONE, MAP_NORESERVE), each
  registered once with `uc_mem_map_ptr`. Guest mmap/munmap/mprotect never add, split or
  remove Unicorn regions: splitting regions is slow and unmapping from inside a hook is
  unsafe with the virtual TLB.
- The engine runs with a virtual TLB whose fill callback (`tlb_fill`) consults our list of
  guest mappings (`Vma`). It is the single authority on what is mapped and with which
  permissions; a refused fill records the fault address for SIGSEGV reporting.
- Changing a mapping = host mmap on the backing's pages + a TLB flush (+ dropping
  translated code where executable pages changed).
- Handlers reach guest memory through memoryview slices of the backing: zero copies.
"""

from __future__ import annotations

import errno
import struct
from _bisect import bisect_right  # (bisect.py only re-exports it)

from loaders.image import PAGE, page_down, page_up
from usermode.engine import capi
from usermode.host import mm as hostmm
from usermode.kernel.errors import Errno
from usermode.kernel.vma import Backing, Fault, Vma
from usermode.uapi import MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_SHARED, PROT_READ, PROT_WRITE
from usermode.uapi import PROT_EXEC as PROT_X
from usermode.uapi import PROT_READ as PROT_R
from usermode.uapi import PROT_WRITE as PROT_W

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["PAGE", "PAGE_MASK", "PROT_R", "PROT_W", "PROT_X", "AddressSpace", "Backing", "Fault",
           "Vma", "page_down", "page_up"]

PAGE_MASK = ~(PAGE - 1)
_VMA_RECORD = struct.Struct("<QQqQ")  # what the compiled core's set_map takes

TLB_MAX_ENTRIES = 1 << 22  # QEMU's dynamic TLB stops growing here
# mips (region permissions): the size of the Unicorn regions a backing is handed over in.
# A permission change costs in proportion to its region's size, and every map costs in
# proportion to the number of regions; 64 MiB measured best (16 MiB and 256 MiB: 20% slower)
REGION_CHUNK = 64 << 20
_NEED = {capi.UC_MEM_READ: PROT_R, capi.UC_MEM_WRITE: PROT_W, capi.UC_MEM_FETCH: PROT_X}


def _split_at(pieces: list[tuple[int, int, Backing]], at: int
              ) -> list[tuple[int, int, Backing]]:
    """`pieces` (lo, hi, backing) with the one that contains `at` cut there."""
    return [q for lo, hi, b in pieces
            for q in (((lo, at, b), (at, hi, b)) if lo < at < hi else ((lo, hi, b),))]


_NO_BACKING = Backing.__new__(Backing)
_NO_VMA = Vma(0, 0, 0, False, _NO_BACKING)


class AddressSpace:
    def __init__(self, uc: capi.Uc, *, arena_lo: int, arena_hi: int, mmap_top: int,
                 task_size: int = 1 << 64, region_perms: bool = False) -> None:
        self.uc = uc
        # With the CPU's own TLB (mips: see engine/arch/mipsel.py) no fill callback checks
        # protections, so Unicorn's region permissions carry them: a hole is PROT_NONE.
        self.region_perms = region_perms
        self.task_size = task_size
        self.vmas: list[Vma] = []
        self._starts: list[int] = []
        self._fills = 0  # TLB misses since the last growth flush (see _grow_tlb)
        self._tlb_size = 256  # the engine's TLB entries, as QEMU starts and doubles it
        self._tlb_grow_at = 4 * self._tlb_size
        self.backings: list[Backing] = []
        self.mmap_top = mmap_top
        self.arena_lo = arena_lo
        self.brk_start = 0
        self.brk_cur = 0
        self._fault: Fault | None = None
        self._core: Any = None  # the compiled core, which then does the TLB fill
        self.add_backing(arena_lo, arena_hi)
        self._last = _NO_VMA  # the mapping the previous view() hit: syscalls reuse buffers

    # ---- backings ----------------------------------------------------------------------------
    def add_backing(self, lo: int, hi: int) -> Backing:
        host = hostmm.reserve(hi - lo)
        if self.region_perms:
            # one host reservation, handed to Unicorn in regions of REGION_CHUNK: a
            # permission change splits (copies the bookkeeping of) the region it falls in,
            # at a cost that grows with the region's size (20 ms in a 1.4 GiB one)
            for a in range(lo, hi, REGION_CHUNK):
                e = min(hi, a + REGION_CHUNK)
                self.uc.mem_map_ptr(a, e - a, capi.UC_PROT_NONE, host + (a - lo))
        else:
            self.uc.mem_map_ptr(lo, hi - lo, capi.UC_PROT_ALL, host)
        b = Backing(lo, hi, host)
        self.backings.append(b)
        self.backings.sort(key=lambda x: x.lo)
        return b

    def release(self) -> None:
        """Give every backing back to the host (execve: the old image goes away)."""
        for b in self.backings:
            hostmm.munmap(b.host, b.hi - b.lo)
        self.backings.clear()
        self.vmas.clear()
        self._starts.clear()

    def _backing_for(self, addr: int) -> Backing | None:
        for b in self.backings:
            if b.lo <= addr < b.hi:
                return b
        return None

    def one_backing(self, lo: int, hi: int) -> bool:
        """Whether [lo, hi) would lie in one host reservation (shmat needs one piece)."""
        b = self._backing_for(lo)
        if b is not None:
            return hi <= b.hi
        return hi <= min((x.lo for x in self.backings if x.lo > lo), default=hi)

    def _ensure_backed(self, lo: int, hi: int) -> list[tuple[int, int, Backing]]:
        """Split [lo, hi) into pieces each inside one backing, creating backings for gaps."""
        pieces: list[tuple[int, int, Backing]] = []
        a = lo
        while a < hi:
            b = self._backing_for(a)
            if b is None:
                nxt = min((x.lo for x in self.backings if x.lo > a), default=hi)
                b = self.add_backing(a, min(hi, nxt))
            e = min(hi, b.hi)
            pieces.append((a, e, b))
            a = e
        return pieces

    # ---- lookup ------------------------------------------------------------------------------
    def find(self, addr: int) -> Vma | None:
        i = bisect_right(self._starts, addr) - 1
        if i >= 0:
            v = self.vmas[i]
            if addr < v.end:
                return v
        return None

    def past_eof(self, addr: int) -> bool:
        """`addr` is in a file mapping's pages past the file's end (an access is SIGBUS)."""
        v = self.find(addr)
        return v is not None and v.past_eof

    def is_mapped(self, lo: int, hi: int) -> bool:
        """Whether every page of [lo, hi) is mapped (with any protection)."""
        i = bisect_right(self._starts, lo) - 1
        at = lo
        while at < hi:
            if i < 0 or i >= len(self.vmas) or not self.vmas[i].start <= at < self.vmas[i].end:
                return False
            at = self.vmas[i].end
            i += 1
        return True

    def is_free(self, lo: int, hi: int) -> bool:
        i = bisect_right(self._starts, lo) - 1
        if i >= 0 and self.vmas[i].end > lo:
            return False
        j = i + 1
        return not (j < len(self.vmas) and self.vmas[j].start < hi)

    def find_free(self, length: int, hint: int = 0) -> int:
        """Top-down search below mmap_top, as Linux's default mmap layout does."""
        if hint:
            hint = page_down(hint)
            if hint >= self.arena_lo and hint + length <= self.mmap_top and \
                    self.is_free(hint, hint + length):
                return hint
        top = self.mmap_top
        i = bisect_right(self._starts, top) - 1
        while i >= -1:
            below = self.vmas[i].end if i >= 0 else self.arena_lo
            below = max(below, self.arena_lo)
            if top - below >= length:
                return top - length
            if i < 0 or self.vmas[i].start <= self.arena_lo:
                break
            top = min(top, self.vmas[i].start)
            i -= 1
        raise Errno(errno.ENOMEM)

    def tlb_fill(self, vaddr: int, access: int, entry: Any) -> bool:
        self._fills += 1
        if self._fills >= self._tlb_grow_at:
            self._grow_tlb()
        i = bisect_right(self._starts, vaddr) - 1
        if i >= 0:
            v = self.vmas[i]
            if vaddr < v.end:
                p = v.prot
                if p & _NEED.get(access, PROT_R):
                    e = entry[0]
                    e.paddr = vaddr & PAGE_MASK
                    e.perms = p
                    return True
                self._fault = Fault(vaddr, access, True)
                return False
        self._fault = Fault(vaddr, access, False)
        return False

    def _grow_tlb(self) -> None:
        """After a run of misses four times the TLB's size, flush it: QEMU then doubles a TLB
        that was well used (as the compiled core does; docs/architecture.md)."""
        self._fills = 0
        if self._tlb_size < TLB_MAX_ENTRIES:
            self._tlb_size *= 2
            self._tlb_grow_at = 4 * self._tlb_size
            self.uc.flush_tlb()

    # ---- mapping changes ---------------------------------------------------------------------
    @property
    def last_fault(self) -> Fault | None:
        """The last access the TLB fill refused (until set back to None)."""
        if self._core is not None:
            f = self._core.take_fault()
            if f is not None:
                self._fault = Fault(*f)
        return self._fault

    @last_fault.setter
    def last_fault(self, fault: Fault | None) -> None:
        if self._core is not None:
            self._core.take_fault()
        self._fault = fault

    def use_core(self, core: Any) -> None:
        """The compiled core fills the TLB from now on: it gets a copy of the mappings,
        renewed at every change."""
        self._core = core
        self._reindex()

    def _reindex(self) -> None:
        self._starts = [v.start for v in self.vmas]
        self._last = _NO_VMA
        if self._core is not None:
            recs = []
            for v in self.vmas:
                rec = v.rec
                if rec is None:
                    rec = v.rec = _VMA_RECORD.pack(v.start, v.end, v.backing.host - v.backing.lo,
                                                   v.prot)
                recs.append(rec)
            self._core.set_map(b"".join(recs))

    def _carve(self, lo: int, hi: int) -> list[Vma]:
        """Remove [lo, hi) from the mapping list (splitting edges); return removed pieces."""
        removed: list[Vma] = []
        out: list[Vma] = []
        for v in self.vmas:
            if v.end <= lo or v.start >= hi:
                out.append(v)
                continue
            if v.start < lo:
                out.append(v.piece(v.start, lo))
            removed.append(v.piece(max(v.start, lo), min(v.end, hi)))
            if v.end > hi:
                out.append(v.piece(hi, v.end))
        self.vmas = out
        if self.region_perms:
            for v in removed:
                self.uc.mem_protect(v.start, v.end - v.start, capi.UC_PROT_NONE)
        return removed

    def _insert(self, new: list[Vma]) -> None:
        if self.region_perms:
            for v in new:  # PROT_R/W/X are Unicorn's UC_PROT_* bits
                self.uc.mem_protect(v.start, v.end - v.start, v.prot & capi.UC_PROT_ALL)
        self.vmas.extend(new)
        self.vmas.sort(key=lambda v: v.start)
        merged: list[Vma] = []
        for v in self.vmas:
            if merged:
                p = merged[-1]
                if p.end == v.start and p.prot == v.prot and p.shown == v.shown and \
                        p.backing is v.backing and p.past_eof == v.past_eof and \
                        p.shared == v.shared and p.name == v.name and not p.ino and not v.ino \
                        and not v.name.startswith("/SYSV"):  # each shmat stays its own
                    p.end, p.rec = v.end, None
                    continue
            merged.append(v)
        self.vmas = merged
        self._reindex()

    def _after_change(self, removed: list[Vma]) -> None:
        if removed:
            self.uc.flush_tlb()

    def _drop_code(self, lo: int, hi: int) -> None:
        """Drop translated code for the executable pages in [lo, hi). Call it while they are
        still mapped: Unicorn finds the code by probing each page through our TLB fill, and a
        refused probe would leave the engine with a pending exception."""
        for v in self.vmas:
            if v.prot & PROT_X and v.start < hi and v.end > lo:
                self.uc.remove_cache(max(v.start, lo), min(v.end, hi))

    def map(self, addr: int, length: int, prot: int, *, fixed: bool = False,
            noreplace: bool = False, shared: bool = False, fd: int = -1, offset: int = 0,
            name: str = "", dev: int = 0, ino: int = 0, host_prot: int | None = None,
            install: Callable[[int, int], None] | None = None,
            file_size: int | None = None, kernel: bool = False) -> int:
        """mmap semantics. Returns the guest address. Raises Errno. `install(host, length)`
        puts the host pages in place itself (a System V segment's shmat). With `file_size`
        (a regular file's), whole pages past the file's end become `past_eof` pages. `kernel`:
        a page the kernel puts above TASK_SIZE (arm's kuser helpers)."""
        length = page_up(length)
        if length == 0:
            raise Errno(errno.EINVAL)
        if fixed or noreplace:
            if addr & (PAGE - 1):
                raise Errno(errno.EINVAL)
            if noreplace and not self.is_free(addr, addr + length):
                raise Errno(errno.EEXIST)
        else:
            addr = self.find_free(length, addr)
        asked = prot
        if prot & PROT_W:
            prot |= PROT_R
        if addr + length > self.task_size and not kernel:
            raise Errno(errno.ENOMEM)
        self._drop_code(addr, addr + length)
        removed = self._carve(addr, addr + length)
        new: list[Vma] = []
        try:
            pieces = self._ensure_backed(addr, addr + length)
            if host_prot is None:
                host_prot = PROT_READ | PROT_WRITE
            maywrite = bool(host_prot & PROT_WRITE)
            eof = addr + length if fd < 0 or file_size is None else \
                addr + page_up(max(0, file_size - offset))
            for lo, hi, b in _split_at(pieces, eof):
                h = b.host + (lo - b.lo)
                if install is not None:
                    install(h, hi - lo)
                elif fd >= 0 and lo < eof:
                    hostmm.map_file(h, hi - lo, host_prot, shared, fd, offset + (lo - addr))
                elif shared and fd < 0:
                    hostmm.mmap(h, hi - lo, host_prot,
                                MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
                else:
                    hostmm.fresh_anon(h, hi - lo)
                v = Vma(lo, hi, asked, shared, b, name, offset + (lo - addr), dev, ino, maywrite)
                v.prot = prot
                if lo >= eof:
                    v.prot, v.past_eof = 0, True
                new.append(v)
        except BaseException:
            # Linux may leave the old mapping destroyed after a failed MAP_FIXED; we do too,
            # but consistently: the list, the TLB and the host pages all agree.
            for v in removed + new:
                hostmm.release(v.host(v.start), v.end - v.start)
            self._reindex()
            self._after_change(removed + new)
            raise
        self._insert(new)
        self._after_change(removed)
        return addr

    def unmap(self, addr: int, length: int) -> None:
        if addr & (PAGE - 1) or length == 0:
            raise Errno(errno.EINVAL)
        hi = page_up(addr + length)
        self._drop_code(addr, hi)
        removed = self._carve(addr, hi)
        if not removed:
            return
        for v in removed:
            hostmm.release(v.host(v.start), v.end - v.start)
        self._reindex()
        self._after_change(removed)

    def protect(self, addr: int, length: int, prot: int) -> None:
        if addr & (PAGE - 1):
            raise Errno(errno.EINVAL)
        hi = page_up(addr + length)
        if hi == addr:
            return
        a = addr
        for v in self.vmas:  # the whole range must be mapped
            if v.end <= a or v.start >= hi:
                continue
            if v.start > a:
                break
            a = v.end
        if a < hi:
            raise Errno(errno.ENOMEM)
        asked = prot
        if prot & PROT_W:
            prot |= PROT_R
            if any(not v.maywrite for v in self.vmas if v.start < hi and v.end > addr):
                raise Errno(errno.EACCES)
        if not prot & PROT_X:
            self._drop_code(addr, hi)
        removed = self._carve(addr, hi)
        for v in removed:
            v.prot, v.shown = (0 if v.past_eof else prot), asked
        self._insert(removed)
        self.uc.flush_tlb()

    def dontneed(self, addr: int, length: int) -> None:
        hi = page_up(addr + length)
        for v in self.vmas:
            lo, e = max(v.start, addr), min(v.end, hi)
            if lo < e:
                hostmm.madvise(v.host(lo), e - lo, MADV_DONTNEED)

    def remap(self, old: int, old_len: int, new_len: int, may_move: bool,
              fixed_addr: int | None) -> int:
        old_len, new_len = page_up(old_len), page_up(new_len)
        if old & (PAGE - 1) or new_len == 0 or old_len == 0:
            raise Errno(errno.EINVAL)
        v = self.find(old)
        if v is None or old + old_len > v.end:
            raise Errno(errno.EFAULT)
        if fixed_addr is not None and fixed_addr < old + old_len and old < fixed_addr + new_len:
            raise Errno(errno.EINVAL)  # destination overlaps the source
        if fixed_addr is None and new_len <= old_len:
            if new_len < old_len:
                self.unmap(old + new_len, old_len - new_len)
            return old
        if v.shared or v.ino:
            # Growing or moving a file or shared mapping would need the file again; until the
            # mapping keeps it, fail as Linux does when it cannot satisfy the request.
            raise Errno(errno.ENOMEM)
        if fixed_addr is None and self.is_free(old + old_len, old + new_len) and \
                self._backing_for(old + new_len - 1) is v.backing:
            self.map(old + old_len, new_len - old_len, v.prot, fixed=True, name=v.name)
            return old
        if not may_move:
            raise Errno(errno.ENOMEM)
        if fixed_addr is not None:
            dest = self.map(fixed_addr, new_len, v.prot, fixed=True, name=v.name)
        else:
            dest = self.map(0, new_len, v.prot, name=v.name)
        n = min(old_len, new_len)
        self.view_for_loader(dest, n)[:] = self.view_for_loader(old, n)
        self.unmap(old, old_len)
        return dest

    # ---- brk ---------------------------------------------------------------------------------
    def set_brk_start(self, addr: int) -> None:
        self.brk_start = self.brk_cur = page_up(addr)

    def brk(self, new: int) -> int:
        if new < self.brk_start:
            return self.brk_cur
        old_end, new_end = page_up(self.brk_cur), page_up(new)
        try:
            if new_end > old_end:
                if not self.is_free(old_end, new_end):
                    return self.brk_cur
                self.map(old_end, new_end - old_end, PROT_R | PROT_W, fixed=True, name="[heap]")
            elif new_end < old_end:
                self.unmap(new_end, old_end - new_end)
        except (Errno, OSError):
            return self.brk_cur
        self.brk_cur = new
        return new

    # ---- access from handlers ----------------------------------------------------------------
    def view(self, addr: int, n: int, need: int = PROT_R, partial: bool = False) -> memoryview:
        """A zero-copy view of guest [addr, addr+n); Errno(EFAULT) unless all of it allows `need`.

        With `partial`, a range that runs off the accessible memory is cut short instead,
        as the kernel's copy routines do (EFAULT only if not even the first byte is usable).
        """
        v = self._last
        if v.start <= addr and addr + n <= v.end and v.prot & need == need and n > 0 and \
                not (need & PROT_W and v.prot & PROT_X):
            b = v.backing
            return b.mv[addr - b.lo:addr + n - b.lo]
        if n <= 0:  # nothing to touch: any pointer will do, and the view may be written
            return memoryview(bytearray())
        i = bisect_right(self._starts, addr) - 1
        if i >= 0:
            v = self.vmas[i]
            end = addr + n
            if addr < v.end and v.prot & need == need:
                b = v.backing
                if end > v.end:  # spans several mappings: all must allow it, one backing
                    j, a = i, v.end
                    while a < end:
                        j += 1
                        w = self.vmas[j] if j < len(self.vmas) else None
                        if w is not None and w.start == a and w.prot & need == need and \
                                w.backing is not b and not need & PROT_W:
                            return self._gathered(addr, end, need, partial)
                        if w is None or w.start != a or w.prot & need != need or w.backing is not b:
                            if not partial:
                                raise Errno(errno.EFAULT)
                            end = a
                            break
                        a = w.end
                if need & PROT_W and (v.prot & PROT_X or end > v.end):
                    self._drop_code(addr, end)  # only executable pages: others can't be probed
                self._last = v
                return b.mv[addr - b.lo:end - b.lo]
        raise Errno(errno.EFAULT)

    def _gathered(self, addr: int, end: int, need: int, partial: bool) -> memoryview:
        """A read-only copy of guest [addr, end) where it lies in several host pieces (a
        write() from it must move every byte, as Linux's does). Cut where access stops, with
        `partial`; EFAULT there otherwise."""
        out = bytearray()
        a = addr
        while a < end:
            v = self.find(a)
            if v is None or v.prot & need != need:
                if partial and out:
                    break
                raise Errno(errno.EFAULT)
            e = min(end, v.end)
            out += v.backing.mv[a - v.backing.lo:e - v.backing.lo]
            a = e
        return memoryview(bytes(out))

    def view_for_loader(self, addr: int, n: int) -> memoryview:
        """A view that ignores guest protections (the kernel writes read-only segments too)."""
        b = self._backing_for(addr)
        if b is None or addr + n > b.hi or self.find(addr) is None:
            raise Errno(errno.EFAULT)
        return b.mv[addr - b.lo:addr - b.lo + n]

    def host_ptr(self, addr: int, n: int, need: int = PROT_R) -> int:
        """Host address of guest [addr, addr+n) after an access check (pass-through calls).
        An empty range is never touched: an unmapped pointer with it becomes NULL."""
        self.view(addr, n, need)
        v = self.find(addr)
        return v.host(addr) if v is not None else 0

    def read_for_debug(self, addr: int, n: int) -> bytes:
        """Bytes of guest memory regardless of protection (disassembly of code)."""
        return bytes(self.view_for_loader(addr, n))

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self.view(addr, n, PROT_R))

    def write(self, addr: int, data: bytes | bytearray | memoryview, *,
              force: bool = False) -> None:
        """Copy into guest memory. `force` ignores guest protections (loader, kernel-owned data)."""
        n = len(data)
        if not n:
            return
        if force:
            v = self.find(addr)
            if v is None:
                raise Errno(errno.EFAULT)
            b = v.backing
            b.mv[addr - b.lo:addr - b.lo + n] = data
            self._drop_code(addr, addr + n)
            return
        self.view(addr, n, PROT_W)[:] = data

    def read_cstr(self, addr: int, limit: int = 4096) -> bytes:
        """A NUL-terminated string without its NUL; EFAULT if unmapped, ENAMETOOLONG past limit."""
        out = b""
        while len(out) < limit:
            v = self.find(addr)
            if v is None or not v.prot & PROT_R:
                raise Errno(errno.EFAULT)
            chunk_end = min(v.end, addr + (limit - len(out)), page_up(addr + 1))
            b = v.backing
            chunk = b.mv[addr - b.lo:chunk_end - b.lo]
            k = bytes(chunk).find(b"\0")
            if k >= 0:
                return out + bytes(chunk[:k])
            out += bytes(chunk)
            addr = chunk_end
        raise Errno(errno.ENAMETOOLONG)
