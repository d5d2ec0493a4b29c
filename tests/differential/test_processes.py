"""Processes: fork, wait statuses, execve of foreign programs and #! scripts, posix_spawn.

qemu-user cannot be the oracle here: without binfmt_misc it cannot run a foreign child
(its execve of an aarch64 binary fails). The x86_64 build's native run is the reference,
and every emulated run must print the same lines.
"""

from __future__ import annotations

import subprocess

import pytest
from conftest import build_or_skip
from support import EMULATED_ARCHES, describe, guest_env, run_cmd, run_usermode, scaled

EXPECTED = (b"fork_status ok\nfork_memory ok\nexec ok\nscript ok\nspawn ok\nresources ok\n"
            b"vfork ok\nwait_signals ok\nstop_continue ok\nshared_futex ok\nsender_info ok\n"
            b"sigchld_info ok\nprocs done\n")


@pytest.mark.parametrize("libc", ["musl", "glibc"])
def test_native_reference(libc: str) -> None:
    binary = build_or_skip("procs", "x86_64", libc)
    native = run_cmd([str(binary)], capture_output=True, timeout=60)
    assert native.returncode == 0 and native.stdout == EXPECTED, describe(native)


@pytest.mark.parametrize("libc", ["musl", "glibc"])
@pytest.mark.parametrize("arch", EMULATED_ARCHES)
def test_processes_under_usermode(arch: str, libc: str) -> None:
    binary = build_or_skip("procs", arch, libc)
    emu = run_usermode(binary, env=guest_env())
    assert emu.returncode == 0, describe(emu)
    assert emu.stdout == EXPECTED, describe(emu)


@pytest.mark.parametrize("arch", ["aarch64", "mipsel"])
def test_signal_to_our_main_thread_alone_has_its_sender(arch: str) -> None:
    """tgkill aimed at the emulator's main thread (not the process) while the guest waits
    in pause(): the guest's SA_SIGINFO handler runs, with SI_TKILL and our pid."""
    import ctypes
    import os
    import signal
    import sys

    binary = build_or_skip("sigs", arch, "musl")
    p = subprocess.Popen([sys.executable, "-m", "usermode", "run", str(binary), "wait_usr1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=guest_env())
    try:
        assert p.stdout is not None
        assert p.stdout.readline() == b"ready\n"
        libc = ctypes.CDLL(None, use_errno=True)
        nr_tgkill = 234  # x86_64
        assert libc.syscall(nr_tgkill, p.pid, p.pid, signal.SIGUSR1) == 0
        out, err = p.communicate(timeout=scaled(20))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert out == f"usr1 code=-6 pid={os.getpid()}\n".encode()
