"""`usermode binfmt`: the lines qemu-binfmt-conf.sh would write, and, where binfmt_misc can
be mounted in a private user+mount namespace (Linux 6.7 and later), a foreign binary run
directly by the kernel through usermode."""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import run_cmd

from usermode.cli.binfmt import ENTRIES

# qemu-binfmt-conf.sh's values (QEMU 7.2), as bytes
KNOWN = {
    "aarch64": ("7f454c460201010000000000000000000200b700",
                "ffffffffffffff00fffffffffffffffffeffffff"),
    "arm": ("7f454c4601010100000000000000000002002800",
            "ffffffffffffff00fffffffffffffffffeffffff"),
    "riscv64": ("7f454c460201010000000000000000000200f300",
                "ffffffffffffff00fffffffffffffffffeffffff"),
    "mipsel": ("7f454c46010101000000000000000000020008000000000000000000000000000000000000",
               "ffffffffffffff00fefffffffffffffffeffffff0000000000000000000000000000000020"),
    "i386": ("7f454c4601010100000000000000000002000300",
             "fffffffffffefe00fffffffffffffffffeffffff"),
    "x86_64": ("7f454c4602010100000000000000000002003e00",
               "fffffffffffefe00fffffffffffffffffeffffff"),
}


def binfmt(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cmd([sys.executable, "-m", "usermode", "binfmt", *args],
                          capture_output=True, text=True, timeout=60)


def fields(line: str) -> list[str]:
    return line.split(":")


@pytest.mark.parametrize("arch", sorted(KNOWN))
def test_magic_and_mask_are_qemus(arch: str) -> None:
    p = binfmt("print", "--arch", arch, "--launcher", "/opt/x/launcher")
    assert p.returncode == 0, p.stderr
    (line,) = p.stdout.splitlines()
    f = fields(line)
    assert f[1] == f"usermode-{arch}" and f[2] == "M" and f[3] == ""
    assert codecs.escape_decode(f[4].encode())[0].hex() == KNOWN[arch][0]
    assert codecs.escape_decode(f[5].encode())[0].hex() == KNOWN[arch][1]
    assert f[6] == "/opt/x/launcher" and f[7] == ""


@pytest.mark.parametrize("arch", ("aarch64", "arm", "riscv64", "mipsel"))
def test_same_bytes_as_debians_qemu_user_binfmt(arch: str) -> None:
    conf = Path(f"/usr/lib/binfmt.d/qemu-{arch}.conf")
    if not conf.exists():
        pytest.skip(f"{conf} not installed (Debian's qemu-user-binfmt): nothing to compare")
    theirs = next(x for x in conf.read_text().splitlines() if x.startswith(":"))
    magic, mask = ENTRIES[arch]
    assert codecs.escape_decode(fields(theirs)[4].encode())[0] == magic
    assert codecs.escape_decode(fields(theirs)[5].encode())[0] == mask


def test_flags_and_default_arches() -> None:
    p = binfmt("print", "--persistent", "--credential", "--preserve-argv0")
    lines = p.stdout.splitlines()
    names = [fields(x)[1] for x in lines]
    if os.uname().machine == "x86_64":  # the host's own family is left to the host
        assert names == ["usermode-aarch64", "usermode-riscv64", "usermode-arm",
                         "usermode-mipsel", "usermode-s390x"]
    assert all(fields(x)[7] == "OCFP" for x in lines)
    assert all(fields(x)[6].endswith("/usermode-binfmt-P") for x in lines)
    p = binfmt("print", "--arch", "arm")
    assert fields(p.stdout.strip())[6].endswith("/usermode-binfmt")


@pytest.mark.parametrize("args", [("print", "--arch", "sparc"), ("bogus",), ("print", "-x"),
                                  ("register", "--mount", "/nonexistent")])
def test_bad_input_is_one_line(args: tuple[str, ...]) -> None:
    p = binfmt(*args)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("usermode: binfmt: ")


def test_the_kernel_runs_a_foreign_binary(guest, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1): cannot make a private binfmt_misc")
    probe = run_cmd([unshare, "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc"],
                           capture_output=True, text=True)
    if probe.returncode:
        pytest.skip("binfmt_misc cannot be mounted in a user namespace here (needs Linux "
                    f"6.7+ and unprivileged user namespaces): {probe.stderr.strip()}")
    prog = tmp_path / "args-aarch64"
    shutil.copy(guest("args", "aarch64"), prog)
    prog.chmod(0o755)
    script = f"""
set -e
mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
{sys.executable} -m usermode binfmt register --arch aarch64 --preserve-argv0
{prog} one two
{sys.executable} -c 'import os; os.execv("{prog}", ["renamed", "three"])'
{sys.executable} -m usermode binfmt unregister --arch aarch64
test ! -e /proc/sys/fs/binfmt_misc/usermode-aarch64
"""
    p = run_cmd([unshare, "--user", "--map-root-user", "--mount", "sh", "-c", script],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert f"argv[0]={prog}" in out and "argv[1]=one" in out and "argv[2]=two" in out
    assert "argv[0]=renamed" in out and "argv[1]=three" in out  # the P flag's argv[0]
