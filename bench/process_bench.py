#!/usr/bin/env python3
"""Issue-5 targets: the cost of a child process, usermode side by side with qemu-user.

qemu-user cannot run a foreign child by itself: without binfmt_misc its execve of an aarch64
binary fails. Its column therefore execs a fresh `qemu-aarch64 PROGRAM` per child, which is
exactly what a binfmt_misc registration makes the kernel do. usermode runs the foreign child
in the forked host process itself (no new Python).

- forkexec: bench/src/forkexec.c, N x (fork, execv the `hello` bench program, waitpid);
- bash loop: Debian arm64 bash, `for i in $(seq 200); do /bin/true; done` (-L rootfs).

Interleaved rounds, wall time, ratios as the median of per-round ratios.

    python bench/build.py --arch x86_64,aarch64 && python bench/process_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from fetch_debs import fetch  # noqa: E402
from rootfs_bench import timed  # noqa: E402  (same directory: on sys.path as the script's)

BIN = Path(os.environ.get("BENCH_BIN", Path.home() / ".cache" / "usermode-bench" / "bin"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--children", type=int, default=100)
    a = ap.parse_args()
    qemu = shutil.which("qemu-aarch64")
    if qemu is None:
        raise SystemExit("qemu-aarch64 not installed: no reference")
    forkexec, hello = BIN / "aarch64" / "forkexec", BIN / "aarch64" / "hello"
    if not forkexec.exists() or not hello.exists():
        raise SystemExit(f"{forkexec} missing: run python bench/build.py first")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)
    um = [sys.executable, "-m", "usermode", "run"]
    n = str(a.children)
    cases = {
        f"forkexec {n} children": ([*um, str(forkexec), n, str(hello)],
                                   [qemu, str(forkexec), n, qemu, str(hello)]),
    }
    try:
        root = Path(fetch("aarch64", ["libc6", "bash", "coreutils"], deps=True))
        loop = "for i in $(seq 200); do {}/bin/true; done"
        cases["bash: 200 x /bin/true"] = (
            [*um, "-L", str(root), str(root / "bin/bash"), "-c", loop.format("")],
            [qemu, "-L", str(root), str(root / "bin/bash"), "-c",
             loop.format(f"{qemu} -L {root} {root}")])
    except (RuntimeError, OSError) as e:
        print(f"[skip] bash loop: no Debian arm64 rootfs ({e})")
    print(f"| case | usermode | qemu-aarch64 (a new qemu per child, as binfmt_misc) | "
          f"ratio (median of {a.runs} rounds) |")
    print("|---|---|---|---|")
    for name, (ucmd, qcmd) in cases.items():
        timed(ucmd, env)
        timed(qcmd, env)  # warm-up
        us, qs = [], []
        for _ in range(a.runs):
            us.append(timed(ucmd, env))
            qs.append(timed(qcmd, env))
        ratio = statistics.median(u / q for u, q in zip(us, qs, strict=True))
        per = a.children if name.startswith("forkexec") else 200
        print(f"| {name} | {statistics.median(us) * 1000:.0f} ms "
              f"({statistics.median(us) / per * 1000:.1f} ms/child) | "
              f"{statistics.median(qs) * 1000:.0f} ms "
              f"({statistics.median(qs) / per * 1000:.1f} ms/child) | {ratio:.2f}x |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
