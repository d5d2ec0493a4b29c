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
