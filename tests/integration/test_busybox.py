"""Debian's busybox-static, unmodified, run on real files and compared with qemu-user."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from fetch_debs import fetch
from support import run_cmd

ARCHES = {"aarch64": "qemu-aarch64", "x86_64": None,  # x86_64 guest: the host runs it natively
          "arm": "qemu-arm", "mipsel": "qemu-mipsel", "i386": "qemu-i386",
          "riscv64": "qemu-riscv64"}  # riscv64: from trixie (tools/fetch_debs.py SUITES)


@pytest.fixture(scope="module", params=sorted(ARCHES))
def busybox(request: pytest.FixtureRequest) -> tuple[str, Path]:
    arch = request.param
    try:
        root = fetch(arch, ["busybox-static"])
    except (RuntimeError, OSError) as e:
        pytest.skip(f"cannot fetch Debian busybox-static for {arch}: {e}")
    bb = next((b for b in (Path(root) / "bin" / "busybox", Path(root) / "usr/bin/busybox")
               if b.exists()), None)  # trixie's packages install into /usr
    if bb is None:
        pytest.skip(f"busybox not found in the {arch} package")
    return arch, bb


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bbdata")
    (d / "fruits.txt").write_text("banana\napple\ncherry\napple pie\n")
    (d / "numbers.txt").write_text("".join(f"{(i * 7919) % 1000} {i}\n" for i in range(500)))
    (d / "blob.bin").write_bytes(bytes(range(256)) * 1000)
    (d / "sub").mkdir()
    (d / "sub" / "x").write_text("x")
    os.symlink("fruits.txt", d / "link")
    return d


def um(bb: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return run_cmd([sys.executable, "-m", "usermode", "run", str(bb), *args],
                          capture_output=True, cwd=cwd, timeout=120)


def reference(arch: str, bb: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    qemu = ARCHES[arch]
    if qemu is None:
        cmd = [str(bb), *args]
    else:
        if shutil.which(qemu) is None:
            pytest.skip(f"{qemu} not installed: no reference to compare with")
        cmd = [qemu, str(bb), *args]
    return run_cmd(cmd, capture_output=True, cwd=cwd, timeout=120)


CASES = [
    ("echo", "hello", "world"),
    ("cat", "fruits.txt", "numbers.txt"),
    ("sort", "fruits.txt"),
    ("sort", "-n", "-k1,1", "-k2,2r", "numbers.txt"),
    ("wc", "fruits.txt", "numbers.txt", "blob.bin"),
    ("sha256sum", "fruits.txt", "blob.bin"),
    ("md5sum", "blob.bin"),
    ("sed", "-e", "s/an/AN/g", "-e", "/cherry/d", "fruits.txt"),
    ("awk", "{ s += $1 } END { print s, NR }", "numbers.txt"),
    ("awk", "-F", " ", "$2 % 97 == 0 { printf \"%05d|%s\\n\", $1, $2 }", "numbers.txt"),
    ("ls", "-la", "--color=never", "."),
    ("ls", "-lR", "sub"),
    ("head", "-n", "3", "numbers.txt"),
    ("tail", "-c", "20", "numbers.txt"),
    ("grep", "-c", "apple", "fruits.txt"),
    ("tr", "a-z", "A-Z", "fruits.txt"),
    ("uniq", "-c", "fruits.txt"),
    ("cut", "-d", " ", "-f", "2", "numbers.txt"),
    ("readlink", "link"),
    ("stat", "-c", "%s %F", "fruits.txt", "sub", "link"),
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c[:2]) for c in CASES])
def test_busybox_matches_reference(busybox: tuple[str, Path], files: Path,
                                   args: tuple[str, ...]) -> None:
    arch, bb = busybox
    got = um(bb, *args, cwd=files)
    want = reference(arch, bb, *args, cwd=files)
    assert got.stderr.decode() == want.stderr.decode()
    assert got.stdout == want.stdout
    assert got.returncode == want.returncode


def test_busybox_sha256_is_correct(busybox: tuple[str, Path], files: Path) -> None:
    got = um(busybox[1], "sha256sum", "blob.bin", cwd=files)
    digest = hashlib.sha256((files / "blob.bin").read_bytes()).hexdigest()
    assert got.stdout.decode().split()[0] == digest


def test_busybox_pipeline_through_stdin(busybox: tuple[str, Path], files: Path) -> None:
    p = run_cmd([sys.executable, "-m", "usermode", "run", str(busybox[1]), "sort", "-r"],
                       input=b"b\na\nc\n", capture_output=True, timeout=60)
    assert p.stdout == b"c\nb\na\n" and p.returncode == 0


def test_busybox_large_output_through_a_pipe(busybox: tuple[str, Path], files: Path) -> None:
    # 256 KB written in large chunks to a pipe the reader drains: writes bigger than PIPE_BUF
    # must wait outside the engine, not block inside it, and lose nothing
    got = um(busybox[1], "cat", "blob.bin", "blob.bin", cwd=files)
    assert got.returncode == 0
    assert got.stdout == (files / "blob.bin").read_bytes() * 2


def test_busybox_exit_status(busybox: tuple[str, Path], files: Path) -> None:
    assert um(busybox[1], "false", cwd=files).returncode == 1
    assert um(busybox[1], "sh", "-c", "exit 42", cwd=files).returncode == 42
    p = um(busybox[1], "cat", "no-such-file", cwd=files)
    assert p.returncode == 1
    assert b"No such file or directory" in p.stderr


def test_strace_follows_a_shell_to_a_native_program(busybox: tuple[str, Path], files: Path,
                                                    tmp_path: Path) -> None:
    """A foreign shell that runs a host program: the execve line, then where tracing
    stops (the host runs the native program itself)."""
    arch, bb = busybox
    if arch == "x86_64":
        pytest.skip("an x86_64 guest's x86_64 children are emulated, not native")
    true = shutil.which("true")
    assert true is not None
    log = tmp_path / "trace.txt"
    p = run_cmd([sys.executable, "-m", "usermode", "strace", "-o", str(log),
                        "-e", "trace=execve,wait4", str(bb), "sh", "-c", f"{true}; echo $?"],
                       capture_output=True, cwd=files, timeout=120)
    assert p.returncode == 0 and p.stdout == b"0\n", p.stderr
    text = log.read_text()
    assert re.search(rf'^\d+ execve\("{re.escape(true)}", \["{re.escape(true)}"\], 0x[0-9a-f]+ '
                     r"/\* \d+ vars \*/\) = 0$", text, re.M), text
    assert "+++ running a native program: not traced further +++" in text
    assert re.search(r"WIFEXITED\(s\) && WEXITSTATUS\(s\) == 0", text), text
