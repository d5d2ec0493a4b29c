"""Processes: fork, wait statuses, execve of foreign programs and #! scripts, posix_spawn.

qemu-user cannot be the oracle here: without binfmt_misc it cannot run a foreign child
(its execve of an aarch64 binary fails). The x86_64 build's native run is the reference,
and every emulated run must print the same lines.
"""

from __future__ import annotations

import subprocess

import pytest
from conftest import build_or_skip
from support import EMULATED_ARCHES, describe, guest_env, run_usermode

EXPECTED = (b"fork_status ok\nfork_memory ok\nexec ok\nscript ok\nspawn ok\nresources ok\n"
            b"vfork ok\nwait_signals ok\nstop_continue ok\nshared_futex ok\nsender_info ok\n"
            b"sigchld_info ok\nprocs done\n")


@pytest.mark.parametrize("libc", ["musl", "glibc"])
def test_native_reference(libc: str) -> None:
    binary = build_or_skip("procs", "x86_64", libc)
    native = subprocess.run([str(binary)], capture_output=True, timeout=60)
    assert native.returncode == 0 and native.stdout == EXPECTED, describe(native)


@pytest.mark.parametrize("libc", ["musl", "glibc"])
@pytest.mark.parametrize("arch", EMULATED_ARCHES)
def test_processes_under_usermode(arch: str, libc: str) -> None:
    binary = build_or_skip("procs", arch, libc)
    emu = run_usermode(binary, env=guest_env())
    assert emu.returncode == 0, describe(emu)
    assert emu.stdout == EXPECTED, describe(emu)
