#!/usr/bin/env python3
"""Benchmark usermode side by side with qemu-user (and the native host build).

usage: python bench/run.py [--arch aarch64] [--runs 5] [--quick] [--bench compute,syscall,...]
                           [--emu 'CMD'] [--emu NAME=CMD ...] [--json FILE] [--md FILE]

Columns: ``native`` (the x86_64 build run directly), ``qemu-<arch>`` (the reference every ratio is
taken against), ``usermode`` (``python -m usermode run``; ``--emu 'CMD'`` replaces that command)
and one extra column per ``--emu NAME=CMD``.  A column's command is a prefix: the guest binary
and its arguments are appended.  A column whose command or binaries are missing is skipped with
a message; a failing run shows ``FAIL rc=N`` plus its last stderr line and never aborts the suite.

Method: runs are interleaved (each round runs every column before the next round starts), after
``--warmup`` rounds that are not counted.  Wall time is time.perf_counter() around
spawn/exec/wait, CPU time (user+sys of the child and its descendants) comes from os.wait4().
Cells are medians with min-max; ratios are the median of the per-round ratios to qemu.  The
syscall benchmark also runs with N=0 in the same round, and the per-syscall cost is
(T(N) - T(0)) / (2N).  Every run's summary line must equal the native one.

``--bench list`` prints the benchmarks.  Binaries are built (or found up to date) by build.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TIMES = "\u00d7"  # multiplication sign
MICRO = "\u00b5"  # micro sign

# Targets from the performance issue: usermode / qemu-aarch64, measured side by side.
TARGETS: dict[str, float] = {
    "compute": 1.5,
    "per-syscall": 10.0,
    "hello": 6.0,
    "io": 4.0,
    "mem": 4.5,
}


def _load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("usermode_bench_build", HERE / "build.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


build = _load_build()


# --------------------------------------------------------------------------- benchmarks
@dataclass(frozen=True)
class Case:
    """One program invocation: a benchmark may have several (syscall runs N and 0)."""

    key: str  # row name, e.g. "syscall0"
    prog: str  # binary name in bin/<arch>/
    args: tuple[str, ...]
    summary: str  # prefix of the line that carries the checksum
    discard_stdout: bool = False  # io: stdout -> /dev/null, summary on stderr


@dataclass(frozen=True)
class Sizes:
    scale: int
    syscalls: int
    io_mib: int
    mem: tuple[int, int]
    threads: tuple[int, int]


BENCH_DOC: dict[str, str] = {
    "compute": "CPU mix: sha256, bitwise crc32, int matmul, linked-list walk, double mandelbrot",
    "syscall": "N x getppid + N x 1-byte write to /dev/null; also N=0 -> per-syscall cost",
    "io": "read a file in 64 KiB chunks, write each to stdout (/dev/null)",
    "hello": 'puts("hello"): start-up latency',
    "mem": "malloc/free churn (16 B-64 KiB), then mmap 256 KiB + touch pages + munmap",
    "threads": "4 pthreads x atomic increments, then pipe ping-pong between 2 threads",
}
BENCH_ORDER: tuple[str, ...] = tuple(BENCH_DOC)


def make_sizes(a: argparse.Namespace) -> Sizes:
    q = a.quick
    return Sizes(
        scale=a.scale or (2 if q else 20),
        syscalls=a.syscalls or (20_000 if q else 200_000),
        io_mib=a.io_mib or (16 if q else 64),
        mem=(20_000, 200) if q else (200_000, 2_000),
        threads=(20_000, 10_000) if q else (200_000, 100_000),
    )


def make_cases(bench: str, s: Sizes, io_file: Path) -> list[Case]:
    if bench == "compute":
        return [Case("compute", "compute", (str(s.scale),), "compute ")]
    if bench == "syscall":
        return [
            Case("syscall", "syscall", (str(s.syscalls),), "syscall "),
            Case("syscall0", "syscall", ("0",), "syscall "),
        ]
    if bench == "io":
        return [Case("io", "io", (str(io_file),), "io bytes=", discard_stdout=True)]
    if bench == "hello":
        return [Case("hello", "hello", (), "hello")]
    if bench == "mem":
        return [Case("mem", "mem", tuple(map(str, s.mem)), "mem ")]
    if bench == "threads":
        return [Case("threads", "threads", tuple(map(str, s.threads)), "threads ")]
    raise ValueError(bench)


def ensure_io_file(path: Path, mib: int) -> None:
    """Deterministic pseudo-random input for the io benchmark (kept in the cache)."""
    size = mib << 20
    if path.is_file() and path.stat().st_size == size:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0x5EED)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        for _ in range(mib):
            f.write(rng.randbytes(1 << 20))
    os.replace(tmp, path)


# --------------------------------------------------------------------------- running
@dataclass
class Run:
    wall: float
    cpu: float
    rc: int
    timed_out: bool = False
    summary: str = ""
    err_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    def status(self) -> str:
        if self.timed_out:
            return f"TIMEOUT after {self.wall:.3g} s"
        return f"FAIL rc={self.rc}"


def _tail(path: Path, limit: int = 65536) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - limit))
        return f.read().decode(errors="replace")


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_once(argv: list[str], case: Case, env: dict[str, str], timeout: float, tmp: Path) -> Run:
    """Spawn argv in its own process group, wait4() it; stdin is /dev/null."""
    out_path, err_path = tmp / "stdout", tmp / "stderr"
    devnull = os.open(os.devnull, os.O_RDWR)
    out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    actions = [
        (os.POSIX_SPAWN_DUP2, devnull, 0),
        (os.POSIX_SPAWN_DUP2, devnull if case.discard_stdout else out_fd, 1),
        (os.POSIX_SPAWN_DUP2, err_fd, 2),
    ]
    timed_out = threading.Event()

    def on_timeout(pgid: int) -> None:
        timed_out.set()
        _kill_group(pgid)

    try:
        t0 = time.perf_counter()
        try:
            pid = os.posix_spawnp(
                argv[0],
                argv,
                env,
                file_actions=actions,
                setpgroup=0,  # own group: a timeout kills the emulator's children too
                setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),  # Python ignores these
            )
        except OSError as e:
            return Run(time.perf_counter() - t0, 0.0, 127, err_tail=f"cannot execute: {e}")
        timer = threading.Timer(timeout, on_timeout, (pid,))
        timer.daemon = True
        timer.start()
        try:
            _, status, ru = os.wait4(pid, 0)
        except BaseException:  # Ctrl-C: do not leave the child running
            _kill_group(pid)
            os.wait4(pid, 0)
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
    finally:
        for fd in (devnull, out_fd, err_fd):
            os.close(fd)
    rc = os.waitstatus_to_exitcode(status)
    out_text = "" if case.discard_stdout else _tail(out_path)
    err_text = _tail(err_path)
    lines = [ln.strip() for ln in (out_text + "\n" + err_text).splitlines()]
    hits = [ln for ln in lines if ln.startswith(case.summary)]
    err_lines = [ln.strip() for ln in err_text.splitlines() if ln.strip()]
    return Run(
        wall=wall,
        cpu=ru.ru_utime + ru.ru_stime,
        rc=rc,
        timed_out=timed_out.is_set(),
        summary=hits[-1] if hits else "<no summary line>",
        err_tail=err_lines[-1][:300] if err_lines else "",
    )


@dataclass
class Column:
    name: str
    prefix: list[str]
    arch: str
    bindir: Path
    compiler: str = "?"

    def argv(self, case: Case) -> list[str]:
        return [*self.prefix, str(self.bindir / case.prog), *case.args]


@dataclass
class Cell:
    """All runs of one case in one column, keyed by round (warmup rounds excluded)."""

    runs: dict[int, Run] = field(default_factory=dict)
    failure: Run | None = None  # first failed run (warmup included); stops further runs
    failure_round: int = -1
    mismatches: list[tuple[int, str]] = field(default_factory=list)

    def ok_runs(self) -> dict[int, Run]:
        return {r: x for r, x in self.runs.items() if x.ok}


# --------------------------------------------------------------------------- statistics
def median(xs: Iterable[float]) -> float:
    xs = list(xs)
    return statistics.median(xs) if xs else float("nan")


def paired(a: Cell, b: Cell, f: Callable[[Run, Run], float | None]) -> list[float]:
    """f(a_run, b_run) over the rounds where both succeeded (None results dropped)."""
    ra, rb = a.ok_runs(), b.ok_runs()
    out = [f(ra[r], rb[r]) for r in sorted(ra.keys() & rb.keys())]
    return [x for x in out if x is not None]


def fmt_times(xs: list[float], unit: str = "s") -> str:
    """Median (min-max) of durations in seconds, in one unit chosen from the median.

    ``unit="us"`` formats microseconds given in microseconds.
    """
    if not xs:
        return "-"
    m = median(xs)
    if unit == "us":
        name, scale, digits = f"{MICRO}s", 1.0, (3 if abs(m) < 10 else 1)
    elif m >= 1:
        name, scale, digits = "s", 1.0, 3
    else:
        name, scale, digits = "ms", 1e3, (1 if m >= 0.01 else 2)
    txt = f"{m * scale:.{digits}f} {name}"
    if len(xs) > 1:
        txt += f" ({min(xs) * scale:.{digits}f}-{max(xs) * scale:.{digits}f})"
    return txt


def fmt_ratio(r: float) -> str:
    return "-" if r != r else f"{r:.2f}{TIMES}"


def md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


# --------------------------------------------------------------------------- main
def host_info() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": str(os.cpu_count()),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def version_of(prefix: list[str]) -> str:
    exe = shutil.which(prefix[0]) if prefix else None
    if exe is None or "qemu" not in Path(exe).name:
        return ""
    try:
        out = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.splitlines()[0] if out else ""


NAME_RE = re.compile(r"^[A-Za-z][\w.@+-]*$")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--arch", default="aarch64", help="guest arch (default aarch64)")
    ap.add_argument("--runs", type=int, default=5, help="counted rounds (default 5)")
    ap.add_argument("--warmup", type=int, default=1, help="uncounted rounds first (default 1)")
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    ap.add_argument(
        "--bench",
        default=",".join(BENCH_ORDER),
        help="comma-separated subset of " + ",".join(BENCH_ORDER) + "; 'list' to describe",
    )
    ap.add_argument("--timeout", type=float, default=300, help="seconds per run (default 300)")
    ap.add_argument(
        "--emu",
        action="append",
        default=[],
        metavar="CMD|NAME=CMD",
        help="'CMD' replaces the usermode command (default: python -m usermode run); "
        "'NAME=CMD' adds a column (repeatable)",
    )
    ap.add_argument("--qemu", help="reference command (default qemu-<arch>)")
    ap.add_argument("--no-native", action="store_true")
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--no-usermode", action="store_true")
    ap.add_argument("--scale", type=int, help="compute repetitions (default 20, quick 2)")
    ap.add_argument("--syscalls", type=int, help="syscall N (default 200000, quick 20000)")
    ap.add_argument("--io-mib", type=int, help="io file size (default 64, quick 16)")
    ap.add_argument("--io-file", type=Path, help="io input (default: cache dir, created)")
    ap.add_argument("--bindir", type=Path, default=None, help="default $BENCH_BIN or cache")
    ap.add_argument("--compiler", choices=("auto", "gcc", "zig"), default="auto")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--json", type=Path, help="write all raw and derived numbers")
    ap.add_argument("--md", type=Path, help="also write the Markdown report here")
    a = ap.parse_args(argv)
    if a.runs < 1 or a.warmup < 0:
        ap.error("--runs must be >= 1 and --warmup >= 0")
    return a


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def setup_columns(a: argparse.Namespace, bindir: Path) -> list[Column]:
    """Build binaries and assemble the available columns (skipping the unavailable ones)."""

    def prepare(arch: str) -> str | None:
        try:
            if a.no_build:
                info = build._load_info(bindir / arch)
                missing = [p for p in build.PROGRAMS if not (bindir / arch / p).is_file()]
                if missing:
                    say(f"[skip] {arch}: binaries missing ({', '.join(missing)}), --no-build")
                    return None
            else:
                info = build.build_arch(arch, bindir, a.compiler)
        except build.NoCompiler as e:
            say(f"[skip] {arch} columns: {e}")
            return None
        except Exception as e:  # compile error: report, do not abort
            say(f"[skip] {arch} columns: build failed: {e}")
            return None
        return build.compiler_label(info)

    cols: list[Column] = []
    if not a.no_native:
        cc = prepare(build.HOST_ARCH)
        if cc is not None:
            cols.append(Column("native", [], build.HOST_ARCH, bindir / build.HOST_ARCH, cc))

    guest: list[Column] = []
    if not a.no_qemu:
        cmd = shlex.split(a.qemu) if a.qemu else [f"qemu-{a.arch}"]
        guest.append(Column(f"qemu-{a.arch}", cmd, a.arch, bindir / a.arch))
    um_cmd: list[str] = [sys.executable, "-m", "usermode", "run"]
    extras: list[Column] = []
    for spec in a.emu:
        name, eq, cmd = spec.partition("=")
        if eq and NAME_RE.match(name.strip()):
            extras.append(Column(name.strip(), shlex.split(cmd), a.arch, bindir / a.arch))
        else:
            um_cmd = shlex.split(spec)
    if not a.no_usermode:
        guest.append(Column("usermode", um_cmd, a.arch, bindir / a.arch))
    guest += extras
    if guest:
        cc = prepare(a.arch)
        if cc is None:
            guest = []
        for c in guest:
            c.compiler = cc or "?"

    for c in guest:
        if not c.prefix or shutil.which(c.prefix[0]) is None:
            say(f"[skip] column {c.name}: command not found: {shlex.join(c.prefix) or '(empty)'}")
            continue
        if any(c.name == x.name for x in cols):
            say(f"[skip] column {c.name}: duplicate name")
            continue
        cols.append(c)
    return cols


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    benches = [b.strip() for b in a.bench.split(",") if b.strip()]
    if benches == ["list"]:
        for b in BENCH_ORDER:
            print(f"{b:8} {BENCH_DOC[b]}")
        return 0
    unknown = [b for b in benches if b not in BENCH_DOC]
    if unknown:
        say(f"unknown benchmark(s): {', '.join(unknown)} (see --bench list)")
        return 2
    benches = [b for b in BENCH_ORDER if b in benches]

    bindir: Path = a.bindir or build.default_bindir()
    sizes = make_sizes(a)
    cache_root = bindir.parent
    io_file: Path = a.io_file or cache_root / "data" / f"io-{sizes.io_mib}MiB.bin"
    if "io" in benches:
        ensure_io_file(io_file, sizes.io_mib)

    cols = setup_columns(a, bindir)
    if not cols:
        say("no column can run (see the messages above)")
        return 1
    names = [c.name for c in cols]
    ref = f"qemu-{a.arch}" if f"qemu-{a.arch}" in names else None
    if ref is None:
        say(f"[note] no qemu-{a.arch} column: no ratios")
    expect_from = "native" if "native" in names else ref

    env = dict(os.environ)
    # Measure what a user gets: cached bytecode (some sandboxes set this variable).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    cases = {b: make_cases(b, sizes, io_file) for b in benches}
    cells: dict[str, dict[str, Cell]] = {
        c.key: {n: Cell() for n in names} for b in benches for c in cases[b]
    }
    rounds = a.warmup + a.runs
    load_start = loadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    say(
        f"[bench] {', '.join(benches)}; columns: {', '.join(names)}; "
        f"{a.runs} runs + {a.warmup} warmup, interleaved"
    )
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="usermode-bench-") as tmpd:
        tmp = Path(tmpd)
        try:
            for b in benches:
                for r in range(rounds):
                    counted = r >= a.warmup
                    rnd = r - a.warmup
                    progress: list[str] = []
                    for col in cols:
                        for case in cases[b]:
                            cell = cells[case.key][col.name]
                            if cell.failure is not None:
                                continue
                            run = run_once(col.argv(case), case, env, a.timeout, tmp)
                            if counted:
                                cell.runs[rnd] = run
                            if not run.ok:
                                cell.failure, cell.failure_round = run, r
                                say(
                                    f"[{case.key}] {col.name}: {run.status()}: "
                                    f"{run.err_tail or '(no stderr)'}"
                                )
                            progress.append(
                                f"{col.name}{'/0' if case.key == 'syscall0' else ''}="
                                + (fmt_times([run.wall]) if run.ok else run.status())
                            )
                    tag = f"round {rnd + 1}/{a.runs}" if counted else "warmup"
                    say(f"[{b} {tag}] " + "  ".join(progress))
        except KeyboardInterrupt:
            interrupted = True
            say("[bench] interrupted: reporting what was measured")

    # output check against the native (else reference) column
    for by_col in cells.values():
        exp = None
        if expect_from is not None:
            ok = by_col[expect_from].ok_runs()
            exp = ok[min(ok)].summary if ok else None
        for cell in by_col.values():
            if exp is None:
                continue
            for r, run in sorted(cell.ok_runs().items()):
                if run.summary != exp:
                    cell.mismatches.append((r, run.summary))

    report, data = make_report(
        a, cols, ref, expect_from, benches, cases, cells, sizes, io_file, started, load_start
    )
    if interrupted:
        report = "**Interrupted: partial results.**\n\n" + report
    print(report)
    if a.md:
        a.md.write_text(report)
    if a.json:
        a.json.write_text(json.dumps(no_nan(data), indent=1, allow_nan=False) + "\n")
    return 130 if interrupted else 0


def make_report(
    a: argparse.Namespace,
    cols: list[Column],
    ref: str | None,
    expect_from: str | None,
    benches: list[str],
    cases: dict[str, list[Case]],
    cells: dict[str, dict[str, Cell]],
    sizes: Sizes,
    io_file: Path,
    started: str,
    load_start: str,
) -> tuple[str, dict[str, object]]:
    names = [c.name for c in cols]
    others = [n for n in names if n != ref] if ref else []
    host = host_info()
    out: list[str] = []
    w = out.append
    w(f"## usermode benchmarks: {a.arch} guest")
    w("")
    w(
        f"{started}; host {host['cpu']}, {host['cpus']} CPUs, Linux {host['kernel']}, "
        f"Python {host['python']}; load average {load_start} at start, {loadavg()} at end."
    )
    w(
        f"{a.runs} counted runs after {a.warmup} warmup, interleaved (each round runs every "
        "column); cells are median (min-max) wall time; ratios are the median of per-round "
        f"ratios to {ref or '(no reference column)'}."
    )
    w(
        f"Sizes: compute scale={sizes.scale}; syscall N={sizes.syscalls} (and N=0); "
        f"io {sizes.io_mib} MiB ({io_file}); mem {sizes.mem[0]} malloc + {sizes.mem[1]} mmap; "
        f"threads {sizes.threads[0]} increments x4 + {sizes.threads[1]} ping-pongs."
    )
    w("")
    w("| column | command | binaries | compiler |")
    w("|---|---|---|---|")
    for c in cols:
        cmd = shlex.join(c.prefix) if c.prefix else "(direct)"
        ver = version_of(c.prefix)
        w(
            f"| {c.name} | `{md_escape(cmd)}`{' - ' + ver if ver else ''} | {c.bindir} "
            f"| {md_escape(c.compiler)} |"
        )
    w("")

    def cell_text(cell: Cell, metric: Callable[[Run], float], verbose: bool) -> str:
        if cell.failure is not None:
            f = cell.failure
            txt = f.status()
            if f.err_tail and verbose:
                short = f.err_tail if len(f.err_tail) <= 70 else f.err_tail[:67] + "..."
                txt += f": {md_escape(short)}"
            return txt
        vals = [metric(x) for x in cell.ok_runs().values()]
        if not vals:
            return "not run"
        txt = fmt_times(vals)
        return txt + (" (output differs!)" if cell.mismatches else "")

    data_cases: dict[str, object] = {}
    per_syscall: dict[str, dict[str, object]] = {}
    target_hdr = ["usermode target"] if ref and "usermode" in names else []

    def table(title: str, metric: Callable[[Run], float], targets: bool) -> None:
        w(f"**{title}**")
        w("")
        hdr = ["bench", *names, *(f"{n}/{ref}" for n in others)]
        hdr += target_hdr if targets else []
        w("| " + " | ".join(hdr) + " |")
        w("|" + "---|" * len(hdr))
        for b in benches:
            for case in cases[b]:
                by_col = cells[case.key]
                label = case.key if case.key != "syscall0" else "syscall (N=0)"
                row = [label] + [cell_text(by_col[n], metric, targets) for n in names]
                ratios: dict[str, float] = {}
                for n in others:
                    assert ref is not None
                    rs = paired(
                        by_col[n],
                        by_col[ref],
                        lambda x, y: metric(x) / metric(y) if metric(y) > 0 else None,
                    )
                    ratios[n] = median(rs)
                    row.append(fmt_ratio(ratios[n]))
                if targets and target_hdr:
                    row.append(target_cell(case.key, ratios.get("usermode")))
                w("| " + " | ".join(row) + " |")
            if b == "syscall" and targets:
                row = ["per syscall"]
                ps: dict[str, float] = {}
                for n in names:
                    ds = paired(
                        cells["syscall"][n],
                        cells["syscall0"][n],
                        lambda x, y: (x.wall - y.wall) / (2 * sizes.syscalls) * 1e6,
                    )
                    ps[n] = median(ds)
                    per_syscall[n] = {"us": ps[n], "per_round_us": ds}
                    row.append(fmt_times(ds, "us"))
                rat: dict[str, float] = {}
                for n in others:
                    assert ref is not None
                    both = paired_ps(cells, n, ref, sizes.syscalls)
                    rat[n] = median(both)
                    per_syscall[n]["ratio_to_ref"] = rat[n]
                    row.append(fmt_ratio(rat[n]))
                if target_hdr:
                    row.append(target_cell("per-syscall", rat.get("usermode")))
                w("| " + " | ".join(row) + " |")
        w("")

    table("Wall time", lambda x: x.wall, True)
    table("CPU time (user+sys, children included)", lambda x: x.cpu, False)

    # data for --json
    for b in benches:
        for case in cases[b]:
            by_col = cells[case.key]
            entry: dict[str, object] = {"argv_tail": [case.prog, *case.args], "columns": {}}
            for n in names:
                cell = by_col[n]
                ok = cell.ok_runs()
                walls = [x.wall for x in ok.values()]
                cpus = [x.cpu for x in ok.values()]
                col_entry: dict[str, object] = {
                    "runs": {str(r): asdict(x) for r, x in sorted(cell.runs.items())},
                    "wall_median": median(walls) if walls else None,
                    "cpu_median": median(cpus) if cpus else None,
                    "failure": asdict(cell.failure) if cell.failure else None,
                    "mismatches": cell.mismatches,
                }
                if ref and n != ref:
                    rs = paired(cell, by_col[ref], lambda x, y: x.wall / y.wall)
                    col_entry["wall_ratio_to_ref"] = median(rs) if rs else None
                    col_entry["wall_ratio_per_round"] = rs
                entry["columns"][n] = col_entry  # type: ignore[index]
            data_cases[case.key] = entry

    # output check
    w(f"**Output check** (every run's summary line vs the first {expect_from} run)")
    w("")
    for b in benches:
        for case in cases[b]:
            by_col = cells[case.key]
            exp_cell = by_col[expect_from] if expect_from else None
            exp_runs = exp_cell.ok_runs() if exp_cell else {}
            expected = exp_runs[min(exp_runs)].summary if exp_runs else None
            bad = [n for n in names if by_col[n].mismatches]
            if expected is None:
                w(f"- {case.key}: no reference output ({expect_from or 'no column'} failed)")
            elif not bad:
                w(f"- {case.key}: OK `{md_escape(expected)}`")
            else:
                w(f"- {case.key}: **MISMATCH**; expected `{md_escape(expected)}`")
                for n in bad:
                    mm = by_col[n].mismatches
                    w(
                        f"  - {n}: {len(mm)} run(s) differ, e.g. round {mm[0][0] + 1}: "
                        f"`{md_escape(mm[0][1])}`"
                    )
    w("")

    fails = [
        (case.key, c, cells[case.key][c.name].failure)
        for b in benches
        for case in cases[b]
        for c in cols
        if cells[case.key][c.name].failure is not None
    ]
    if fails:
        w("**Failures** (the column stops running that benchmark after its first failure)")
        w("")
        for key, c, f in fails:
            assert f is not None
            case = next(x for b in benches for x in cases[b] if x.key == key)
            w(
                f"- {key} / {c.name}: {f.status()}; last stderr line: "
                f"`{md_escape(f.err_tail) or '(none)'}`; command: "
                f"`{md_escape(shlex.join(c.argv(case)))}`"
            )
        w("")
    w("Commands:")
    w("")
    for b in benches:
        for case in cases[b]:
            for c in cols:
                redirect = " >/dev/null" if case.discard_stdout else ""
                w(f"- {case.key} / {c.name}: `{md_escape(shlex.join(c.argv(case)))}{redirect}`")
    text = "\n".join(out) + "\n"

    data: dict[str, object] = {
        "arch": a.arch,
        "started": started,
        "host": host,
        "runs": a.runs,
        "warmup": a.warmup,
        "sizes": asdict(sizes),
        "reference": ref,
        "expected_from": expect_from,
        "columns": [
            {
                "name": c.name,
                "command": c.prefix,
                "arch": c.arch,
                "bindir": str(c.bindir),
                "compiler": c.compiler,
            }
            for c in cols
        ],
        "cases": data_cases,
        "per_syscall": per_syscall,
        "targets": TARGETS,
    }
    return text, data


def no_nan(x: object) -> object:
    """JSON has no NaN: missing medians and ratios become null."""
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: no_nan(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [no_nan(v) for v in x]
    return x


def paired_ps(cells: dict[str, dict[str, Cell]], n: str, ref: str, nsys: int) -> list[float]:
    """Per-round ratio of per-syscall costs (n vs ref), rounds where all four runs succeeded."""
    a1, a0 = cells["syscall"][n].ok_runs(), cells["syscall0"][n].ok_runs()
    b1, b0 = cells["syscall"][ref].ok_runs(), cells["syscall0"][ref].ok_runs()
    out: list[float] = []
    for r in sorted(a1.keys() & a0.keys() & b1.keys() & b0.keys()):
        num = (a1[r].wall - a0[r].wall) / (2 * nsys)
        den = (b1[r].wall - b0[r].wall) / (2 * nsys)
        if den > 0:
            out.append(num / den)
    return out


def target_cell(key: str, ratio: float | None) -> str:
    limit = TARGETS.get(key)
    if limit is None:
        return ""
    if ratio is None or ratio != ratio:
        return f"\u2264{limit:g}{TIMES}: -"
    return f"\u2264{limit:g}{TIMES}: " + ("met" if ratio <= limit else "**missed**")


if __name__ == "__main__":
    sys.exit(main())
