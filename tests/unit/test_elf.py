"""Tests for loaders.elf: crafted ELF images built with struct, plus real host binaries."""

from __future__ import annotations

import os
import platform
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from loaders.elf import (
    EM_386,
    EM_AARCH64,
    EM_ARM,
    EM_MIPS,
    EM_PPC64,
    EM_RISCV,
    EM_S390,
    EM_X86_64,
    ET_DYN,
    ET_EXEC,
    PF_R,
    PF_W,
    PF_X,
    PT_GNU_STACK,
    PT_INTERP,
    PT_LOAD,
    PT_PHDR,
    PT_TLS,
    ElfError,
    ElfFile,
    Segment,
    read_elf,
)

PT_NOTE = 4
BASE = 0x400000


@dataclass
class Ph:
    type: int
    offset: int = 0
    vaddr: int = 0
    filesz: int = 0
    memsz: int = 0
    flags: int = PF_R
    align: int = 0x1000


@dataclass
class Img:
    """Description of a crafted ELF file."""

    bits: int = 64
    little_endian: bool = True
    machine: int = EM_X86_64
    etype: int = ET_EXEC
    entry: int = BASE + 0x100
    e_flags: int = 0
    phdrs: list[Ph] = field(default_factory=list)
    phoff: int | None = None  # default: right after the ELF header
    phentsize: int | None = None
    phnum: int | None = None
    size: int = 0x2000
    blobs: dict[int, bytes] = field(default_factory=dict)
    ident: dict[int, int] = field(default_factory=dict)  # e_ident byte overrides

    def build(self) -> bytes:
        bo = "<" if self.little_endian else ">"
        ehsize = 64 if self.bits == 64 else 52
        phsize = 56 if self.bits == 64 else 32
        phoff = ehsize if self.phoff is None else self.phoff
        phentsize = phsize if self.phentsize is None else self.phentsize
        phnum = len(self.phdrs) if self.phnum is None else self.phnum
        ident = bytearray(b"\x7fELF" + bytes(12))
        ident[4] = 2 if self.bits == 64 else 1
        ident[5] = 1 if self.little_endian else 2
        ident[6] = 1
        for k, v in self.ident.items():
            ident[k] = v
        fmt = "HHIQQQIHHHHHH" if self.bits == 64 else "HHIIIIIHHHHHH"
        hdr = bytes(ident) + struct.pack(
            bo + fmt,
            self.etype,
            self.machine,
            1,
            self.entry,
            phoff,
            0,
            self.e_flags,
            ehsize,
            phentsize,
            phnum,
            64 if self.bits == 64 else 40,
            0,
            0,
        )
        assert len(hdr) == ehsize
        table = b""
        for p in self.phdrs:
            if self.bits == 64:
                table += struct.pack(
                    bo + "IIQQQQQQ",
                    p.type, p.flags, p.offset, p.vaddr, p.vaddr, p.filesz, p.memsz, p.align,
                )
            else:
                table += struct.pack(
                    bo + "IIIIIIII",
                    p.type, p.offset, p.vaddr, p.vaddr, p.filesz, p.memsz, p.flags, p.align,
                )
        out = bytearray(max(self.size, phoff + len(table), ehsize))
        out[:ehsize] = hdr
        out[phoff : phoff + len(table)] = table
        for off, data in self.blobs.items():
            if off + len(data) > len(out):
                out.extend(bytes(off + len(data) - len(out)))
            out[off : off + len(data)] = data
        return bytes(out)


def text_load(base: int = BASE) -> Ph:
    return Ph(PT_LOAD, offset=0, vaddr=base, filesz=0x1000, memsz=0x1000, flags=PF_R | PF_X)


def data_load(base: int = BASE) -> Ph:
    return Ph(
        PT_LOAD, offset=0x1000, vaddr=base + 0x11000, filesz=0x100, memsz=0x2000,
        flags=PF_R | PF_W,
    )


def default_img(**kw: object) -> Img:
    img = Img(phdrs=[text_load(), data_load()])
    for k, v in kw.items():
        setattr(img, k, v)
    return img


def write(tmp_path: Path, data: bytes, name: str = "prog") -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def parse(tmp_path: Path, img: Img | bytes) -> ElfFile:
    data = img if isinstance(img, bytes) else img.build()
    return read_elf(write(tmp_path, data))


def expect_error(tmp_path: Path, img: Img | bytes, match: str) -> ElfError:
    with pytest.raises(ElfError, match=match) as ei:
        parse(tmp_path, img)
    return ei.value


# --------------------------------------------------------------------------- valid files


def test_et_exec_basic(tmp_path: Path) -> None:
    e = parse(tmp_path, default_img())
    assert e.arch == "x86_64"
    assert e.bits == 64
    assert e.little_endian is True
    assert e.etype == ET_EXEC
    assert not e.is_pie
    assert e.entry == BASE + 0x100
    assert e.flags == 0
    assert (e.phoff, e.phentsize, e.phnum) == (64, 56, 2)
    assert e.segments == (
        Segment(vaddr=BASE, memsz=0x1000, filesz=0x1000, offset=0, flags=PF_R | PF_X,
                align=0x1000),
        Segment(vaddr=BASE + 0x11000, memsz=0x2000, filesz=0x100, offset=0x1000,
                flags=PF_R | PF_W, align=0x1000),
    )
    assert e.interp is None
    # no PT_PHDR: e_phoff (64) lies in the first PT_LOAD's file range
    assert e.phdr_vaddr == BASE + 64
    assert e.exec_stack is True  # PT_GNU_STACK absent
    assert e.tls is None
    assert e.min_vaddr == BASE
    assert e.max_vaddr == BASE + 0x13000
    assert e.path.endswith("prog")


def test_min_vaddr_is_page_aligned(tmp_path: Path) -> None:
    img = Img(
        phdrs=[
            Ph(PT_LOAD, offset=0x123, vaddr=BASE + 0x123, filesz=0x10, memsz=0x10),
            Ph(PT_LOAD, offset=0x200, vaddr=BASE + 0x5200, filesz=0x10, memsz=0x31),
        ],
        entry=BASE + 0x123,
    )
    e = parse(tmp_path, img)
    assert e.min_vaddr == BASE
    assert e.max_vaddr == BASE + 0x5231
    assert e.phdr_vaddr is None  # e_phoff=64 is not inside any PT_LOAD's file range


def test_et_dyn_static_pie(tmp_path: Path) -> None:
    img = Img(
        etype=ET_DYN,
        entry=0x1040,
        phdrs=[text_load(0), data_load(0), Ph(PT_GNU_STACK, flags=PF_R | PF_W, align=16)],
    )
    e = parse(tmp_path, img)
    assert e.is_pie
    assert e.etype == ET_DYN
    assert e.interp is None
    assert e.min_vaddr == 0
    assert e.phdr_vaddr == 64
    assert e.exec_stack is False


def test_pt_interp(tmp_path: Path) -> None:
    path = b"/lib/ld-linux-aarch64.so.1\0"
    img = Img(
        machine=EM_AARCH64,
        etype=ET_DYN,
        entry=0x800,
        phdrs=[
            Ph(PT_PHDR, offset=64, vaddr=64, filesz=4 * 56, memsz=4 * 56, align=8),
            Ph(PT_INTERP, offset=0x200, vaddr=0x200, filesz=len(path), memsz=len(path), align=1),
            text_load(0),
            data_load(0),
        ],
        blobs={0x200: path},
    )
    e = parse(tmp_path, img)
    assert e.arch == "aarch64"
    assert e.interp == "/lib/ld-linux-aarch64.so.1"
    assert e.phdr_vaddr == 64
    assert len(e.segments) == 2


def test_pt_phdr_takes_precedence(tmp_path: Path) -> None:
    # PT_PHDR says something different from the computed location: PT_PHDR wins.
    img = default_img()
    img.phdrs.insert(0, Ph(PT_PHDR, offset=64, vaddr=0x12340, filesz=3 * 56, memsz=3 * 56))
    assert parse(tmp_path, img).phdr_vaddr == 0x12340


def test_phdr_computed_from_second_load(tmp_path: Path) -> None:
    # Program headers stored in the file range of the data segment.
    img = Img(phoff=0x1010, phdrs=[text_load(), data_load()])
    img.phdrs[0] = Ph(PT_LOAD, offset=0x0, vaddr=BASE, filesz=0x40, memsz=0x1000, flags=PF_R)
    e = parse(tmp_path, img)
    assert e.phoff == 0x1010
    assert e.phdr_vaddr == BASE + 0x11000 + 0x10


def test_phdr_none_when_not_loaded(tmp_path: Path) -> None:
    img = Img(
        phoff=0x1800,
        phdrs=[
            Ph(PT_LOAD, offset=0, vaddr=BASE, filesz=0x800, memsz=0x800, flags=PF_R | PF_X),
        ],
    )
    assert parse(tmp_path, img).phdr_vaddr is None


@pytest.mark.parametrize(("flags", "expected"), [(PF_R | PF_W, False), (PF_R | PF_W | PF_X, True)])
def test_gnu_stack(tmp_path: Path, flags: int, expected: bool) -> None:
    img = default_img()
    img.phdrs.append(Ph(PT_GNU_STACK, flags=flags, align=16))
    assert parse(tmp_path, img).exec_stack is expected


def test_pt_tls(tmp_path: Path) -> None:
    img = default_img()
    img.phdrs.append(
        Ph(PT_TLS, offset=0x1010, vaddr=BASE + 0x11010, filesz=0x8, memsz=0x28, align=8)
    )
    e = parse(tmp_path, img)
    assert e.tls == Segment(
        vaddr=BASE + 0x11010, memsz=0x28, filesz=0x8, offset=0x1010, flags=PF_R, align=8
    )
    assert len(e.segments) == 2  # PT_TLS is not a loadable segment


def test_non_load_headers_ignored(tmp_path: Path) -> None:
    img = default_img()
    img.phdrs.insert(1, Ph(PT_NOTE, offset=0x300, vaddr=BASE + 0x300, filesz=0x20, memsz=0x20))
    img.phdrs.append(Ph(0x6474E552, offset=0x1000, vaddr=BASE + 0x11000, filesz=0x100))
    e = parse(tmp_path, img)
    assert [s.vaddr for s in e.segments] == [BASE, BASE + 0x11000]


def test_e_flags_preserved(tmp_path: Path) -> None:
    img = Img(machine=EM_ARM, bits=32, e_flags=0x05000400, entry=0x10341,
              phdrs=[text_load(0x10000)])
    e = parse(tmp_path, img)
    assert e.flags == 0x05000400
    assert e.entry == 0x10341  # Thumb bit kept


ARCHES = [
    (EM_AARCH64, 64, True, "aarch64"),
    (EM_X86_64, 64, True, "x86_64"),
    (EM_RISCV, 64, True, "riscv64"),
    (EM_ARM, 32, True, "arm"),
    (EM_MIPS, 32, True, "mipsel"),
    (EM_386, 32, True, "i386"),
    (EM_PPC64, 64, True, "ppc64le"),
    (EM_S390, 64, False, "s390x"),
]


@pytest.mark.parametrize(("machine", "bits", "le", "arch"), ARCHES)
def test_arch_mapping(tmp_path: Path, machine: int, bits: int, le: bool, arch: str) -> None:
    base = 0x10000
    img = Img(
        bits=bits,
        little_endian=le,
        machine=machine,
        entry=base + 0x54,
        phdrs=[
            Ph(PT_INTERP, offset=0x100, vaddr=base + 0x100, filesz=9, memsz=9, align=1),
            Ph(PT_LOAD, offset=0, vaddr=base, filesz=0x1000, memsz=0x1000, flags=PF_R | PF_X),
            Ph(PT_LOAD, offset=0x1000, vaddr=base + 0x11000, filesz=0x20, memsz=0x100,
               flags=PF_R | PF_W),
            Ph(PT_TLS, offset=0x1000, vaddr=base + 0x11000, filesz=0x4, memsz=0x10, align=4),
            Ph(PT_GNU_STACK, flags=PF_R | PF_W),
        ],
        blobs={0x100: b"/lib/ld\0\0"},
    )
    e = parse(tmp_path, img)
    assert e.arch == arch
    assert e.bits == bits
    assert e.little_endian is le
    assert e.entry == base + 0x54
    assert e.phentsize == (56 if bits == 64 else 32)
    assert e.phnum == 5
    assert e.interp == "/lib/ld"
    assert [(s.vaddr, s.offset, s.filesz, s.memsz, s.flags) for s in e.segments] == [
        (base, 0, 0x1000, 0x1000, PF_R | PF_X),
        (base + 0x11000, 0x1000, 0x20, 0x100, PF_R | PF_W),
    ]
    assert e.tls is not None and e.tls.memsz == 0x10 and e.tls.align == 4
    assert e.exec_stack is False
    assert e.phdr_vaddr == base + (64 if bits == 64 else 52)


@pytest.mark.parametrize(
    ("machine", "bits", "le", "words"),
    [
        (EM_MIPS, 32, False, ["0x8", "mips", "big-endian"]),
        (EM_MIPS, 64, True, ["0x8", "mips", "64-bit"]),
        (EM_RISCV, 32, True, ["0xf3", "riscv", "32-bit"]),
        (EM_ARM, 32, False, ["0x28", "arm", "big-endian"]),
        (EM_AARCH64, 64, False, ["0xb7", "aarch64", "big-endian"]),
        (EM_AARCH64, 32, True, ["0xb7", "aarch64", "32-bit"]),
        (EM_X86_64, 32, True, ["0x3e", "x86_64", "32-bit"]),  # x32
        (EM_PPC64, 64, False, ["0x15", "ppc64", "big-endian"]),
        (EM_S390, 32, False, ["0x16", "s390", "32-bit"]),
        (EM_S390, 64, True, ["0x16", "little-endian"]),
        (0x1234, 64, True, ["0x1234"]),
        (258, 64, True, ["0x102", "loongarch"]),
    ],
)
def test_unsupported_machine(
    tmp_path: Path, machine: int, bits: int, le: bool, words: list[str]
) -> None:
    img = Img(bits=bits, little_endian=le, machine=machine, phdrs=[text_load()])
    err = expect_error(tmp_path, img, "^unsupported machine")
    for w in words:
        assert w in str(err)


def test_large_phoff_read_past_first_chunk(tmp_path: Path) -> None:
    # Program headers and interpreter string beyond the first 64 KiB: exercise pread.
    interp = b"/lib/ld-musl-x86_64.so.1\0"
    img = Img(
        phoff=0x11000,
        size=0x12000,
        phdrs=[
            Ph(PT_INTERP, offset=0x11800, vaddr=0, filesz=len(interp), memsz=len(interp)),
            Ph(PT_LOAD, offset=0, vaddr=BASE, filesz=0x12000, memsz=0x12000, flags=PF_R),
        ],
        blobs={0x11800: interp},
    )
    e = parse(tmp_path, img)
    assert e.interp == "/lib/ld-musl-x86_64.so.1"
    assert e.phdr_vaddr == BASE + 0x11000


def test_interp_nonascii_roundtrips(tmp_path: Path) -> None:
    raw = b"/opt/\xff\xfe/ld.so"
    img = default_img()
    img.phdrs.insert(0, Ph(PT_INTERP, offset=0x300, filesz=len(raw) + 1, memsz=len(raw) + 1))
    img.blobs = {0x300: raw + b"\0"}
    e = parse(tmp_path, img)
    assert e.interp is not None and os.fsencode(e.interp) == raw


def test_zero_memsz_load_does_not_overlap(tmp_path: Path) -> None:
    img = default_img()
    img.phdrs.append(Ph(PT_LOAD, offset=0x10, vaddr=BASE + 0x10, filesz=0, memsz=0))
    assert len(parse(tmp_path, img).segments) == 3


# --------------------------------------------------------------------------- malformed


def test_empty_file(tmp_path: Path) -> None:
    expect_error(tmp_path, b"", "^not an ELF file")


@pytest.mark.parametrize("data", [b"#!/bin/sh\necho hi\n", b"\x7fEL", b"MZ" + bytes(200)])
def test_not_elf(tmp_path: Path, data: bytes) -> None:
    expect_error(tmp_path, data, "^not an ELF file")


@pytest.mark.parametrize("cut", [4, 10, 16, 40, 63])
def test_truncated_header(tmp_path: Path, cut: int) -> None:
    expect_error(tmp_path, default_img().build()[:cut], "^truncated ELF header")


def test_truncated_header_elf32(tmp_path: Path) -> None:
    data = Img(bits=32, machine=EM_386, phdrs=[text_load()]).build()[:51]
    expect_error(tmp_path, data, "^truncated ELF header")


def test_truncated_phdrs(tmp_path: Path) -> None:
    data = default_img().build()[: 64 + 56 + 10]
    expect_error(tmp_path, data, "program headers out of file bounds")


def test_phoff_beyond_eof(tmp_path: Path) -> None:
    data = default_img(phoff=0x10000, size=0x2000).build()[:0x2000]
    expect_error(tmp_path, data, "program headers out of file bounds")


def test_phoff_zero(tmp_path: Path) -> None:
    img = default_img(size=0x2000)
    data = bytearray(img.build())
    struct.pack_into("<Q", data, 32, 0)
    expect_error(tmp_path, bytes(data), "program headers out of file bounds")


@pytest.mark.parametrize("cls", [0, 3, 0xFF])
def test_bad_class(tmp_path: Path, cls: int) -> None:
    expect_error(tmp_path, default_img(ident={4: cls}), "^unsupported ELF class")


@pytest.mark.parametrize("enc", [0, 3])
def test_bad_data_encoding(tmp_path: Path, enc: int) -> None:
    expect_error(tmp_path, default_img(ident={5: enc}), "^unsupported ELF data encoding")


def test_bad_version(tmp_path: Path) -> None:
    expect_error(tmp_path, default_img(ident={6: 0}), "^unsupported ELF version")


@pytest.mark.parametrize(("etype", "name"), [(0, "ET_NONE"), (1, "ET_REL"), (4, "ET_CORE"),
                                             (0xFE00, "0xfe00")])
def test_not_executable(tmp_path: Path, etype: int, name: str) -> None:
    err = expect_error(tmp_path, default_img(etype=etype), "^not an executable")
    assert name in str(err)


def test_bad_phentsize(tmp_path: Path) -> None:
    expect_error(tmp_path, default_img(phentsize=32), "e_phentsize")
    expect_error(tmp_path, Img(bits=32, machine=EM_386, phentsize=56, phdrs=[text_load()]),
                 "e_phentsize")


def test_entry_zero(tmp_path: Path) -> None:
    expect_error(tmp_path, default_img(entry=0), "entry")


def test_interp_without_nul(tmp_path: Path) -> None:
    img = default_img()
    img.phdrs.insert(0, Ph(PT_INTERP, offset=0x300, filesz=8, memsz=8))
    img.blobs = {0x300: b"/lib/ld.so"}
    expect_error(tmp_path, img, "^bad PT_INTERP")


def test_interp_empty(tmp_path: Path) -> None:
    img = default_img()
    img.phdrs.insert(0, Ph(PT_INTERP, offset=0x300, filesz=4, memsz=4))
    expect_error(tmp_path, img, "^bad PT_INTERP")


def test_interp_out_of_bounds(tmp_path: Path) -> None:
    img = default_img()
    img.phdrs.insert(0, Ph(PT_INTERP, offset=0x1FF0, filesz=0x20, memsz=0x20))
    expect_error(tmp_path, img, "^bad PT_INTERP")


def test_interp_too_long(tmp_path: Path) -> None:
    img = default_img(size=0x4000)
    img.phdrs.insert(0, Ph(PT_INTERP, offset=0x2000, filesz=0x1800, memsz=0x1800))
    img.blobs = {0x2000: b"/" * 0x17FF + b"\0"}
    expect_error(tmp_path, img, "^bad PT_INTERP")


def test_filesz_gt_memsz(tmp_path: Path) -> None:
    img = default_img()
    img.phdrs[1] = Ph(PT_LOAD, offset=0x1000, vaddr=BASE + 0x11000, filesz=0x200, memsz=0x100)
    expect_error(tmp_path, img, "filesz exceeds memsz")


def test_segment_beyond_eof(tmp_path: Path) -> None:
    img = default_img()
    img.phdrs[1] = Ph(PT_LOAD, offset=0x1000, vaddr=BASE + 0x11000, filesz=0x1001, memsz=0x2000)
    expect_error(tmp_path, img, "beyond end of file")


def test_segment_beyond_address_space(tmp_path: Path) -> None:
    img = Img(bits=32, machine=EM_386, entry=0x8048000,
              phdrs=[Ph(PT_LOAD, vaddr=0xFFFFF000, filesz=0x100, memsz=0x2000)])
    expect_error(tmp_path, img, "address space")


def test_no_pt_load(tmp_path: Path) -> None:
    img = Img(phdrs=[Ph(PT_GNU_STACK, flags=PF_R | PF_W), Ph(PT_NOTE, offset=0x100, filesz=4)])
    expect_error(tmp_path, img, "^no loadable segments")


def test_no_phdrs(tmp_path: Path) -> None:
    expect_error(tmp_path, Img(phdrs=[]), "^no loadable segments")


def test_too_many_phdrs(tmp_path: Path) -> None:
    expect_error(tmp_path, default_img(phnum=0xFFFF), "too many program headers")


def test_overlapping_loads(tmp_path: Path) -> None:
    img = default_img()
    img.phdrs.append(Ph(PT_LOAD, offset=0x800, vaddr=BASE + 0x800, filesz=0x10, memsz=0x1000))
    expect_error(tmp_path, img, "^PT_LOAD segment overlaps")


def test_offset_and_address_must_agree_modulo_the_page(tmp_path: Path) -> None:
    img = default_img()
    img.phdrs.append(Ph(PT_LOAD, offset=0x10, vaddr=BASE + 0x20000, filesz=0x10, memsz=0x10))
    expect_error(tmp_path, img, "^PT_LOAD offset and address differ modulo the page size")


# --------------------------------------------------------------------------- OS errors


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_elf(str(tmp_path / "nope"))


def test_directory_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        read_elf(str(tmp_path))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores modes")
def test_unreadable_raises_permission_error(tmp_path: Path) -> None:
    p = write(tmp_path, default_img().build())
    os.chmod(p, 0)
    try:
        with pytest.raises(PermissionError):
            read_elf(p)
    finally:
        os.chmod(p, 0o644)


# --------------------------------------------------------------------------- real binaries


def _require(path: str) -> str:
    if not os.path.isfile(path):
        pytest.skip(f"{path} not present")
    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            pytest.skip(f"{path} is not an ELF file")
    return path


def test_real_bin_ls() -> None:
    path = os.path.realpath(_require("/bin/ls"))
    if platform.machine() != "x86_64":
        pytest.skip("x86_64 host expected")
    e = read_elf(path)
    assert e.arch == "x86_64"
    assert e.bits == 64 and e.little_endian
    assert e.interp is not None and "ld-linux-x86-64" in e.interp
    assert e.segments
    assert e.phdr_vaddr is not None
    assert e.entry > 0
    assert e.max_vaddr > e.min_vaddr


def test_real_aarch64_ld_so() -> None:
    e = read_elf(_require("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1"))
    assert e.arch == "aarch64"
    assert e.is_pie
    assert e.interp is None
    assert e.min_vaddr == 0
    assert e.entry > 0
    assert any(s.flags & PF_X for s in e.segments)


@pytest.mark.parametrize(
    ("path", "arch"),
    [
        ("/usr/riscv64-linux-gnu/lib/ld-linux-riscv64-lp64d.so.1", "riscv64"),
        ("/usr/arm-linux-gnueabihf/lib/ld-linux-armhf.so.3", "arm"),
        ("/usr/mipsel-linux-gnu/lib/ld.so.1", "mipsel"),
        ("/usr/i686-linux-gnu/lib/ld-linux.so.2", "i386"),
        ("/usr/powerpc64le-linux-gnu/lib/ld64.so.2", "ppc64le"),
        ("/usr/s390x-linux-gnu/lib/ld64.so.1", "s390x"),
    ],
)
def test_real_cross_ld_so(path: str, arch: str) -> None:
    e = read_elf(_require(path))
    assert e.arch == arch
    assert e.is_pie
