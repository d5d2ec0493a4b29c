"""Interactive Debian arm64 bash in a real pty, driven like a person at a terminal: job
control (Ctrl-Z, bg, fg, Ctrl-C), a child stopping itself, a background read from the
terminal stopped by SIGTTIN, and termios/winsize through stty. Every child is an arm64
program that usermode runs after bash forks and execs it; the expected screen is what the
same bash shows natively (checked against the host's bash where it runs the same script)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from fetch_debs import fetch
from support import scaled

PROMPT = "PROMPT$ "


@pytest.fixture(scope="module")
def rootfs() -> Path:
    try:
        root = Path(fetch("aarch64", ["libc6", "bash", "coreutils", "dash"], deps=True))
    except (RuntimeError, OSError) as e:
        pytest.skip(f"cannot fetch Debian arm64 bash and coreutils: {e}")
    if not (root / "bin/bash").exists() or not (root / "bin/stty").exists():
        pytest.skip("Debian arm64 bash or coreutils incomplete")
    return root


def _shell(rootfs: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    pexpect = pytest.importorskip("pexpect", reason="pexpect drives the pty")
    env = {"PATH": "/bin:/usr/bin", "HOME": str(tmp_path), "TERM": "dumb", "PS1": PROMPT,
           "LANG": "C"}
    c = pexpect.spawn(sys.executable, ["-m", "usermode", "run", "-L", str(rootfs),
                                       str(rootfs / "bin/bash"), "--norc", "--noprofile",
                                       "-i"],
                      env=env, cwd=str(tmp_path), timeout=scaled(60), encoding="utf-8",
                      dimensions=(33, 111))
    c.expect_exact(PROMPT)
    _run(c, "uname -m; command -v sh stty", "aarch64", "/bin/sh", "/bin/stty")
    return pexpect, c


def _run(c, line: str, *expect: str) -> None:  # type: ignore[no-untyped-def]
    c.sendline(line)
    for pattern in expect:
        c.expect(pattern)
    c.expect_exact(PROMPT)


def test_ctrl_z_bg_fg_ctrl_c(rootfs: Path, tmp_path: Path) -> None:
    pexpect, c = _shell(rootfs, tmp_path)
    # the child says when it runs (its signal dispositions are the job's by then), then
    # becomes sleep
    job = "sh -c 'echo started; exec sleep 30'"
    c.sendline(job)
    c.expect("\r\nstarted")
    time.sleep(0.3)
    c.sendcontrol("z")
    c.expect(r"\[1\]\+ +Stopped +sh -c")
    c.expect_exact(PROMPT)
    _run(c, "jobs", r"\[1\]\+ +Stopped +sh -c")
    _run(c, "bg", r"\[1\]\+ sh -c .* &")
    _run(c, "jobs", r"\[1\]\+ +Running +sh -c .* &")
    c.sendline("fg")
    c.expect("exec sleep 30'")
    time.sleep(1)
    c.sendcontrol("c")
    c.expect_exact(PROMPT)
    _run(c, "echo status=$?", "status=130")
    c.sendline("exit 3")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 3


def test_self_stop_ttin_and_termios(rootfs: Path, tmp_path: Path) -> None:
    pexpect, c = _shell(rootfs, tmp_path)
    # dash stops itself with kill(getpid(), SIGTSTP): the default action is a real stop
    _run(c, "sh -c 'kill -TSTP $$; echo resumed'", r"Stopped +sh -c")
    _run(c, "fg", "resumed")
    # a background job reading the terminal gets SIGTTIN from the kernel and stops
    _run(c, "cat &")
    for _ in range(40):  # bash reports the stop at the first prompt after it happened
        c.sendline("jobs")
        if c.expect([r"Stopped +cat", r"Running +cat"]) == 0:
            break
        c.expect_exact(PROMPT)
        time.sleep(0.25)
    else:
        pytest.fail("the background cat never stopped")
    c.expect_exact(PROMPT)
    _run(c, "kill -9 %1")
    _run(c, "wait; stty size", "33 111")
    _run(c, "stty -echo; stty | grep -c -- -echo; stty echo", "1\r\n")
    _run(c, "stty -a | grep -o 'rows [0-9]*; columns [0-9]*'", "rows 33; columns 111")
    c.sendline("exit")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0
