"""Guest threads beyond what the reference comparison covers.

- Robust mutexes: a thread that exits holding one leaves it to the next locker with
  EOWNERDEAD. qemu-user cannot run this (no robust lists), so the reference is the native
  x86_64 build and the expected output itself.
- Preemption stress: threads that pass a token around by spinning, never making a
  syscall, finish only if the scheduler preempts them; repeated to shake out resume bugs.
- Thread ids and strace: each line is prefixed by the calling thread's id.
"""

from __future__ import annotations

import re
import sys

import pytest
from conftest import build_or_skip
from support import EMULATED_ARCHES, REPO_ROOT, describe, guest_env, run_cmd, run_usermode


@pytest.mark.parametrize("libc", ["musl", "glibc"])
@pytest.mark.parametrize("arch", EMULATED_ARCHES)
def test_robust_mutex_owner_death(arch: str, libc: str) -> None:
    binary = build_or_skip("threads", arch, libc)
    if arch == "x86_64":
        native = run_cmd([str(binary), "robust"], capture_output=True, timeout=60)
        assert native.stdout == b"robust ok\nthreads done\n", describe(native)
    emu = run_usermode(binary, "robust", env=guest_env())
    assert emu.returncode == 0, describe(emu)
    assert emu.stdout == b"robust ok\nthreads done\n", describe(emu)


@pytest.mark.parametrize("arch", EMULATED_ARCHES)
def test_preemption_stress(arch: str) -> None:
    """Spinning threads (no syscalls) interleaved with blocking ones, several times over."""
    binary = build_or_skip("threads", arch, "musl")
    for _ in range(3):
        emu = run_usermode(binary, "spin", "ring", "atomics", env=guest_env())
        assert emu.returncode == 0, describe(emu)
        assert emu.stdout == b"atomics ok\nspin ok\nring ok\nthreads done\n", describe(emu)


@pytest.mark.parametrize("arch", EMULATED_ARCHES)
def test_strace_lines_carry_thread_ids(arch: str) -> None:
    binary = build_or_skip("threads", arch, "musl")
    env = guest_env()
    env["PYTHONPATH"] = str(REPO_ROOT)
    emu = run_cmd([sys.executable, "-m", "usermode", "run", "-strace", str(binary),
                          "create"], env=env, capture_output=True, timeout=120)
    assert emu.returncode == 0, describe(emu)
    # the main thread's lines start with its tid, the others' with PID/TID
    tids = {int(m.group(2) or m.group(1))
            for m in re.finditer(rb"^(\d+)(?:/(\d+))? ", emu.stderr, re.M)}
    assert len(tids) == 9, emu.stderr.decode()[-3000:]  # the main thread and 8 others
    assert re.search(rb"^\d+ clone3?\(.*\) = \d+$", emu.stderr, re.M), emu.stderr.decode()[-3000:]
    assert re.search(rb"^[\d/]+ futex\(.* <unfinished \.\.\.>$", emu.stderr, re.M) or \
        re.search(rb"^[\d/]+ exit\(0\) = \?$", emu.stderr, re.M)
