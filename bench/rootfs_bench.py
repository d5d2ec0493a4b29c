#!/usr/bin/env python3
"""Issue-3 targets: real Debian arm64 programs with -L, side by side with qemu-aarch64 -L.

Interleaved rounds (usermode then qemu in each round), wall time, ratios as the median of
per-round ratios. The rootfs comes from tools/fetch_debs.py (see tests/integration).

    python bench/rootfs_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from fetch_debs import fetch  # noqa: E402

CORPUS = ["libc6", "coreutils", "python3.11-minimal", "libpython3.11-stdlib"]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    if p.returncode:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr.decode()[-500:]}")
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    root = Path(fetch("aarch64", CORPUS, deps=True))
    big = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "usermode-bench" / \
        "data" / "io-64MiB.bin"
    if not big.exists():
        big.parent.mkdir(parents=True, exist_ok=True)
        big.write_bytes(os.urandom(64 << 20))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)
    cases = {
        "python3 -c pass": [str(root / "usr/bin/python3.11"), "-c", "pass"],
        "sha256sum 64 MiB": [str(root / "usr/bin/sha256sum"), str(big)],
        # the rootfs directory by its host path: qemu 7.2 -L lists /usr/bin from the rootfs
        # but then fails to lstat the entries that exist only there (its path cache)
        "ls -la /usr/bin": [str(root / "bin/ls"), "-la", str(root / "usr/bin")],
    }
    um = [sys.executable, "-m", "usermode", "run", "-L", str(root)]
    qemu = ["qemu-aarch64", "-L", str(root)]
    print(f"| command | usermode | qemu-aarch64 -L | ratio (median of {a.runs} rounds) |")
    print("|---|---|---|---|")
    for name, cmd in cases.items():
        timed(um + cmd, env)
        timed(qemu + cmd, env)  # warm-up
        us, qs = [], []
        for _ in range(a.runs):
            us.append(timed(um + cmd, env))
            qs.append(timed(qemu + cmd, env))
        ratio = statistics.median(u / q for u, q in zip(us, qs, strict=True))
        print(f"| {name} | {statistics.median(us) * 1000:.1f} ms | "
              f"{statistics.median(qs) * 1000:.1f} ms | {ratio:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
