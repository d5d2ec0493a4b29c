#!/usr/bin/env python3
"""Build the benchmark programs (bench/src/*.c) as static -O2 binaries, per architecture.

usage: python bench/build.py [--arch ARCH ...] [--bindir DIR] [--compiler auto|gcc|zig]
                             [--force] [--prog NAME ...] [--list]

Binaries go to ``$BENCH_BIN/<arch>/`` (default ``~/.cache/usermode-bench/bin/<arch>/``).
The host (x86_64) is built with ``gcc``; every guest arch with the Debian cross compiler
(``aarch64-linux-gnu-gcc`` and friends, glibc).  When that compiler is missing the build falls
back to ``python -m ziglang cc -target <arch>-linux-musl`` (musl libc: a different start-up and
malloc, so the report says which compiler and libc each column used).

A build is skipped when the binary exists and ``BUILDINFO.json`` in the arch folder records the
same source hash and the same command line.  Default arches: x86_64 aarch64.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC_DIR = HERE / "src"
PROGRAMS: tuple[str, ...] = ("compute", "syscall", "io", "hello", "threads", "mem", "forkexec")
HOST_ARCH = "x86_64"
DEFAULT_ARCHES: tuple[str, ...] = ("x86_64", "aarch64")
CFLAGS: tuple[str, ...] = ("-static", "-O2", "-ffp-contract=off")
BUILDINFO = "BUILDINFO.json"

# arch -> (Debian gcc, zig target).  The host arch uses plain gcc.
TOOLCHAINS: dict[str, tuple[str, str]] = {
    "x86_64": ("gcc", "x86_64-linux-musl"),
    "aarch64": ("aarch64-linux-gnu-gcc", "aarch64-linux-musl"),
    "riscv64": ("riscv64-linux-gnu-gcc", "riscv64-linux-musl"),
    "arm": ("arm-linux-gnueabihf-gcc", "arm-linux-musleabihf"),
    "mipsel": ("mipsel-linux-gnu-gcc", "mipsel-linux-musleabihf"),
    "i386": ("i686-linux-gnu-gcc", "x86-linux-musl"),
}


def default_bindir() -> Path:
    """``$BENCH_BIN`` or ``$XDG_CACHE_HOME/usermode-bench/bin`` (``~/.cache/...``)."""
    env = os.environ.get("BENCH_BIN")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(cache) / "usermode-bench" / "bin"


@dataclass(frozen=True)
class Compiler:
    """A C compiler able to produce static binaries for one arch."""

    kind: str  # "gcc" or "zig"
    argv: tuple[str, ...]  # command prefix, e.g. ("aarch64-linux-gnu-gcc",)
    libc: str  # "glibc" or "musl"
    version: str  # first line of --version

    @property
    def label(self) -> str:
        return f"{self.version} ({self.libc})"


class NoCompiler(RuntimeError):
    """No usable compiler for the requested arch."""


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "?"


def _gcc(arch: str) -> Compiler | None:
    name = TOOLCHAINS[arch][0]
    if shutil.which(name) is None:
        return None
    return Compiler("gcc", (name,), "glibc", _first_line([name, "--version"]))


def _zig(arch: str) -> Compiler | None:
    if importlib.util.find_spec("ziglang") is None:
        return None
    target = TOOLCHAINS[arch][1]
    version = _first_line([sys.executable, "-m", "ziglang", "version"])
    argv = (sys.executable, "-m", "ziglang", "cc", "-target", target)
    return Compiler("zig", argv, "musl", f"zig cc {version} -target {target}")


def find_compiler(arch: str, prefer: str = "auto") -> Compiler:
    """Debian gcc for ``arch`` if installed (unless ``prefer == 'zig'``), else zig cc."""
    if arch not in TOOLCHAINS:
        raise NoCompiler(f"unknown arch {arch!r} (known: {', '.join(TOOLCHAINS)})")
    order = {"auto": (_gcc, _zig), "gcc": (_gcc,), "zig": (_zig,)}[prefer]
    for probe in order:
        cc = probe(arch)
        if cc is not None:
            return cc
    gcc_name, target = TOOLCHAINS[arch]
    raise NoCompiler(
        f"no compiler for {arch}: {gcc_name} not found"
        + ("" if prefer == "gcc" else f" and `python -m ziglang` (target {target}) not importable")
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_info(arch_dir: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads((arch_dir / BUILDINFO).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def build_arch(
    arch: str,
    bindir: Path | None = None,
    prefer: str = "auto",
    force: bool = False,
    programs: tuple[str, ...] = PROGRAMS,
    log: bool = True,
) -> dict[str, dict[str, object]]:
    """Build ``programs`` for ``arch``; return that arch's BUILDINFO (program -> record).

    Raises NoCompiler when no compiler is available, CalledProcessError on a compile error.
    """
    cc = find_compiler(arch, prefer)
    arch_dir = (bindir or default_bindir()) / arch
    arch_dir.mkdir(parents=True, exist_ok=True)
    info = _load_info(arch_dir)
    built: list[str] = []
    for prog in programs:
        src = SRC_DIR / f"{prog}.c"
        out = arch_dir / prog
        extra = ["-pthread"] if prog == "threads" else []
        if arch == "i386":  # SSE2 maths as on x86_64, so the checksums match (not x87's)
            extra += ["-msse2", "-mfpmath=sse"]
        cmd = [*cc.argv, *CFLAGS, *extra, "-o", str(out), str(src)]
        digest = _sha256(src)
        rec = info.get(prog, {})
        if (
            not force
            and out.is_file()
            and rec.get("source_sha256") == digest
            and rec.get("cmd") == cmd
            and rec.get("binary_mtime_ns") == out.stat().st_mtime_ns
        ):
            continue
        tmp = arch_dir / f".{prog}.tmp"
        tmp_cmd = [*cmd[:-3], "-o", str(tmp), str(src)]
        subprocess.run(tmp_cmd, check=True)
        os.replace(tmp, out)
        info[prog] = {
            "cmd": cmd,
            "compiler": cc.version,
            "kind": cc.kind,
            "libc": cc.libc,
            "source_sha256": digest,
            "binary_mtime_ns": out.stat().st_mtime_ns,
        }
        built.append(prog)
    (arch_dir / BUILDINFO).write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
    if log:
        what = ", ".join(built) if built else "all up to date"
        print(f"[build] {arch}: {cc.label} -> {arch_dir}: {what}", file=sys.stderr)
    return info


def compiler_label(info: dict[str, dict[str, object]]) -> str:
    """One string naming the compiler(s) recorded in an arch's BUILDINFO."""
    labels = sorted({f"{r.get('compiler', '?')} ({r.get('libc', '?')})" for r in info.values()})
    return "; ".join(labels) if labels else "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--arch",
        action="append",
        default=[],
        help="arch to build (repeatable or comma-separated; default: x86_64,aarch64; 'all')",
    )
    ap.add_argument("--bindir", type=Path, default=None, help="default: $BENCH_BIN or cache")
    ap.add_argument("--compiler", choices=("auto", "gcc", "zig"), default="auto")
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    ap.add_argument("--prog", action="append", default=[], choices=PROGRAMS)
    ap.add_argument("--list", action="store_true", help="show the compiler each arch would use")
    a = ap.parse_args(argv)

    arches = [x.strip() for spec in a.arch for x in spec.split(",") if x.strip()]
    if arches == ["all"]:
        arches = list(TOOLCHAINS)
    arches = arches or list(DEFAULT_ARCHES)
    programs = tuple(a.prog) or PROGRAMS
    rc = 0
    for arch in arches:
        try:
            if a.list:
                print(f"{arch}: {find_compiler(arch, a.compiler).label}")
                continue
            build_arch(arch, a.bindir, a.compiler, a.force, programs)
        except NoCompiler as e:
            print(f"[build] skipped {arch}: {e}", file=sys.stderr)
            rc = 1
        except subprocess.CalledProcessError as e:
            print(f"[build] {arch}: compile failed (rc={e.returncode}): {e.cmd}", file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
