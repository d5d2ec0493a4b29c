"""Where an ELF file's PT_LOAD segments go: runs of pages with one protection each, and the
file bytes to copy into them. Pure planning; the kernel maps the plan
(`usermode/kernel/exec.py`)."""

from __future__ import annotations

from itertools import pairwise

from loaders.elf import PF_R, PF_W, PF_X, ElfFile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from loaders.records import NamedTuple

PAGE = 4096


def page_down(x: int) -> int:
    return x & ~(PAGE - 1)


def page_up(x: int) -> int:
    return (x + PAGE - 1) & ~(PAGE - 1)


class Run(NamedTuple):
    """Pages [start, start + length) mapped with the segments' `flags` (PF_R/W/X), whose
    first byte is at `offset` in the file (for /proc/self/maps)."""

    start: int
    length: int
    flags: int
    offset: int


class Copy(NamedTuple):
    """`size` bytes of the file at `offset` go to guest `vaddr` (bss stays zero)."""

    vaddr: int
    size: int
    offset: int


class ImagePlan(NamedTuple):
    bias: int
    entry: int  # biased
    phdr: int  # runtime address of the program headers (0 if unknown)
    lo: int
    hi: int  # end of the highest segment (bss included), page-aligned
    runs: tuple[Run, ...]
    copies: tuple[Copy, ...]


def choose_bias(elf: ElfFile, base: int) -> int:
    """ET_EXEC loads where linked; ET_DYN at `base` (page-aligned, honouring p_align)."""
    if not elf.is_pie:
        return 0
    # as Linux: only power-of-two alignments count
    align = max([PAGE, *(s.align for s in elf.segments if s.align and not s.align & (s.align - 1))])
    return ((base + align - 1) & ~(align - 1)) - elf.min_vaddr


def plan_image(elf: ElfFile, bias: int) -> ImagePlan:
    """Page-level protections: a page shared by two segments gets the union of both. Worked
    out over the segments' page ranges (never per page: a segment may span gigabytes)."""
    spans = [(page_down(s.vaddr + bias), page_up(s.vaddr + bias + s.memsz),
              s.flags & (PF_R | PF_W | PF_X)) for s in elf.segments if s.memsz]
    edges = sorted({e for lo, hi, _f in spans for e in (lo, hi)})
    runs: list[Run] = []
    for a, b in pairwise(edges):
        covering = [f for lo, hi, f in spans if lo < b and a < hi]
        if not covering:
            continue
        flags = 0
        for f in covering:
            flags |= f
        if runs and runs[-1].start + runs[-1].length == a and runs[-1].flags == flags:
            last = runs.pop()
            runs.append(last._replace(length=b - last.start))
        else:
            runs.append(Run(a, b - a, flags, _file_offset_of(elf, a - bias)))
    copies = tuple(Copy(s.vaddr + bias, s.filesz, s.offset) for s in elf.segments if s.filesz)
    phdr = elf.phdr_vaddr + bias if elf.phdr_vaddr is not None else 0
    return ImagePlan(bias, elf.entry + bias, phdr, page_down(elf.min_vaddr + bias),
                     page_up(elf.max_vaddr + bias), tuple(runs), copies)


def _file_offset_of(elf: ElfFile, vaddr: int) -> int:
    for s in elf.segments:
        if s.vaddr <= vaddr < s.vaddr + max(s.memsz, 1) or page_down(s.vaddr) == vaddr:
            return page_down(s.offset + (vaddr - s.vaddr)) if vaddr >= s.vaddr else \
                page_down(s.offset)
    return 0
