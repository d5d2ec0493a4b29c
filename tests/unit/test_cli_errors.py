"""Bad input gets one line on stderr and a distinct exit status, never a traceback."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from support import run_cmd


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return run_cmd([sys.executable, "-m", "usermode", *args], capture_output=True,
                          timeout=60)


def one_line(p: subprocess.CompletedProcess[bytes]) -> str:
    err = p.stderr.decode()
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("usermode: ")
    return err


def test_missing_file_is_127(tmp_path: Path) -> None:
    p = run("run", str(tmp_path / "nope"))
    assert p.returncode == 127
    assert "No such file" in one_line(p)


def test_not_elf_is_126(tmp_path: Path) -> None:
    f = tmp_path / "text"
    f.write_bytes(b"#!/bin/sh\necho hi\n" * 10)
    p = run("run", str(f))
    assert p.returncode == 126
    assert "not an ELF file" in one_line(p)


def test_truncated_elf_is_126(tmp_path: Path) -> None:
    f = tmp_path / "trunc"
    f.write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 9)
    p = run("run", str(f))
    assert p.returncode == 126
    assert "truncated" in one_line(p)


def test_unknown_machine_is_126(tmp_path: Path) -> None:
    ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
    hdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x1234, 1, 0x1000, 64, 0, 0, 64, 56, 1, 64,
                              0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x1000, 0x1000, 120, 120, 0x1000)
    f = tmp_path / "alien"
    f.write_bytes(hdr + ph)
    p = run("run", str(f))
    assert p.returncode == 126
    assert "unsupported machine 0x1234" in one_line(p)


def test_directory_is_126(tmp_path: Path) -> None:
    p = run("run", str(tmp_path))
    assert p.returncode == 126
    one_line(p)


def test_no_program_and_bad_option_are_usage_errors() -> None:
    p = run("run")
    assert p.returncode == 2
    one_line(p)
    p = run("run", "-nonsense", "x")
    assert p.returncode == 2
    assert "unknown option" in one_line(p)


def test_unknown_command() -> None:
    p = run("frobnicate")
    assert p.returncode == 2
    one_line(p)


def test_version_and_help() -> None:
    p = run("--version")
    assert p.returncode == 0 and p.stdout.startswith(b"usermode ")
    p = run("run", "--help")
    assert p.returncode == 0 and b"usage: usermode run" in p.stdout


@pytest.mark.parametrize("arch", ["aarch64", "x86_64"])
def test_unsupported_arch_elf_message(tmp_path: Path, arch: str) -> None:
    # ppc64le is parsed but not runnable yet: a clear message, status 126
    ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
    hdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 21, 1, 0x10000, 64, 0, 0, 64, 56, 1, 64,
                              0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x10000, 0x10000, 120, 120, 0x1000)
    f = tmp_path / "ppc"
    f.write_bytes(hdr + ph)
    p = run("run", str(f))
    assert p.returncode == 126
    assert "ppc64le" in one_line(p)


def _elf(tmp_path: Path, name: str, *, offset: int = 0, vaddr: int = 0x400000,
         filesz: int = 120, memsz: int = 120, align: int = 0x1000, etype: int = 2) -> Path:
    """A one-segment aarch64 executable with the given PT_LOAD fields."""
    ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
    hdr = ident + struct.pack("<HHIQQQIHHHHHH", etype, 183, 1, vaddr + 0x78, 64, 0, 0, 64, 56,
                              1, 64, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, offset, vaddr, vaddr, filesz, memsz, align)
    f = tmp_path / name
    f.write_bytes((hdr + ph).ljust(0x1000, b"\0"))
    return f


def test_segment_offset_and_address_disagreeing_is_126(tmp_path: Path) -> None:
    p = run("run", str(_elf(tmp_path, "skew", offset=0x10, filesz=0x10)))
    assert p.returncode == 126
    assert "modulo the page size" in one_line(p)


def test_a_segment_larger_than_memory_is_126_at_once(tmp_path: Path) -> None:
    """64 GiB of bss: refused with the reason (it once hung, filling a per-page table)."""
    p = run("run", str(_elf(tmp_path, "huge", memsz=64 << 30)))
    assert p.returncode == 126
    assert "cannot map" in one_line(p)


@pytest.mark.parametrize("vaddr", [1 << 48, (1 << 48) - 0x1000])
def test_an_unmappable_address_is_126(tmp_path: Path, vaddr: int) -> None:
    """Above aarch64's 48-bit user space (or running into it): refused with the reason."""
    p = run("run", str(_elf(tmp_path, "far", vaddr=vaddr, memsz=0x2000)))
    assert p.returncode == 126
    assert "cannot map" in one_line(p)


def test_a_huge_alignment_is_126_or_runs(tmp_path: Path) -> None:
    """A PIE asking for 1 TiB alignment: placed or refused with the reason, never exit 70."""
    p = run("run", str(_elf(tmp_path, "align", vaddr=0, etype=3, align=1 << 40)))
    assert p.returncode != 70 and b"Traceback" not in p.stderr


def test_a_fifo_is_126_not_a_hang(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    p = run("run", str(fifo))
    assert p.returncode == 126
    assert "Permission denied" in one_line(p)
