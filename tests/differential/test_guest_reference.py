"""The guest programs themselves, checked on the reference (native x86_64 / qemu-user).

These tests do not involve usermode: they prove that tests/guest/*.c build for
every arch and libc and print the expected lines on real Linux, so a mismatch
in test_guest_programs.py points at the emulator, not at the program.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from guestbuild import ToolchainMissing, build_guest
from support import (
    CASES,
    CASES_BY_ID,
    LIBCS,
    PIE_CASE_IDS,
    REFERENCE_ARCHES,
    UNAME_MACHINES,
    GuestCase,
    GuestFactory,
    case_args,
    describe,
    guest_env,
    known_reference_bug,
    missing_lines,
    reference_command,
    run_reference,
    sha256_expected,
)


def check_reference_run(
    case: GuestCase, arch: str, binary: Path, tmp_path: Path, label: str = "ref"
) -> bytes:
    args, _ = case_args(case, tmp_path, label)
    proc = run_reference(arch, binary, *args, env=guest_env(case.env))
    bug = known_reference_bug(case, arch, proc.stdout) if proc.returncode else None
    if bug:
        pytest.skip(f"known qemu-user bug: {bug}")
    assert proc.returncode == case.returncode, describe(proc)
    assert b"FAIL" not in proc.stdout, describe(proc)
    missing = missing_lines(proc.stdout, case.lines)
    assert not missing, f"missing lines {missing}\n{describe(proc)}"

    lines = proc.stdout.decode().splitlines()
    if case.program == "args":
        assert f"argv[0]={binary}" in lines
        assert f"execfn={binary}" in lines
    elif case.program == "sysinfo":
        assert f"machine={UNAME_MACHINES[arch]}" in lines, describe(proc)
    elif case.program == "compute":
        assert f"sha256 {sha256_expected()}" in lines, describe(proc)
    return proc.stdout


@pytest.mark.parametrize("libc", LIBCS)
@pytest.mark.parametrize("arch", REFERENCE_ARCHES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reference(
    case: GuestCase, arch: str, libc: str, guest: GuestFactory, tmp_path: Path
) -> None:
    binary = guest(case.program, arch, libc)
    check_reference_run(case, arch, binary, tmp_path)


@pytest.mark.parametrize("libc", LIBCS)
@pytest.mark.parametrize("arch", REFERENCE_ARCHES)
@pytest.mark.parametrize("case_id", PIE_CASE_IDS)
def test_reference_static_pie(
    case_id: str, arch: str, libc: str, guest: GuestFactory, tmp_path: Path
) -> None:
    case = CASES_BY_ID[case_id]
    binary = guest(case.program, arch, libc, pie=True)
    check_reference_run(case, arch, binary, tmp_path)


@pytest.mark.parametrize("case", [c for c in CASES if c.portable], ids=lambda c: c.id)
def test_output_identical_across_arches(case: GuestCase, tmp_path: Path) -> None:
    """Portable programs print byte-identical output on every arch and libc."""
    outputs: dict[str, str] = {}
    for arch in REFERENCE_ARCHES:
        try:
            reference_command(arch)
        except pytest.skip.Exception:
            continue
        for libc in LIBCS:
            try:
                binary = build_guest(case.program, arch, libc)
            except ToolchainMissing:
                continue
            label = f"{arch}-{libc}"
            try:
                out = check_reference_run(case, arch, binary, tmp_path, label)
            except pytest.skip.Exception:  # a known qemu-user bug: leave that run out
                continue
            outputs[label] = out.decode()
    if len(outputs) < 2:
        pytest.skip(f"fewer than two arch/libc combinations available: {sorted(outputs)}")
    first_label, first = next(iter(outputs.items()))
    for label, out in outputs.items():
        assert out == first, f"{label} differs from {first_label}"
