"""Minimal ELF executable parser: header, program headers and the PT_INTERP string.

Only what a loader needs is read (the ELF header, the program header table and the
interpreter path), using ``os.pread`` on a single open file descriptor.  ELF32/ELF64,
little- and big-endian are supported.  Section headers are never read.

``OSError`` (missing file, permission denied, directory, ...) propagates unchanged;
every structural problem with the file raises :class:`ElfError`.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from itertools import pairwise

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from loaders.records import NamedTuple

__all__ = [
    "EM_386",
    "EM_AARCH64",
    "EM_ARM",
    "EM_MIPS",
    "EM_PPC64",
    "EM_RISCV",
    "EM_S390",
    "EM_X86_64",
    "ET_DYN",
    "ET_EXEC",
    "PAGE_SIZE",
    "PF_R",
    "PF_W",
    "PF_X",
    "PT_GNU_STACK",
    "PT_INTERP",
    "PT_LOAD",
    "PT_PHDR",
    "PT_TLS",
    "ElfError",
    "ElfFile",
    "Segment",
    "read_elf",
]

PAGE_SIZE = 4096

# e_ident
ELFMAG = b"\x7fELF"
EI_CLASS = 4
EI_DATA = 5
EI_VERSION = 6
EI_NIDENT = 16
ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
ELFDATA2MSB = 2
EV_CURRENT = 1

# e_type
ET_NONE = 0
ET_REL = 1
ET_EXEC = 2
ET_DYN = 3
ET_CORE = 4
_ETYPE_NAMES = {ET_NONE: "ET_NONE", ET_REL: "ET_REL", ET_CORE: "ET_CORE"}

# e_machine
EM_386 = 3
EM_MIPS = 8
EM_PPC64 = 21
EM_S390 = 22
EM_ARM = 40
EF_ARM_ABI_FLOAT_SOFT = 0x200  # e_flags of an EABI5 soft-float (armel) program
EM_X86_64 = 62
EM_AARCH64 = 183
EM_RISCV = 243

# p_type
PT_NULL = 0
PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3
PT_NOTE = 4
PT_PHDR = 6
PT_TLS = 7
PT_GNU_STACK = 0x6474E551

# p_flags
PF_X = 1
PF_W = 2
PF_R = 4

# Linux: PATH_MAX bounds the interpreter path; the program header table may not exceed
# 64 KiB (binfmt_elf.c: e_phnum > 65536 / sizeof(struct elf_phdr) is rejected).
_PATH_MAX = 4096
_MAX_PHDR_TABLE = 65536

_HEAD_READ = 65536

# (e_machine, bits, little_endian) -> arch name
_ARCHES: dict[tuple[int, int, bool], str] = {
    (EM_AARCH64, 64, True): "aarch64",
    (EM_X86_64, 64, True): "x86_64",
    (EM_RISCV, 64, True): "riscv64",
    (EM_ARM, 32, True): "arm",
    (EM_MIPS, 32, True): "mipsel",
    (EM_386, 32, True): "i386",
    (EM_PPC64, 64, True): "ppc64le",
    (EM_S390, 64, False): "s390x",
}

# Names used only to make "unsupported machine" messages readable.
_MACHINE_NAMES: dict[int, str] = {
    2: "sparc",
    EM_386: "i386",
    EM_MIPS: "mips",
    20: "ppc",
    EM_PPC64: "ppc64",
    EM_S390: "s390",
    EM_ARM: "arm",
    42: "superh",
    43: "sparcv9",
    50: "ia64",
    EM_X86_64: "x86_64",
    EM_AARCH64: "aarch64",
    EM_RISCV: "riscv",
    258: "loongarch",
}

# Header layouts after e_ident (endianness prefix added at use):
# e_type e_machine e_version e_entry e_phoff e_shoff e_flags e_ehsize e_phentsize e_phnum
_EHDR_FMT = {32: "HHIIIIIHHH", 64: "HHIQQQIHHH"}
_EHDR_SIZE = {32: 52, 64: 64}
# Program header: p_type, then class-specific order (ELF64 moves p_flags up front).
_PHDR_FMT = {32: "IIIIIIII", 64: "IIQQQQQQ"}
_PHDR_SIZE = {32: 32, 64: 56}


class ElfError(Exception):
    """The file is not a loadable ELF executable; ``str(exc)`` is a short reason."""


class Segment(NamedTuple):
    """One program header of interest (PT_LOAD or PT_TLS)."""

    vaddr: int
    memsz: int
    filesz: int
    offset: int
    flags: int  # PF_X=1, PF_W=2, PF_R=4
    align: int


class ElfFile(NamedTuple):
    """What a loader needs to know about an ELF executable or shared object."""

    path: str
    arch: str
    bits: int
    little_endian: bool
    etype: int
    entry: int
    flags: int
    phoff: int
    phentsize: int
    phnum: int
    segments: tuple[Segment, ...]
    interp: str | None
    phdr_vaddr: int | None
    exec_stack: bool
    tls: Segment | None

    @property
    def is_pie(self) -> bool:
        """True for ET_DYN (PIE, static-pie or a shared object such as ld.so)."""
        return self.etype == ET_DYN

    @property
    def min_vaddr(self) -> int:
        """Lowest PT_LOAD vaddr, rounded down to a page boundary."""
        return min(s.vaddr for s in self.segments) & ~(PAGE_SIZE - 1)

    @property
    def max_vaddr(self) -> int:
        """Highest PT_LOAD end address (vaddr + memsz), not page-aligned."""
        return max(s.vaddr + s.memsz for s in self.segments)


def _machine_error(machine: int, bits: int, little_endian: bool) -> ElfError:
    name = _MACHINE_NAMES.get(machine)
    if name is None:
        return ElfError(f"unsupported machine 0x{machine:x}")
    endian = "little-endian" if little_endian else "big-endian"
    return ElfError(f"unsupported machine 0x{machine:x} ({name} {bits}-bit {endian})")


def _read_at(fd: int, head: bytes, offset: int, size: int) -> bytes:
    """Bytes [offset, offset+size) of the file, from ``head`` when already read."""
    end = offset + size
    if end <= len(head):
        return head[offset:end]
    data = os.pread(fd, size, offset)
    if len(data) != size:  # file shrank under us
        raise ElfError("unexpected end of file")
    return data


def read_elf(path: str) -> ElfFile:
    """Parse the ELF header, program headers and PT_INTERP of ``path``.

    Raises :class:`ElfError` for anything that is not a supported, well-formed ELF
    executable (ET_EXEC or ET_DYN); ``OSError`` from opening/reading propagates.
    """
    # O_NONBLOCK: a FIFO given as the program must not block the open; only regular files
    # can be run (Linux: EACCES)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(fd, "rb", buffering=0):
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        if not stat.S_ISREG(st.st_mode):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        file_size = st.st_size
        head = os.pread(fd, _HEAD_READ, 0)
        return _parse(path, fd, head, max(file_size, len(head)))


def _parse(path: str, fd: int, head: bytes, file_size: int) -> ElfFile:
    if head[:4] != ELFMAG:
        raise ElfError("not an ELF file")
    if len(head) < EI_NIDENT:
        raise ElfError("truncated ELF header")
    ei_class = head[EI_CLASS]
    if ei_class == ELFCLASS32:
        bits = 32
    elif ei_class == ELFCLASS64:
        bits = 64
    else:
        raise ElfError(f"unsupported ELF class {ei_class}")
    ei_data = head[EI_DATA]
    if ei_data == ELFDATA2LSB:
        little_endian = True
    elif ei_data == ELFDATA2MSB:
        little_endian = False
    else:
        raise ElfError(f"unsupported ELF data encoding {ei_data}")
    if head[EI_VERSION] != EV_CURRENT:
        raise ElfError(f"unsupported ELF version {head[EI_VERSION]}")
    if len(head) < _EHDR_SIZE[bits]:
        raise ElfError("truncated ELF header")

    bo = "<" if little_endian else ">"
    (
        etype,
        machine,
        _version,
        entry,
        phoff,
        _shoff,
        e_flags,
        _ehsize,
        phentsize,
        phnum,
    ) = struct.unpack_from(bo + _EHDR_FMT[bits], head, EI_NIDENT)

    if etype not in (ET_EXEC, ET_DYN):
        type_name = _ETYPE_NAMES.get(etype, f"e_type {etype:#x}")
        raise ElfError(f"not an executable ({type_name})")
    arch = _ARCHES.get((machine, bits, little_endian))
    if arch is None:
        raise _machine_error(machine, bits, little_endian)
    if arch == "arm" and e_flags & EF_ARM_ABI_FLOAT_SOFT:
        arch = "armel"  # the same ISA with the soft-float C library ABI (its own sysroot)
    if phentsize != _PHDR_SIZE[bits]:
        raise ElfError(f"bad e_phentsize {phentsize} (expected {_PHDR_SIZE[bits]})")
    if phnum == 0:
        raise ElfError("no loadable segments")
    table_size = phnum * phentsize
    if table_size > _MAX_PHDR_TABLE:
        raise ElfError("too many program headers")
    if phoff == 0 or phoff + table_size > file_size:
        raise ElfError("program headers out of file bounds")
    if entry == 0:
        raise ElfError("entry point is zero")

    table = _read_at(fd, head, phoff, table_size)
    addr_limit = 1 << bits
    phdr_fmt = struct.Struct(bo + _PHDR_FMT[bits])

    loads: list[Segment] = []
    interp: str | None = None
    pt_phdr: int | None = None
    gnu_stack: bool | None = None
    tls: Segment | None = None

    for i in range(phnum):
        fields = phdr_fmt.unpack_from(table, i * phentsize)
        if bits == 64:
            p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, p_align = fields
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, p_flags, p_align = fields
        seg = Segment(
            vaddr=p_vaddr,
            memsz=p_memsz,
            filesz=p_filesz,
            offset=p_offset,
            flags=p_flags,
            align=p_align,
        )

        if p_type == PT_LOAD:
            if p_filesz > p_memsz:
                raise ElfError("PT_LOAD filesz exceeds memsz")
            if p_offset + p_filesz > file_size:
                raise ElfError("PT_LOAD segment beyond end of file")
            if p_vaddr + p_memsz > addr_limit:
                raise ElfError("PT_LOAD segment beyond address space")
            if (p_vaddr - p_offset) % PAGE_SIZE:  # Linux: EINVAL
                raise ElfError("PT_LOAD offset and address differ modulo the page size")
            loads.append(seg)
        elif p_type == PT_INTERP:
            if interp is not None:  # Linux honours the first one only
                continue
            if p_filesz < 2 or p_filesz > _PATH_MAX or p_offset + p_filesz > file_size:
                raise ElfError("bad PT_INTERP")
            raw = _read_at(fd, head, p_offset, p_filesz)
            if raw[-1] != 0:
                raise ElfError("bad PT_INTERP (not NUL-terminated)")
            interp_path = raw[: raw.index(0)]
            if not interp_path:
                raise ElfError("bad PT_INTERP (empty)")
            interp = os.fsdecode(interp_path)
        elif p_type == PT_PHDR:
            if pt_phdr is None:
                pt_phdr = p_vaddr
        elif p_type == PT_GNU_STACK:
            if gnu_stack is None:  # first one wins, as in Linux
                gnu_stack = bool(p_flags & PF_X)
        elif p_type == PT_TLS:
            if p_filesz > p_memsz:
                raise ElfError("PT_TLS filesz exceeds memsz")
            if tls is None:
                tls = seg

    if not loads:
        raise ElfError("no loadable segments")

    ordered = sorted(loads, key=lambda s: s.vaddr)
    for prev, cur in pairwise(ordered):
        if prev.memsz and cur.memsz and cur.vaddr < prev.vaddr + prev.memsz:
            raise ElfError("PT_LOAD segment overlaps")

    phdr_vaddr = pt_phdr
    if phdr_vaddr is None:
        # Same rule as Linux's load_elf_binary: the PT_LOAD whose file range holds e_phoff.
        for seg in loads:
            if seg.offset <= phoff < seg.offset + seg.filesz:
                phdr_vaddr = seg.vaddr + (phoff - seg.offset)
                break

    return ElfFile(
        path=path,
        arch=arch,
        bits=bits,
        little_endian=little_endian,
        etype=etype,
        entry=entry,
        flags=e_flags,
        phoff=phoff,
        phentsize=phentsize,
        phnum=phnum,
        segments=tuple(loads),
        interp=interp,
        phdr_vaddr=phdr_vaddr,
        exec_stack=True if gnu_stack is None else gnu_stack,
        tls=tls,
    )
