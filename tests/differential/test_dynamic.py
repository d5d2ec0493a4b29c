"""Dynamically linked glibc programs through PT_INTERP and the sysroot overlay."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from guestbuild import GuestBuildError, ToolchainMissing, build_guest
from support import run_cmd

CROSS_SYSROOT = {"aarch64": "/usr/aarch64-linux-gnu"}


def um(*args: str) -> subprocess.CompletedProcess[bytes]:
    return run_cmd([sys.executable, "-m", "usermode", "run", *args], capture_output=True,
                          timeout=120)


def dyn_build(name: str, arch: str, pie: bool) -> Path:
    try:
        return build_guest(name, arch, "glibc", pie=pie, dynamic=True)
    except ToolchainMissing as e:
        pytest.skip(str(e))
    except GuestBuildError as e:
        pytest.fail(str(e), pytrace=False)


def reference(arch: str, binary: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    if arch == "x86_64":
        return run_cmd([str(binary), *args], capture_output=True, timeout=120)
    qemu = f"qemu-{arch}"
    if shutil.which(qemu) is None:
        pytest.skip(f"{qemu} not installed: no reference")
    return run_cmd([qemu, "-L", CROSS_SYSROOT[arch], str(binary), *args],
                          capture_output=True, timeout=120)


def sysroot_args(arch: str) -> list[str]:
    root = CROSS_SYSROOT.get(arch)
    if root is None:
        return []
    if not os.path.isdir(root):
        pytest.skip(f"{root} missing (Debian libc6-dev-{arch}-cross)")
    return ["-L", root]


@pytest.mark.parametrize("pie", [True, False], ids=["pie", "nopie"])
@pytest.mark.parametrize("prog", ["hello", "dynlib", "fileio", "compute"])
@pytest.mark.parametrize("arch", ["aarch64", "x86_64"])
def test_dynamic_glibc_matches_reference(arch: str, prog: str, pie: bool,
                                         tmp_path: Path) -> None:
    binary = dyn_build(prog, arch, pie)
    args = []
    if prog == "fileio":
        (tmp_path / "ref").mkdir()
        (tmp_path / "emu").mkdir()
    want = reference(arch, binary, *([str(tmp_path / "ref")] if prog == "fileio" else args))
    got = um(*sysroot_args(arch), str(binary), *([str(tmp_path / "emu")] if prog == "fileio"
                                                  else args))
    assert got.stdout.decode().replace(str(tmp_path / "emu"), "<scratch>") == \
        want.stdout.decode().replace(str(tmp_path / "ref"), "<scratch>")
    assert got.returncode == want.returncode == 0, got.stderr.decode()


def test_default_sysroot_is_found_without_L() -> None:
    if not os.path.isdir(CROSS_SYSROOT["aarch64"]):
        pytest.skip("no Debian aarch64 cross sysroot")
    got = um(str(dyn_build("hello", "aarch64", True)))
    assert got.returncode == 0 and got.stdout == b"hello, world\n"


def test_missing_interpreter_is_one_line_and_127(tmp_path: Path) -> None:
    binary = dyn_build("hello", "aarch64", True)
    got = um("-L", str(tmp_path), str(binary))
    err = got.stderr.decode()
    assert got.returncode == 127
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "ld-linux-aarch64.so.1" in err and str(tmp_path) in err
