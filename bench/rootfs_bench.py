#!/usr/bin/env python3
"""Real Debian programs with -L, side by side with qemu-user -L (issue 17's real-program set).

bzip2 -9 and xz -6 -T1 of a 1 MB text, sqlite3 building and querying an indexed 100k-row
table, python3 with a small workload, ls of a large directory, and, where the packages can be
fetched, gcc's cc1 -O2 on a 2000-line C file. Each round runs every column once (interleaved);
a ratio is the median of the per-round ratios to qemu; every column's output must match
qemu's (a mismatch is reported in the table). The rootfs comes from tools/fetch_debs.py.

    python bench/rootfs_bench.py [--arch aarch64] [--runs 5] [--python] [--only bzip2,xz]
    (--python adds a column with USERMODE_NATIVE=0: the pure-Python paths; --checkout
     NAME=PATH adds a column running usermode from another checkout, e.g. before=/tmp/old)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from fetch_debs import fetch  # noqa: E402

CORPUS = ["libc6", "coreutils", "bzip2", "xz-utils", "sqlite3", "python3.11-minimal",
          "libpython3.11-stdlib"]
GCC = ["gcc-12", "binutils"]
QEMU = {"aarch64": "qemu-aarch64", "arm": "qemu-arm", "riscv64": "qemu-riscv64",
        "i386": "qemu-i386", "mipsel": "qemu-mipsel", "x86_64": "qemu-x86_64"}

SQL = """
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO t(k, name) SELECT (i * 7919) % 100003, 'row' || i FROM n;
CREATE INDEX t_k ON t(k);
SELECT count(*), sum(k) FROM t WHERE k BETWEEN 1000 AND 60000;
SELECT name FROM t WHERE k = 4242;
SELECT k % 10, count(*) FROM t GROUP BY k % 10 ORDER BY 1;
"""

PY = ("import collections, json\n"
      "words = ['w%d' % (i * 7919 % 5003) for i in range(200000)]\n"
      "c = collections.Counter(words)\n"
      "d = {w: len(w) * n for w, n in c.items()}\n"
      "s = json.dumps(sorted(d.items())[:2000])\n"
      "print(len(c), sum(d.values()), len(json.loads(s)), sum(i * i for i in range(300000)))\n")


def text_file(path: Path, size: int) -> Path:
    """A deterministic, compressible text of `size` bytes (words drawn from a fixed list)."""
    if path.exists() and path.stat().st_size == size:
        return path
    rng = random.Random(17)
    vocab = [("".join(rng.choice("etaoinshrdlucmfwypvbgkq") for _ in range(rng.randint(2, 9))))
             for _ in range(3000)]
    out: list[str] = []
    n = 0
    while n < size:
        line = " ".join(rng.choice(vocab) for _ in range(rng.randint(4, 14))) + ".\n"
        out.append(line)
        n += len(line)
    path.write_bytes("".join(out).encode()[:size])
    return path


def c_file(path: Path, lines: int = 2000) -> Path:
    """A C file of about `lines` lines: structs, loops, switches and calls."""
    parts = ["#define NULL ((void *)0)\n", "struct node { struct node *next; long v; };\n"]
    i = 0
    while sum(p.count("\n") for p in parts) < lines:
        parts.append(
            f"static long f{i}(struct node *n, long x) {{\n"
            f"    long acc = {i};\n"
            f"    for (; n != NULL; n = n->next) {{\n"
            f"        switch ((n->v + x) % 4) {{\n"
            f"        case 0: acc += n->v * {i % 7 + 1}; break;\n"
            f"        case 1: acc ^= n->v << {i % 5}; break;\n"
            f"        case 2: acc -= x / (n->v | 1); break;\n"
            f"        default: acc = acc * 31 + {i}; break;\n"
            f"        }}\n"
            f"    }}\n"
            f"    return acc{f' + f{i - 1}(n, x - 1)' if i else ''};\n"
            f"}}\n")
        i += 1
    parts.append(f"long entry(struct node *n) {{ return f{i - 1}(n, 3); }}\n")
    path.write_text("".join(parts))
    return path


def run(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, env=env, cwd=cwd, timeout=1800)
    wall = time.perf_counter() - t
    if p.returncode:
        return wall, f"FAIL rc={p.returncode}: {p.stderr.decode(errors='replace')[-200:]}"
    return wall, hashlib.sha256(p.stdout).hexdigest()[:12]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="aarch64", choices=sorted(QEMU))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--python", action="store_true", help="add a USERMODE_NATIVE=0 column")
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--checkout", action="append", default=[], metavar="NAME=PATH",
                    help="a column running usermode from another checkout")
    ap.add_argument("--no-gcc", action="store_true")
    a = ap.parse_args()
    qemu = shutil.which(QEMU[a.arch])
    if qemu is None:
        raise SystemExit(f"{QEMU[a.arch]} is not installed: no reference column")
    root = Path(fetch(a.arch, CORPUS, deps=True))
    gcc = None
    if not a.no_gcc:
        try:
            root = Path(fetch(a.arch, GCC, deps=True))
            # the compiler proper: qemu-user cannot exec it from the gcc driver itself
            gcc = next(iter(sorted((root / "usr/lib/gcc").glob("*/12/cc1"))), None)
        except (RuntimeError, OSError) as e:
            print(f"(no gcc case: {e})", file=sys.stderr)
    data = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "usermode-bench" / \
        "data"
    data.mkdir(parents=True, exist_ok=True)
    text = text_file(data / "text-1MB.txt", 1 << 20)
    (data / "bench.sql").write_text(SQL)
    csrc = c_file(data / "gen2000.c")
    py = str(root / "usr/bin/python3.11")
    cases: dict[str, list[str]] = {
        "bzip2 -9 (1 MB)": [str(root / "bin/bzip2"), "-9", "-c", str(text)],
        "xz -6 -T1 (1 MB)": [str(root / "usr/bin/xz"), "-6", "-T1", "-c", str(text)],
        "sqlite3 (100k rows, indexed)": [str(root / "usr/bin/sqlite3"), ":memory:",
                                         f".read {data / 'bench.sql'}"],
        "python3 (Counter, json, sum)": [py, "-c", PY],
        "python3 -c pass": [py, "-c", "pass"],
        "ls -l /usr/lib (rootfs)": [str(root / "bin/ls"), "-l", "--time-style=+", "-R",
                                    str(root / "usr/lib/python3.11")],
    }
    if gcc is not None:
        cases["gcc-12 cc1 -O2 (2000 lines)"] = [str(gcc), "-quiet", "-O2", str(csrc), "-o", "-"]
    if a.only:
        keep = a.only.split(",")
        cases = {k: v for k, v in cases.items() if any(w in k for w in keep)}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)
    columns = {"usermode": [sys.executable, "-m", "usermode", "run", "-L", str(root)]}
    for spec in a.checkout:
        name, _, path = spec.partition("=")
        columns[name] = ["env", f"PYTHONPATH={path}", *columns["usermode"]]
    if a.python:
        columns["python path"] = ["env", "USERMODE_NATIVE=0", *columns["usermode"]]
    columns["qemu"] = [qemu, "-L", str(root)]
    print(f"{a.arch}, {a.runs} interleaved rounds, wall-time medians; ratio = median of "
          "per-round ratios to qemu\n")
    head = " | ".join(f"{c} | {c}/qemu" for c in columns if c != "qemu")
    print(f"| program | qemu | {head} |")
    print("|---|---" + "|---|---" * (len(columns) - 1) + "|")
    for name, cmd in cases.items():
        times: dict[str, list[float]] = {c: [] for c in columns}
        outs: dict[str, str] = {}
        for rnd in range(a.runs + 1):  # round 0 warms the caches and is not counted
            for col, pre in columns.items():
                wall, out = run(pre + cmd, env, data)
                if outs.get(col, out) == out:  # a run that ever differs is kept
                    outs[col] = out
                if rnd:
                    times[col].append(wall)
        q = times["qemu"]
        cells = []
        for col in columns:
            if col == "qemu":
                continue
            ratio = statistics.median(u / r for u, r in zip(times[col], q, strict=True))
            same = outs[col] == outs["qemu"]
            cells.append(f"{statistics.median(times[col]):.3f} s | {ratio:.2f}x"
                         + ("" if same else f" (output differs: {outs[col][:60]})"))
        print(f"| {name} | {statistics.median(q):.3f} s | " + " | ".join(cells) + " |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
