"""Guest programs run through usermode, compared with the reference run.

For every case in support.CASES and every arch in support.EMULATED_ARCHES
(aarch64 and x86_64 unless USERMODE_TEST_ARCHES says otherwise), the program
runs once on the reference (native x86_64 / qemu-user) and once under
``python -m usermode run``; stdout (with scratch paths normalised) and the exit
status must be the same.  stderr is not compared: qemu and usermode report
fatal signals differently.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import (
    CASES,
    CASES_BY_ID,
    EMULATED_ARCHES,
    LIBCS,
    PIE_CASE_IDS,
    GuestCase,
    GuestFactory,
    case_args,
    describe,
    guest_env,
    known_reference_bug,
    missing_lines,
    normalise,
    run_reference,
    run_usermode,
)


def _params(cases: tuple[GuestCase, ...]) -> list[object]:
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=f"needs {c.needs}",
                                                                strict=True)] if c.needs else [])
            for c in cases]


def compare_with_reference(case: GuestCase, arch: str, binary: Path, tmp_path: Path,
                           extra_env: dict[str, str] | None = None) -> None:
    env = guest_env({**case.env, **(extra_env or {})})
    ref_args, ref_repl = case_args(case, tmp_path, "ref")
    ref = run_reference(arch, binary, *ref_args, env=env)
    emu_args, emu_repl = case_args(case, tmp_path, "emu")
    if ref.returncode != case.returncode and known_reference_bug(case, arch, ref.stdout):
        # the oracle is wrong here: hold our run to the lines Linux prints instead
        emu = run_usermode(binary, *emu_args, env=env)
        assert emu.returncode == case.returncode, describe(emu)
        assert b"FAIL" not in emu.stdout, describe(emu)
        assert not missing_lines(emu.stdout, case.lines), describe(emu)
        return
    assert ref.returncode == case.returncode, f"reference run failed:\n{describe(ref)}"

    emu = run_usermode(binary, *emu_args, env=env)
    assert normalise(emu.stdout, emu_repl) == normalise(ref.stdout, ref_repl), describe(emu)
    assert emu.returncode == ref.returncode, describe(emu)


# Every arch runs with the compiled core (when built); the pure-Python paths stay correct
# too: every case again without the core on a 64-bit and a 32-bit arch.
PYTHON_PATH_ARCHES = tuple(a for a in ("aarch64", "arm") if a in EMULATED_ARCHES)
RUNS = [pytest.param(a, {}, id=a) for a in EMULATED_ARCHES] + [
    pytest.param(a, {"USERMODE_NATIVE": "0"}, id=f"{a}-python") for a in PYTHON_PATH_ARCHES]


@pytest.mark.parametrize("libc", LIBCS)
@pytest.mark.parametrize(("arch", "extra_env"), RUNS)
@pytest.mark.parametrize("case", _params(CASES))
def test_usermode_matches_reference(
    case: GuestCase, arch: str, extra_env: dict[str, str], libc: str, guest: GuestFactory,
    tmp_path: Path
) -> None:
    binary = guest(case.program, arch, libc)
    compare_with_reference(case, arch, binary, tmp_path, extra_env)


@pytest.mark.parametrize("libc", LIBCS)
@pytest.mark.parametrize("arch", EMULATED_ARCHES)
@pytest.mark.parametrize("case", _params(tuple(CASES_BY_ID[i] for i in PIE_CASE_IDS)))
def test_usermode_static_pie_matches_reference(
    case: GuestCase, arch: str, libc: str, guest: GuestFactory, tmp_path: Path
) -> None:
    binary = guest(case.program, arch, libc, pie=True)
    compare_with_reference(case, arch, binary, tmp_path)
