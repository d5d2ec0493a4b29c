"""Debian's own dynamically linked programs on every arch, not only arm64.

For armhf, armel, mipsel, i386, amd64 (bookworm) and riscv64 (trixie), tools/fetch_debs.py
unpacks a small rootfs (bash, coreutils, python3, perl, lua5.4, sqlite3, xz, zstd) into
~/.cache/usermode-debs/<arch>/root, and each program runs with `-L` under usermode. A
program that stays one process is compared with qemu-user; one that forks and execs foreign
programs (qemu-user needs binfmt_misc for that) with the output Linux gives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from fetch_debs import fetch
from support import run_cmd

CORPUS = ["libc6", "coreutils", "bash", "python3-minimal", "lua5.4", "xz-utils", "perl-base",
          "sqlite3", "zstd"]
ARCHES = [  # ours, qemu's
    ("arm", "arm"), ("mipsel", "mipsel"), ("i386", "i386"), ("x86_64", "x86_64"),
    ("riscv64", "riscv64"), ("armel", "arm"),
]
TIMEOUT = 600  # mipsel's python3 start-up alone takes seconds; a loaded machine, many more

PY_THREADS = """
import threading, hashlib
out = {}
def work(n):
    out[n] = hashlib.sha256(str(n).encode() * 5000).hexdigest()[:12]
ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(sorted(out.items()), sum(i * i for i in range(20000)))
"""
PY_SUBPROCESS = """
import subprocess
r = subprocess.run(["/bin/sh", "-c", "echo from-sh; exit 3"], capture_output=True, text=True)
print(repr(r.stdout), r.returncode)
print(subprocess.check_output(["sort", "-r"], input=b"a\\nc\\nb\\n").decode().split())
"""
LUA = """
local t = {}
for i = 1, 20000 do t[#t + 1] = string.rep("ab", i % 50) .. i end
table.sort(t)
local n = 0
for _, s in ipairs(t) do n = n + #s end
local co = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i * 7) end end)
print(#t, n, t[1], t[#t], co(), co(), co(), string.format("%.3f", math.pi))
"""
BASH = r"""
set -e
x=$(printf '%s\n' pear apple fig | sort | head -n 2 | tr '\n' ,)
echo "sorted: $x"
sleep 0.2 & a=$!
(echo sub; exit 5) & b=$!
wait $a; echo "a=$?"
set +e; wait $b; echo "b=$?"; set -e
trap 'echo trapped USR1' USR1
kill -USR1 $$
echo $(( $(seq 1 50 | paste -sd+) ))
for i in 1 2 3; do echo "line $i"; done | wc -l
"""
BASH_OUT = b"sorted: apple,fig,\nsub\na=0\nb=5\ntrapped USR1\n1275\n3\n"


@pytest.fixture(scope="module", params=ARCHES, ids=[a for a, _ in ARCHES])
def arch_root(request: pytest.FixtureRequest) -> tuple[str, str, Path]:
    arch, qemu = request.param
    try:
        root = Path(fetch(arch, CORPUS, deps=True))
    except (RuntimeError, OSError) as e:
        pytest.skip(f"cannot fetch the Debian {arch} programs: {e}")
    if not (root / "usr/bin/python3").exists() or not (root / "bin/bash").exists():
        pytest.skip(f"the Debian {arch} programs are incomplete")
    return arch, qemu, root


def _env(home: Path) -> dict[str, str]:
    """The guests' environment: no PYTHON* (their python3 is not ours) but for PYTHONPATH,
    which is how a checkout that is not the installed one runs usermode itself."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SSH", "PYTHON")) or k == "PYTHONPATH"}
    env["HOME"] = str(home)
    env["PATH"] = "/usr/bin:/bin"
    return env


def _usermode(root: Path, argv: list[str], cwd: Path, stdin: bytes | None = None
              ) -> subprocess.CompletedProcess[bytes]:
    return run_cmd([sys.executable, "-m", "usermode", "run", "-U", "PYTHONPATH", "-L", str(root),
                    str(root / argv[0].lstrip("/")), *argv[1:]], input=stdin,
                   capture_output=True, cwd=cwd, timeout=TIMEOUT, env=_env(cwd))


def _qemu(qemu: str, root: Path, argv: list[str], cwd: Path, stdin: bytes | None = None
          ) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which(f"qemu-{qemu}")
    if exe is None:
        pytest.skip(f"qemu-{qemu} not installed: no reference")
    return run_cmd([exe, "-L", str(root), str(root / argv[0].lstrip("/")), *argv[1:]],
                   input=stdin, capture_output=True, cwd=cwd, timeout=TIMEOUT, env=_env(cwd))


def _same(um: subprocess.CompletedProcess[bytes], ref: subprocess.CompletedProcess[bytes]
          ) -> None:
    assert (um.returncode, um.stdout) == (ref.returncode, ref.stdout), (
        f"usermode: {um.returncode} {um.stdout[-800:]!r} {um.stderr[-800:]!r}\n"
        f"qemu: {ref.returncode} {ref.stdout[-800:]!r}")


@pytest.mark.parametrize("script", [PY_THREADS], ids=["threads"])
def test_python3_matches_qemu(arch_root: tuple[str, str, Path], tmp_path: Path,
                              script: str) -> None:
    _arch, qemu, root = arch_root
    argv = ["/usr/bin/python3", "-c", script]
    _same(_usermode(root, argv, tmp_path), _qemu(qemu, root, argv, tmp_path))


def test_python3_subprocess_runs_foreign_programs(arch_root: tuple[str, str, Path],
                                                  tmp_path: Path) -> None:
    _arch, _qemu_name, root = arch_root
    r = _usermode(root, ["/usr/bin/python3", "-c", PY_SUBPROCESS], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout == b"'from-sh\\n' 3\n['c', 'b', 'a']\n"


def test_lua_matches_qemu(arch_root: tuple[str, str, Path], tmp_path: Path) -> None:
    _arch, qemu, root = arch_root
    (tmp_path / "t.lua").write_text(LUA)
    argv = ["/usr/bin/lua5.4", "t.lua"]
    _same(_usermode(root, argv, tmp_path), _qemu(qemu, root, argv, tmp_path))


def test_bash_pipelines_jobs_and_traps(arch_root: tuple[str, str, Path], tmp_path: Path) -> None:
    _arch, _qemu_name, root = arch_root
    r = _usermode(root, ["/bin/bash", "-c", BASH], tmp_path)
    assert (r.returncode, r.stdout) == (0, BASH_OUT), r.stderr[-2000:]


def test_xz_threads_round_trip(arch_root: tuple[str, str, Path], tmp_path: Path) -> None:
    _arch, qemu, root = arch_root
    blob = b"".join(b"%d %s\n" % (i, b"xyz" * (i % 40)) for i in range(40000))
    packed = _usermode(root, ["/usr/bin/xz", "-T2", "-3", "-c"], tmp_path, blob)
    assert packed.returncode == 0, packed.stderr[-2000:]
    ref = _qemu(qemu, root, ["/usr/bin/xz", "-T2", "-3", "-c"], tmp_path, blob)
    assert packed.stdout == ref.stdout  # the same encoder, the same bytes
    back = _usermode(root, ["/usr/bin/xz", "-d", "-T2", "-c"], tmp_path, packed.stdout)
    assert (back.returncode, back.stdout == blob) == (0, True), back.stderr[-2000:]


PERL = r"""
my %c; $c{$_ % 7}++ for 1 .. 5000;
my @k = sort { $c{$b} <=> $c{$a} || $a <=> $b } keys %c;
my $s = join ",", map { "$_=$c{$_}" } @k;
(my $t = "usermode perl") =~ s/(\w+)/\u$1/g;
printf "%s %s %d %.4f\n", $s, $t, length(join "", 1 .. 999), atan2(1, 1) * 4;
"""
SQL = b"""
create table t(id integer primary key, name text, n integer);
with recursive c(x) as (select 1 union all select x + 1 from c where x < 3000)
  insert into t(name, n) select 'row' || x, (x * 37) % 101 from c;
create index tn on t(n);
select count(*), sum(n), min(name), max(name) from t where n between 10 and 60;
select n, count(*) from t group by n order by count(*) desc, n limit 3;
"""


def test_perl_matches_qemu(arch_root: tuple[str, str, Path], tmp_path: Path) -> None:
    _arch, qemu, root = arch_root
    argv = ["/usr/bin/perl", "-e", PERL]
    _same(_usermode(root, argv, tmp_path), _qemu(qemu, root, argv, tmp_path))


def test_sqlite3_matches_qemu(arch_root: tuple[str, str, Path], tmp_path: Path) -> None:
    _arch, qemu, root = arch_root
    argv = ["/usr/bin/sqlite3", "db.sqlite"]
    um = _usermode(root, argv, tmp_path, SQL)
    (tmp_path / "db.sqlite").unlink()
    _same(um, _qemu(qemu, root, argv, tmp_path, SQL))


def test_zstd_threads_round_trip(arch_root: tuple[str, str, Path], tmp_path: Path) -> None:
    _arch, _qemu_name, root = arch_root
    blob = b"".join(b"%d %s\n" % (i, b"zz" * (i % 33)) for i in range(60000))
    packed = _usermode(root, ["/usr/bin/zstd", "-T2", "-5", "-c"], tmp_path, blob)
    assert packed.returncode == 0, packed.stderr[-2000:]
    back = _usermode(root, ["/usr/bin/zstd", "-d", "-c"], tmp_path, packed.stdout)
    assert (back.returncode, back.stdout == blob) == (0, True), back.stderr[-2000:]


def test_coreutils_match_qemu(arch_root: tuple[str, str, Path], tmp_path: Path) -> None:
    _arch, qemu, root = arch_root
    (tmp_path / "w.txt").write_text("".join(f"{w}\n" for w in "b a c a b d".split() * 50))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f").write_bytes(b"x" * 123)
    # (paths in the working directory: qemu-user 7.2's statx ignores -L)
    for argv in (["/usr/bin/sort", "-u", "w.txt"], ["/usr/bin/sha256sum", "w.txt"],
                 ["/bin/ls", "-lan", "--time-style=+%Y", "w.txt", "sub"]):
        _same(_usermode(root, argv, tmp_path), _qemu(qemu, root, argv, tmp_path))
