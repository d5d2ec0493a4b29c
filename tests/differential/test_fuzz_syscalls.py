"""Random system calls with hostile arguments (tests/guest/fuzzcalls.c) on every arch.

Each run makes USERMODE_FUZZ_CALLS calls (default 600) per seed: bad, closed and odd fds,
NULL, tiny, unmapped, kernel-half, read-only, misaligned and edge-of-mapping pointers, huge
and negative lengths, random flags. Under usermode every run must finish (no hang), with no
internal error or traceback. The program prints each call's outcome in words that are the
same on every arch, so the x86_64 build run natively (the real kernel) is the oracle: the
share of calls where usermode answers otherwise is held under a ceiling (what remains is
listed in the issue notes: mostly which of two faults Linux reports first).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import EMULATED_ARCHES, GuestFactory, describe, guest_env, run_cmd, run_usermode

from usermode.kernel.exec import EXIT_INTERNAL

CALLS = int(os.environ.get("USERMODE_FUZZ_CALLS", "600"))
SEEDS = (1, 2)
# differing outcomes allowed, as a share of the calls (measured: 137 of 3 000, 4.6%)
CEILING = 0.07


def _outcomes(stdout: bytes) -> list[str]:
    lines = stdout.decode(errors="replace").splitlines()
    assert lines and lines[-1] == "fuzz done", lines[-3:]
    return lines[:-1]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("arch", EMULATED_ARCHES)
def test_random_calls_finish(arch: str, seed: int, guest: GuestFactory) -> None:
    binary = guest("fuzzcalls", arch, "musl")
    emu = run_usermode(binary, str(seed), str(CALLS), env=guest_env(), timeout=120)
    assert emu.returncode == 0, describe(emu)
    assert emu.returncode != EXIT_INTERNAL
    assert b"internal error" not in emu.stderr and b"Traceback" not in emu.stderr, \
        describe(emu)
    assert len(_outcomes(emu.stdout)) == CALLS


@pytest.mark.parametrize("seed", SEEDS)
def test_random_calls_as_linux(seed: int, guest: GuestFactory, tmp_path: Path) -> None:
    if "x86_64" not in EMULATED_ARCHES:
        pytest.skip("x86_64 is not among USERMODE_TEST_ARCHES")
    binary = guest("fuzzcalls", "x86_64", "musl")
    native = run_cmd([str(binary), str(seed), str(CALLS)], capture_output=True, timeout=60,
                     cwd=tmp_path, check=False)
    assert native.returncode == 0, native.stderr
    emu = run_usermode(binary, str(seed), str(CALLS), env=guest_env(), cwd=tmp_path,
                       timeout=120)
    assert emu.returncode == 0, describe(emu)
    ours, linux = _outcomes(emu.stdout), _outcomes(native.stdout)
    differ = [(a, b) for a, b in zip(ours, linux, strict=True) if a != b]
    assert len(differ) <= CEILING * CALLS, \
        f"{len(differ)} of {CALLS} calls answer otherwise than Linux: {differ[:20]}"
