"""Cross-compile the guest test programs in tests/guest/ and cache the results.

``build_guest("hello", "aarch64")`` returns the path of a static aarch64 binary
built from ``tests/guest/hello.c``.  Builds are cached under
``$USERMODE_TEST_CACHE`` (or ``$XDG_CACHE_HOME/usermode-tests``, or
``~/.cache/usermode-tests``), keyed by a hash of the sources, the compiler
command and the compiler version, and are written atomically (temporary file,
then rename), so parallel pytest workers can share the cache safely.

Toolchains:

* ``libc="musl"``: ``python -m ziglang cc -target <zig triple>`` (PyPI ziglang).
* ``libc="glibc"``: Debian's ``<triple>-gcc`` cross compilers, or the host
  ``gcc`` for x86_64.

A missing toolchain raises :class:`ToolchainMissing` with the reason.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ARCHES = ("aarch64", "x86_64", "riscv64", "arm", "mipsel", "i386", "armel", "s390x")
LIBCS = ("musl", "glibc")

GUEST_DIR = Path(__file__).resolve().parent / "guest"

# zig target triples for the musl builds.  mipsel uses the soft-float o32 ABI
# ("musleabi"); "mipsel-linux-musleabihf" also builds and runs under qemu, but
# soft-float keeps FPU emulation out of the basic tests.  arm is hard-float
# EABI (VFP), like Debian's armhf; armel the soft-float EABI.
ZIG_TARGETS: dict[str, str] = {
    "aarch64": "aarch64-linux-musl",
    "x86_64": "x86_64-linux-musl",
    "riscv64": "riscv64-linux-musl",
    "arm": "arm-linux-musleabihf",
    "mipsel": "mipsel-linux-musleabi",
    "i386": "x86-linux-musl",
    "armel": "arm-linux-musleabi",  # soft-float EABI (ARMv7 code: zig has no ARMv5 atomics)
    "s390x": "s390x-linux-musl",  # z13 code
}

# Extra zig flags per arch for non-PIE builds.  mipsel: musl's MIPS assembly
# (sigsetjmp, ...) is PIC code that finds its GOT through $t9, which non-PIC
# callers do not set up, so sigsetjmp jumps to garbage; -fPIC makes every call
# go through $t9 (as in Debian's mipsel, which is PIC by default).
ZIG_EXTRA_FLAGS: dict[str, tuple[str, ...]] = {"mipsel": ("-fPIC",)}
# The CPU every build of an arch targets. s390x: Unicorn 2.1.4 translates the high-word
# facility's RISBHG wrongly (it clears the low word instead of inserting into the high one:
# docs/abi.md), and zig's default z13 code uses it; z10 code has no high-word instructions.
CPU_FLAGS: dict[str, dict[str, tuple[str, ...]]] = {
    "musl": {"s390x": ("-mcpu=z10",)}, "glibc": {"s390x": ("-march=z10",)}}

# Debian cross-compiler triples for the glibc builds.
GNU_TRIPLES: dict[str, str] = {
    "aarch64": "aarch64-linux-gnu",
    "x86_64": "x86_64-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
    "arm": "arm-linux-gnueabihf",
    "mipsel": "mipsel-linux-gnu",
    "i386": "i686-linux-gnu",
    "armel": "arm-linux-gnueabi",
    "s390x": "s390x-linux-gnu",
}

# ELF e_machine values, used to sanity-check what the compiler produced.
ELF_MACHINES: dict[str, int] = {
    "aarch64": 183,
    "x86_64": 62,
    "riscv64": 243,
    "arm": 40,
    "mipsel": 8,
    "i386": 3,
    "armel": 40,
    "s390x": 22,
}

# Flags shared by every build.  -ffp-contract=off keeps a*b+c from being fused
# into an FMA on some arches and not others, so floating-point results (see
# compute.c) are bit-identical everywhere.
COMMON_FLAGS: tuple[str, ...] = ("-O2", "-std=gnu11", "-ffp-contract=off", "-Wall")
DEBUG_FLAGS: tuple[str, ...] = ("-O0", "-g", "-fno-omit-frame-pointer")

# Appended after the source: glibc keeps the maths functions in libm.
LINK_FLAGS: tuple[str, ...] = ("-lm",)

PT_INTERP = 3
ET_EXEC = 2
ET_DYN = 3


class ToolchainMissing(Exception):
    """The compiler needed for an (arch, libc) combination is not available."""


class GuestBuildError(Exception):
    """The compiler ran but failed, or produced something unexpected."""


def cache_dir() -> Path:
    """Directory where built guest binaries are cached."""
    explicit = os.environ.get("USERMODE_TEST_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "usermode-tests"


@functools.cache
def _zig_version() -> str:
    if importlib.util.find_spec("ziglang") is None:
        raise ToolchainMissing("ziglang is not installed (pip install ziglang)")
    proc = subprocess.run(
        [sys.executable, "-m", "ziglang", "version"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ToolchainMissing(f"'python -m ziglang version' failed: {proc.stderr.strip()}")
    return "zig " + proc.stdout.strip()


@functools.cache
def _gcc_version(gcc: str) -> str:
    proc = subprocess.run([gcc, "--version"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ToolchainMissing(f"'{gcc} --version' failed: {proc.stderr.strip()}")
    first = proc.stdout.splitlines()[0] if proc.stdout else ""
    machine = subprocess.run(
        [gcc, "-dumpmachine"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return f"{first} ({machine})"


def _glibc_compiler(arch: str) -> str:
    triple = GNU_TRIPLES[arch]
    candidates = [f"{triple}-gcc"]
    if arch == "x86_64":
        candidates.append("gcc")
    for name in candidates:
        path = shutil.which(name)
        if path:
            return path
    raise ToolchainMissing(
        f"no glibc cross compiler for {arch}: {' or '.join(candidates)} not on PATH "
        f"(Debian package gcc-{triple})"
    )


def compiler_command(arch: str, libc: str = "musl", pie: bool = False,
                     dynamic: bool = False) -> tuple[list[str], str]:
    """Return (compiler argv prefix, compiler version) for one arch/libc/pie combination.

    The argv prefix still needs the source file and ``-o OUTPUT``.  Raises
    :class:`ToolchainMissing` when the toolchain is not available.
    """
    if arch not in ARCHES:
        raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHES}")
    if libc == "musl":
        version = _zig_version()
        cmd = [sys.executable, "-m", "ziglang", "cc", "-target", ZIG_TARGETS[arch]]
        # zig ignores -static-pie; "-static -fPIE -pie" gives a static-pie ET_DYN
        # without PT_INTERP.
        cmd += ["-static", "-fPIE", "-pie"] if pie else ["-static", *ZIG_EXTRA_FLAGS.get(arch, ())]
        cmd += CPU_FLAGS["musl"].get(arch, ())
    elif libc == "glibc":
        gcc = _glibc_compiler(arch)
        version = _gcc_version(gcc)
        if dynamic:  # linked against the cross sysroot's shared glibc, with PT_INTERP
            cmd = [gcc, "-fPIE", "-pie"] if pie else [gcc, "-no-pie"]
        else:
            if pie and not _has_file(gcc, "rcrt1.o"):
                raise ToolchainMissing(f"{gcc} has no static-pie start file (rcrt1.o): the "
                                       f"cross glibc does not support static-pie on {arch}")
            cmd = [gcc, "-fPIE", "-static-pie"] if pie else [gcc, "-static"]
        if arch == "i386":
            # gcc defaults to x87 maths on i686 (excess precision); zig uses SSE2.
            cmd += ["-msse2", "-mfpmath=sse"]
        cmd += CPU_FLAGS["glibc"].get(arch, ())
    else:
        raise ValueError(f"unknown libc {libc!r}; expected one of {LIBCS}")
    if dynamic and libc != "glibc":
        raise ValueError("dynamic builds use the Debian cross glibc (libc='glibc')")
    cmd += [*COMMON_FLAGS, "-I", str(GUEST_DIR)]
    return cmd, version


def _has_file(gcc: str, name: str) -> bool:
    out = subprocess.run([gcc, f"-print-file-name={name}"], capture_output=True, text=True)
    return os.path.isabs(out.stdout.strip())


def _source_digest(name: str) -> bytes:
    """Hash of the program source plus the shared headers it may include."""
    h = hashlib.sha256()
    src = GUEST_DIR / f"{name}.c"
    h.update(b"src\0" + src.read_bytes())
    for header in sorted(GUEST_DIR.glob("*.h")):
        h.update(b"hdr\0" + header.name.encode() + b"\0" + header.read_bytes())
    return h.digest()


def check_elf(path: Path, arch: str, pie: bool, dynamic: bool = False) -> None:
    """Raise GuestBuildError unless path is an ELF for arch: static (static-pie when pie),
    or with an interpreter when dynamic."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        raise GuestBuildError(f"{path}: not an ELF file")
    is64 = data[4] == 2
    endian = "<" if data[5] == 1 else ">"
    e_type, e_machine = struct.unpack_from(endian + "HH", data, 16)
    if e_machine != ELF_MACHINES[arch]:
        raise GuestBuildError(f"{path}: e_machine {e_machine}, expected {ELF_MACHINES[arch]}")
    want_type = ET_DYN if pie else ET_EXEC
    if e_type != want_type:
        raise GuestBuildError(f"{path}: e_type {e_type}, expected {want_type}")
    if is64:
        e_phoff = struct.unpack_from(endian + "Q", data, 32)[0]
        e_phentsize, e_phnum = struct.unpack_from(endian + "HH", data, 54)
    else:
        e_phoff = struct.unpack_from(endian + "I", data, 28)[0]
        e_phentsize, e_phnum = struct.unpack_from(endian + "HH", data, 42)
    for i in range(e_phnum):
        p_type = struct.unpack_from(endian + "I", data, e_phoff + i * e_phentsize)[0]
        if p_type == PT_INTERP and not dynamic:
            raise GuestBuildError(f"{path}: has PT_INTERP, expected a static binary")


def build_guest(name: str, arch: str, libc: str = "musl", pie: bool = False,
                dynamic: bool = False, debug: bool = False) -> Path:
    """Build tests/guest/<name>.c statically for arch/libc and return the cached binary.

    With ``pie=True`` the result is a static-PIE executable (ET_DYN, no PT_INTERP); with
    ``debug=True`` it is unoptimised and has debug info (for the gdb tests).
    Raises ToolchainMissing when the toolchain is absent and GuestBuildError
    when compilation fails.
    """
    src = GUEST_DIR / f"{name}.c"
    if not src.is_file():
        raise FileNotFoundError(f"no guest program {src}")
    cmd, version = compiler_command(arch, libc, pie, dynamic)
    if debug:
        cmd = [*cmd, *DEBUG_FLAGS]

    key = hashlib.sha256()
    key.update(_source_digest(name))
    # The command identifies the build; leave out the interpreter path for zig
    # (it varies between virtualenvs without changing the output) and the
    # checkout location.
    key_cmd = cmd[1:] if libc == "musl" else cmd
    key.update("\0".join(c.replace(str(GUEST_DIR), "<guest>") for c in key_cmd).encode())
    key.update("\0".join(LINK_FLAGS).encode())
    key.update(version.encode())
    if debug:  # gdb shows source lines from the path in the debug info: this checkout's
        key.update(str(GUEST_DIR).encode())
    digest = key.hexdigest()[:20]

    out_dir = cache_dir() / (f"{arch}-{libc}{'-dyn' if dynamic else ''}{'-pie' if pie else ''}"
                             f"{'-g' if debug else ''}")
    out = out_dir / f"{name}-{digest}"
    if out.is_file():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)

    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}-", suffix=".tmp", dir=out_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        proc = subprocess.run(
            [*cmd, str(src), "-o", str(tmp), *LINK_FLAGS],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise GuestBuildError(
                f"building {name} for {arch}/{libc} failed ({proc.returncode}):\n"
                f"$ {' '.join(cmd)} {src} -o {tmp} {' '.join(LINK_FLAGS)}\n"
                f"{proc.stdout}{proc.stderr}"
            )
        check_elf(tmp, arch, pie, dynamic)
        tmp.chmod(0o755)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def static_pie_build(name: str, arch: str, libc: str = "musl") -> Path:
    """Shorthand for ``build_guest(name, arch, libc, pie=True)``."""
    return build_guest(name, arch, libc, pie=True)


def guest_programs() -> list[str]:
    """Names of all guest programs (tests/guest/*.c without the suffix)."""
    return sorted(p.stem for p in GUEST_DIR.glob("*.c"))


def main(argv: list[str] | None = None) -> int:
    """Build every guest program for every arch/libc; print what was built or skipped."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--arch", action="append", choices=ARCHES)
    parser.add_argument("--libc", action="append", choices=LIBCS)
    parser.add_argument("--pie", action="store_true")
    parser.add_argument("programs", nargs="*")
    args = parser.parse_args(argv)
    failed = 0
    for arch in args.arch or ARCHES:
        for libc in args.libc or LIBCS:
            for name in args.programs or guest_programs():
                try:
                    path = build_guest(name, arch, libc, pie=args.pie)
                except ToolchainMissing as exc:
                    print(f"skip  {arch}/{libc} {name}: {exc}")
                    break
                except GuestBuildError as exc:
                    print(f"FAIL  {arch}/{libc} {name}: {exc}")
                    failed += 1
                    continue
                print(f"built {arch}/{libc} {name}: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
