"""Map an ELF file's PT_LOAD segments into a guest address space."""

from __future__ import annotations

import os
from typing import NamedTuple

from loaders.elf import ElfError, ElfFile
from usermode.kernel.memory import PAGE, PROT_R, PROT_W, PROT_X, AddressSpace, page_down, page_up

PF_X, PF_W, PF_R = 1, 2, 4
BRK_RESERVE = 1 << 30  # host address space reserved after the image for brk growth


class LoadedImage(NamedTuple):
    bias: int
    entry: int  # biased
    phdr: int  # runtime address of the program headers (0 if unknown)
    lo: int
    hi: int  # end of the highest segment (bss included)


def _prot(flags: int) -> int:
    return (PROT_R if flags & PF_R else 0) | (PROT_W if flags & PF_W else 0) | \
        (PROT_X if flags & PF_X else 0)


def choose_bias(elf: ElfFile, base: int) -> int:
    """ET_EXEC loads where linked; ET_DYN at `base` (page-aligned, honouring p_align)."""
    if not elf.is_pie:
        return 0
    align = max([PAGE, *(s.align for s in elf.segments if s.align)])
    return ((base + align - 1) & ~(align - 1)) - elf.min_vaddr


def load_image(mem: AddressSpace, elf: ElfFile, bias: int, *, reserve_brk: bool) -> LoadedImage:
    lo = page_down(elf.min_vaddr + bias)
    hi = page_up(elf.max_vaddr + bias)
    if reserve_brk and not any(b.lo < hi + BRK_RESERVE and lo < b.hi for b in mem.backings):
        mem.add_backing(lo, hi + BRK_RESERVE)
    st = os.stat(elf.path)
    name = os.path.realpath(elf.path)
    # Page-level protections: a page shared by two segments gets the union of both.
    prot_of: dict[int, int] = {}
    for s in elf.segments:
        if s.memsz == 0:
            continue
        p = _prot(s.flags)
        for page in range(page_down(s.vaddr + bias), page_up(s.vaddr + bias + s.memsz), PAGE):
            prot_of[page] = prot_of.get(page, 0) | p
    # Map runs of pages with equal protection.
    pages = sorted(prot_of)
    i = 0
    while i < len(pages):
        start = pages[i]
        p = prot_of[start]
        j = i
        while j + 1 < len(pages) and pages[j + 1] == pages[j] + PAGE and prot_of[pages[j + 1]] == p:
            j += 1
        seg_off = _file_offset_of(elf, start - bias)
        mem.map(start, pages[j] + PAGE - start, p, fixed=True, name=name, offset=seg_off,
                dev=st.st_dev, ino=st.st_ino)
        i = j + 1
    # Copy file contents straight into guest memory (bss stays zero).
    fd = os.open(elf.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for s in elf.segments:
            if s.filesz:
                dst = mem.view_for_loader(s.vaddr + bias, s.filesz)
                got = os.preadv(fd, [dst], s.offset)
                if got != s.filesz:
                    raise ElfError("segment beyond end of file")
    finally:
        os.close(fd)
    phdr = elf.phdr_vaddr + bias if elf.phdr_vaddr is not None else 0
    return LoadedImage(bias, elf.entry + bias, phdr, lo, hi)


def _file_offset_of(elf: ElfFile, vaddr: int) -> int:
    for s in elf.segments:
        if s.vaddr <= vaddr < s.vaddr + max(s.memsz, 1) or page_down(s.vaddr) == vaddr:
            return page_down(s.offset + (vaddr - s.vaddr)) if vaddr >= s.vaddr else \
                page_down(s.offset)
    return 0
