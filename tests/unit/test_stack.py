"""Tests for loaders.stack.build_initial_stack: decode the blob like a libc _start would."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.stack import (
    AT_BASE,
    AT_ENTRY,
    AT_EXECFN,
    AT_HWCAP,
    AT_NULL,
    AT_PAGESZ,
    AT_PHDR,
    AT_PLATFORM,
    AT_RANDOM,
    build_initial_stack,
)

RANDOM = bytes(range(0xA0, 0xB0))


@dataclass
class Decoded:
    argc: int
    argv: list[bytes]
    envp: list[bytes]
    auxv: list[tuple[int, int]]
    argv_ptrs: list[int]
    envp_ptrs: list[int]
    vectors_end: int  # guest address just past the AT_NULL pair


class Reader:
    def __init__(self, sp: int, blob: bytes, wordsize: int, little_endian: bool) -> None:
        self.sp = sp
        self.blob = blob
        self.top = sp + len(blob)
        self.ws = wordsize
        self.fmt = ("<" if little_endian else ">") + ("I" if wordsize == 4 else "Q")

    def word(self, addr: int) -> int:
        assert self.sp <= addr and addr + self.ws <= self.top
        return int(struct.unpack_from(self.fmt, self.blob, addr - self.sp)[0])

    def cstr(self, addr: int) -> bytes:
        assert self.sp <= addr < self.top, hex(addr)
        off = addr - self.sp
        end = self.blob.index(b"\0", off)
        return self.blob[off:end]

    def raw(self, addr: int, n: int) -> bytes:
        assert self.sp <= addr and addr + n <= self.top
        return self.blob[addr - self.sp : addr - self.sp + n]

    def decode(self) -> Decoded:
        a = self.sp
        argc = self.word(a)
        a += self.ws
        argv_ptrs = []
        for _ in range(argc):
            argv_ptrs.append(self.word(a))
            a += self.ws
        assert self.word(a) == 0  # argv NULL
        a += self.ws
        envp_ptrs = []
        while (p := self.word(a)) != 0:
            envp_ptrs.append(p)
            a += self.ws
        a += self.ws
        auxv = []
        while True:
            key, val = self.word(a), self.word(a + self.ws)
            a += 2 * self.ws
            auxv.append((key, val))
            if key == AT_NULL:
                break
        return Decoded(
            argc=argc,
            argv=[self.cstr(p) for p in argv_ptrs],
            envp=[self.cstr(p) for p in envp_ptrs],
            auxv=auxv,
            argv_ptrs=argv_ptrs,
            envp_ptrs=envp_ptrs,
            vectors_end=a,
        )


def build(
    *,
    stack_top: int = 0x7FFFFFFFF000,
    wordsize: int = 8,
    little_endian: bool = True,
    argv: list[bytes] | None = None,
    envp: list[bytes] | None = None,
    auxv: list[tuple[int, int]] | None = None,
    execfn: bytes = b"/usr/bin/prog",
    platform: bytes | None = b"aarch64",
    random16: bytes = RANDOM,
) -> tuple[int, bytes, Reader, Decoded]:
    sp, blob = build_initial_stack(
        stack_top,
        wordsize=wordsize,
        little_endian=little_endian,
        argv=[b"prog", b"-x", b"arg two"] if argv is None else argv,
        envp=[b"HOME=/root", b"PATH=/bin"] if envp is None else envp,
        auxv=[(AT_PAGESZ, 4096), (AT_ENTRY, 0x401000)] if auxv is None else auxv,
        execfn=execfn,
        platform=platform,
        random16=random16,
    )
    r = Reader(sp, blob, wordsize, little_endian)
    return sp, blob, r, r.decode()


def check_layout(
    sp: int,
    blob: bytes,
    r: Reader,
    d: Decoded,
    *,
    stack_top: int,
    argv: list[bytes],
    envp: list[bytes],
    auxv: list[tuple[int, int]],
    execfn: bytes,
    platform: bytes | None,
    random16: bytes,
    wordsize: int,
) -> None:
    """Every invariant of Linux's create_elf_tables layout."""
    mask = (1 << (8 * wordsize)) - 1
    assert sp % 16 == 0
    assert len(blob) == stack_top - sp
    assert d.argc == len(argv)
    assert d.argv == argv
    assert d.envp == envp

    # auxv: caller's entries first, in order, then RANDOM, EXECFN, [PLATFORM], NULL.
    n = len(auxv)
    assert d.auxv[:n] == [(k, v & mask) for k, v in auxv]
    tail_keys = [k for k, _ in d.auxv[n:]]
    expected = [AT_RANDOM, AT_EXECFN] + ([AT_PLATFORM] if platform is not None else [])
    assert tail_keys == [*expected, AT_NULL]
    assert d.auxv[-1] == (AT_NULL, 0)
    tail = dict(d.auxv[n:])
    random_addr = tail[AT_RANDOM]
    execfn_addr = tail[AT_EXECFN]
    assert r.raw(random_addr, 16) == random16
    assert r.cstr(execfn_addr) == execfn

    # Strings block, from the top: 8 zero bytes, execfn, envp strings, argv strings.
    assert blob[-8:] == bytes(8)
    assert execfn_addr == stack_top - 8 - len(execfn) - 1
    cursor = execfn_addr
    for s, p in zip(reversed(envp), reversed(d.envp_ptrs), strict=True):
        cursor -= len(s) + 1
        assert p == cursor
    for s, p in zip(reversed(argv), reversed(d.argv_ptrs), strict=True):
        cursor -= len(s) + 1
        assert p == cursor
    strings_start = cursor

    # Below the strings (16-aligned): platform string, then the random bytes.
    aligned = strings_start & ~15
    if platform is not None:
        platform_addr = tail[AT_PLATFORM]
        assert platform_addr == aligned - len(platform) - 1
        assert r.cstr(platform_addr) == platform
        assert random_addr == platform_addr - 16
    else:
        assert random_addr == aligned - 16

    # Vectors end below the random bytes, with less than 16 bytes of zero padding.
    assert d.vectors_end <= random_addr
    assert random_addr - d.vectors_end < 16
    assert r.raw(d.vectors_end, random_addr - d.vectors_end) == bytes(random_addr - d.vectors_end)
    assert r.raw(aligned, strings_start - aligned) == bytes(strings_start - aligned)


# --------------------------------------------------------------------------- examples


def test_known_answer_x86_64() -> None:
    # top=...f000; 8 zero bytes; "/bin/ls\0" at ...eff0; "ls\0-l\0A=1\0" at ...efe6;
    # align -> ...efe0; "x86_64\0" at ...efd9; random at ...efc9; 5 auxv pairs (80 B)
    # -> ...ef79; 6 words (argc, 2 argv, NULL, 1 envp, NULL) -> ...ef49; &~15 -> ...ef40.
    sp, blob, _, d = build(
        argv=[b"ls", b"-l"],
        envp=[b"A=1"],
        auxv=[(AT_PAGESZ, 4096)],
        execfn=b"/bin/ls",
        platform=b"x86_64",
    )
    assert sp == 0x7FFFFFFFEF40
    assert d.argv_ptrs == [0x7FFFFFFFEFE6, 0x7FFFFFFFEFE9]
    assert d.envp_ptrs == [0x7FFFFFFFEFEC]
    assert d.auxv == [
        (AT_PAGESZ, 4096),
        (AT_RANDOM, 0x7FFFFFFFEFC9),
        (AT_EXECFN, 0x7FFFFFFFEFF0),
        (AT_PLATFORM, 0x7FFFFFFFEFD9),
        (AT_NULL, 0),
    ]
    assert blob[:8] == struct.pack("<Q", 2)


def test_known_answer_arm32() -> None:
    # top=0xbf000000; zero gap -> ...fff8; "/p\0" -> ...fff5; "p\0" -> ...fff3;
    # align -> ...fff0; "v7l\0" -> ...ffec; random -> ...ffdc; 4 auxv pairs (32 B)
    # -> ...ffbc; 4 words (argc, argv[0], NULL, envp NULL) = 16 B -> ...ffac;
    # &~15 -> ...ffa0.
    sp, blob, _, d = build(
        stack_top=0xBF000000,
        wordsize=4,
        argv=[b"p"],
        envp=[],
        auxv=[],
        execfn=b"/p",
        platform=b"v7l",
    )
    assert sp == 0xBEFFFFA0
    assert d.argv_ptrs == [0xBEFFFFF3]
    assert d.auxv == [
        (AT_RANDOM, 0xBEFFFFDC),
        (AT_EXECFN, 0xBEFFFFF5),
        (AT_PLATFORM, 0xBEFFFFEC),
        (AT_NULL, 0),
    ]
    assert blob[:4] == b"\x01\0\0\0"


@pytest.mark.parametrize("wordsize", [4, 8])
@pytest.mark.parametrize("little_endian", [True, False])
@pytest.mark.parametrize("platform", [b"v7l", None])
def test_layout_word_sizes_and_endianness(
    wordsize: int, little_endian: bool, platform: bytes | None
) -> None:
    top = 0x7FFF8000 if wordsize == 4 else 0x7FFFFFFFF000
    argv = [b"/bin/prog", b"", b"x" * 37]
    envp = [b"A=B", b"LONG=" + b"y" * 100]
    auxv = [(AT_PHDR, top // 2 + 0x40), (AT_BASE, 0), (AT_HWCAP, 0x8FB), (AT_ENTRY, 0x1000)]
    sp, blob, r, d = build(
        stack_top=top,
        wordsize=wordsize,
        little_endian=little_endian,
        argv=argv,
        envp=envp,
        auxv=auxv,
        execfn=b"/bin/prog",
        platform=platform,
    )
    check_layout(
        sp, blob, r, d,
        stack_top=top, argv=argv, envp=envp, auxv=auxv, execfn=b"/bin/prog",
        platform=platform, random16=RANDOM, wordsize=wordsize,
    )
    # argc decodes with the right endianness (sanity against symmetric bugs)
    fmt = ("<" if little_endian else ">") + ("I" if wordsize == 4 else "Q")
    assert struct.unpack_from(fmt, blob, 0)[0] == 3
    wrong = ("<" if not little_endian else ">") + ("I" if wordsize == 4 else "Q")
    assert struct.unpack_from(wrong, blob, 0)[0] != 3


def test_no_platform_means_no_at_platform() -> None:
    _, _, _, d = build(platform=None)
    assert AT_PLATFORM not in dict(d.auxv)


def test_empty_argv_envp() -> None:
    sp, _, _, d = build(argv=[], envp=[], auxv=[])
    assert d.argc == 0 and d.argv == [] and d.envp == []
    assert sp % 16 == 0
    assert [k for k, _ in d.auxv] == [AT_RANDOM, AT_EXECFN, AT_PLATFORM, AT_NULL]


def test_unaligned_stack_top() -> None:
    top = 0x7FFFFFFFEFF7
    sp, blob, _, d = build(stack_top=top)
    assert sp % 16 == 0
    assert len(blob) == top - sp
    assert dict(d.auxv)[AT_EXECFN] == top - 8 - len(b"/usr/bin/prog") - 1


def test_negative_auxv_value_is_twos_complement() -> None:
    _, _, _, d = build(wordsize=4, stack_top=0xC0000000, auxv=[(AT_BASE, -1)])
    assert d.auxv[0] == (AT_BASE, 0xFFFFFFFF)


def test_high_addresses_fit_32bit() -> None:
    sp, _, _, d = build(stack_top=0x1_0000_0000, wordsize=4)
    assert sp < 0x1_0000_0000
    assert all(p < 0x1_0000_0000 for p in d.argv_ptrs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"wordsize": 2}, "wordsize"),
        ({"random16": b"short"}, "random16"),
        ({"argv": [b"a\0b"]}, "NUL"),
        ({"envp": [b"X=\0"]}, "NUL"),
        ({"execfn": b"/bin\0"}, "NUL"),
        ({"platform": b"v7\0"}, "NUL"),
        ({"auxv": [(AT_BASE, 1 << 32)], "wordsize": 4, "stack_top": 0xC0000000}, "fit"),
        ({"stack_top": 0x40}, "fit"),
        ({"stack_top": (1 << 32) + 16, "wordsize": 4}, "stack_top"),
        ({"stack_top": 0}, "stack_top"),
    ],
)
def test_invalid_inputs(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- property


no_nul = st.binary(max_size=40).map(lambda b: b.replace(b"\0", b"\1"))


@settings(max_examples=300, deadline=None)
@given(
    argv=st.lists(no_nul, max_size=12),
    envp=st.lists(no_nul, max_size=12),
    aux_values=st.lists(st.integers(min_value=0, max_value=0xFFFFFFFF), max_size=8),
    execfn=no_nul,
    platform=st.none() | no_nul,
    random16=st.binary(min_size=16, max_size=16),
    wordsize=st.sampled_from([4, 8]),
    little_endian=st.booleans(),
    top_offset=st.integers(min_value=0, max_value=0xFFFF),
)
def test_property_layout(
    argv: list[bytes],
    envp: list[bytes],
    aux_values: list[int],
    execfn: bytes,
    platform: bytes | None,
    random16: bytes,
    wordsize: int,
    little_endian: bool,
    top_offset: int,
) -> None:
    top = (0xBF000000 if wordsize == 4 else 0x7FFFFFFFF000) - top_offset
    auxv = [(100 + i, v) for i, v in enumerate(aux_values)]
    sp, blob, r, d = build(
        stack_top=top,
        wordsize=wordsize,
        little_endian=little_endian,
        argv=argv,
        envp=envp,
        auxv=auxv,
        execfn=execfn,
        platform=platform,
        random16=random16,
    )
    check_layout(
        sp, blob, r, d,
        stack_top=top, argv=argv, envp=envp, auxv=auxv, execfn=execfn,
        platform=platform, random16=random16, wordsize=wordsize,
    )
