"""Struct layouts per ABI, against sizes and offsets from the cross compilers (docs/abi.md §3)."""

from __future__ import annotations

import os

import pytest

from syscalls.abi import get
from syscalls.abi.structs import STAT_GENERIC, STAT_X86_64, Layout


class _Shape:
    def __init__(self, wordsize: int, little: bool, align64: int) -> None:
        self.wordsize, self.little_endian, self.align64 = wordsize, little, align64


@pytest.mark.parametrize(("arch", "size", "offsets"), [
    ("aarch64", 128, {"st_mode": 16, "st_nlink": 20, "st_uid": 24, "st_rdev": 32,
                      "st_size": 48, "st_blksize": 56, "st_blocks": 64, "st_atime": 72,
                      "st_mtime": 88, "st_ctime": 104}),
    ("x86_64", 144, {"st_ino": 8, "st_nlink": 16, "st_mode": 24, "st_uid": 28, "st_gid": 32,
                     "st_rdev": 40, "st_size": 48, "st_blksize": 56, "st_blocks": 64,
                     "st_atime": 72, "st_mtime": 88, "st_ctime": 104}),
])
def test_stat_layout(arch: str, size: int, offsets: dict[str, int]) -> None:
    layout = get(arch).stat
    assert layout.size == size
    for name, off in offsets.items():
        assert layout.offsets[name] == off, name


def test_small_structs_64bit() -> None:
    for arch in ("aarch64", "x86_64"):
        abi = get(arch)
        assert abi.timespec.size == 16
        assert abi.iovec.size == 16
        assert abi.rlimit64.size == 16
        assert abi.sysinfo.size == 112
        assert abi.sysinfo.offsets["procs"] == 80
        assert abi.sysinfo.offsets["mem_unit"] == 104
        assert abi.winsize.size == 8


def test_32bit_alignment_rules() -> None:
    # the same field list: i386 aligns 8-byte members to 4, ARM EABI to 8
    fields = [("a", "u32"), ("b", "u64")]
    assert Layout(fields, _Shape(4, True, 4)).size == 12
    assert Layout(fields, _Shape(4, True, 8)).size == 16
    assert Layout(STAT_GENERIC, _Shape(8, True, 8)).size == 128
    assert Layout(STAT_X86_64, _Shape(8, True, 8)).size == 144


def test_stat_roundtrip_values() -> None:
    st = os.stat("/")
    for arch in ("aarch64", "x86_64"):
        abi = get(arch)
        vals = abi.stat.unpack_dict(abi.to_guest_stat(st))
        assert vals["st_ino"] == st.st_ino
        assert vals["st_mode"] == st.st_mode
        assert vals["st_size"] == st.st_size
        assert vals["st_mtime"] == st.st_mtime_ns // 10**9


def test_open_flag_translation_aarch64() -> None:
    abi = get("aarch64")
    # guest O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC -> host values
    assert abi.from_guest_open_flags(0x4000 | 0x8000 | 0x80000) == 0x10000 | 0x20000 | 0x80000
    # host O_LARGEFILE (reported by F_GETFL) -> guest 0x20000
    assert abi.to_guest_open_flags(0x8000 | 0x2) == 0x20000 | 0x2
    for flags in (0, 0x41, 0x4000, 0x3C000, 0x80000 | 0x10000):
        assert abi.to_guest_open_flags(abi.from_guest_open_flags(flags)) == flags
    x86 = get("x86_64")
    assert x86.from_guest_open_flags(0x10000) == 0x10000


def test_stat_of_a_file_before_1970_packs() -> None:
    fields = list(os.stat("/"))
    # st_atime, st_mtime, st_ctime as floats; the *_ns fields come from the extra slots
    st = os.stat_result((*fields[:7], -100, -100, -100),
                        {"st_atime_ns": -100 * 10**9, "st_mtime_ns": -100 * 10**9,
                         "st_ctime_ns": -100 * 10**9, "st_blksize": 4096, "st_blocks": 8,
                         "st_rdev": 0})
    for arch in ("aarch64", "x86_64"):
        abi = get(arch)
        vals = abi.stat.unpack_dict(abi.to_guest_stat(st))
        got = vals["st_mtime"]
        assert got == -100 or got == (1 << 64) - 100  # signed on aarch64, unsigned on x86_64
