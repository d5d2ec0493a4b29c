"""Build the bundled example binaries: examples/<arch>/hello for every arch.

Each is a stripped, size-optimised static musl binary made with zig
(``pip install ziglang``).  An arch whose build fails is skipped with a message.

    python examples/build.py            # all arches
    python examples/build.py aarch64    # just one
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Same targets as the test suite (tests/guestbuild.py): mipsel is soft-float
# o32, arm is hard-float EABI.
ZIG_TARGETS: dict[str, str] = {
    "aarch64": "aarch64-linux-musl",
    "x86_64": "x86_64-linux-musl",
    "riscv64": "riscv64-linux-musl",
    "arm": "arm-linux-musleabihf",
    "mipsel": "mipsel-linux-musleabi",
    "i386": "x86-linux-musl",
}
# -fPIC on mipsel: musl's MIPS assembly expects PIC callers (see tests/guestbuild.py).
EXTRA_FLAGS: dict[str, tuple[str, ...]] = {"mipsel": ("-fPIC",)}

PROGRAMS = ("hello",)


def build(arch: str, program: str) -> Path | None:
    """Build examples/src/<program>.c for arch; return the output path or None on failure."""
    out_dir = HERE / arch
    out_dir.mkdir(exist_ok=True)
    out = out_dir / program
    tmp = out_dir / f".{program}.tmp"
    cmd = [
        sys.executable,
        "-m",
        "ziglang",
        "cc",
        "-target",
        ZIG_TARGETS[arch],
        "-static",
        *EXTRA_FLAGS.get(arch, ()),
        "-Os",
        "-s",
        str(HERE / "src" / f"{program}.c"),
        "-o",
        str(tmp),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        print(f"skip {arch}/{program}: zig target {ZIG_TARGETS[arch]} failed:\n{proc.stderr}")
        return None
    tmp.chmod(0o755)
    tmp.replace(out)
    return out


def main(argv: list[str]) -> int:
    arches = argv or list(ZIG_TARGETS)
    unknown = [a for a in arches if a not in ZIG_TARGETS]
    if unknown:
        print(f"unknown arch {unknown}; expected some of {list(ZIG_TARGETS)}", file=sys.stderr)
        return 2
    built = 0
    for arch in arches:
        for program in PROGRAMS:
            out = build(arch, program)
            if out is not None:
                built += 1
                print(f"built {out.relative_to(HERE.parent)} ({out.stat().st_size} bytes)")
    return 0 if built else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
