"""The Linux Test Project's syscall tests: a subset in CI, held to what usermode passes now.

LTP (source, build script, sandboxed runner: ../shared/ltp, or $USERMODE_LTP_DIR) is built for
aarch64 for the directories in LTP_DIRS, and each test of theirs that passes (or only says
TCONF) in `ltp_expected.txt` runs under usermode in the runner's per-test sandbox and must
still do so: the file is the regression line, rewritten from a run with

    python tests/integration/test_ltp.py RESULTS.json     (a run.py --json of the full suite)

The whole suite, side by side with qemu-user, is in docs/conformance.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "ltp_expected.txt"
# Directories of testcases/kernel/syscalls built and run in CI (about two minutes each way)
LTP_DIRS = (
    "access chdir chmod chroot clock_gettime clock_nanosleep close dup dup2 dup3 epoll_ctl "
    "epoll_wait eventfd fcntl fork futex getcpu getpid getrlimit inotify kill lseek madvise "
    "memfd_create mkdir mmap mprotect mq_notify mq_open mq_timedreceive mq_timedsend mq_unlink "
    "munmap nanosleep open pipe poll preadv pwritev read readv rename rmdir sched_getattr "
    "sigaction sigaltstack socketpair splice stat statx sysinfo tee timer_create umask uname "
    "unlink vmsplice wait4 waitpid write writev"
).split()
PASSING = ("pass", "conf")
# Tests whose verdict changes from run to run on a loaded 2-core machine (timing, dnotify
# delivery): run, but not held to their last verdict
FLAKY = frozenset({"epoll_wait08", "fcntl38", "fcntl38_64", "fcntl39", "fcntl39_64",
                   "futex_wait07", "pipe08", "shmctl01", "kill12"})


def _ltp_dir() -> Path | None:
    d = Path(os.environ.get("USERMODE_LTP_DIR") or HERE.parents[2] / "shared" / "ltp")
    return d if (d / "build.sh").is_file() and (d / "run.py").is_file() else None


def _expected() -> dict[str, str]:
    out = {}
    for line in EXPECTED.read_text().splitlines():
        if line and not line.startswith("#"):
            name, verdict = line.split()
            out[name] = verdict
    return out


def _in_subset(name: str, cmd: str) -> bool:
    return any(cmd.startswith(d) or name.startswith(d) for d in LTP_DIRS)


@pytest.fixture(scope="module")
def ltp_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    ltp = _ltp_dir()
    if ltp is None:
        pytest.skip("LTP is not here: ../shared/ltp (build.sh, run.py) or $USERMODE_LTP_DIR")
    for tool in ("aarch64-linux-gnu-gcc", "autoreconf", "make", "unshare"):
        if shutil.which(tool) is None:
            pytest.skip(f"building and running LTP needs {tool}")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "usermode-ltp-ci"
    env = {**os.environ, "USERMODE_LTP_CACHE": str(cache)}
    build = subprocess.run(["sh", str(ltp / "build.sh"), *LTP_DIRS], env=env,
                           capture_output=True, text=True, timeout=3600)
    if build.returncode != 0:
        pytest.fail(f"LTP build failed:\n{build.stdout[-2000:]}{build.stderr[-2000:]}")
    work = tmp_path_factory.mktemp("ltp")
    # only the tests that passed: a runtest file of their lines from LTP's own list
    wanted = {n for n, v in _expected().items() if v in PASSING}
    lines = [ln for ln in (cache / "install/runtest/syscalls").read_text().splitlines()
             if ln.split()[:1] and ln.split()[0] in wanted]
    results = _run(ltp, env, work, lines, "ci", jobs=2)
    if results and all(r.get("verdict") == "sandbox" for r in results.values()):
        pytest.skip("the LTP runner's sandbox (user namespaces) is not available here")
    # what failed under the load of two at a time runs once more alone: a regression fails
    # both times, a test that lost a race under load (and was not known for it) does not
    again = [ln for ln in lines if results.get(ln.split()[0], {}).get("verdict") not in PASSING]
    if again:
        results.update(_run(ltp, env, work, again, "ci-again", jobs=1))
    return results


def _run(ltp: Path, env: dict[str, str], work: Path, lines: list[str], tag: str,
         jobs: int) -> dict[str, dict[str, object]]:
    runtest, out = work / f"{tag}.runtest", work / f"{tag}.json"
    runtest.write_text("\n".join(lines) + "\n")
    emulator = f"{sys.executable} -m usermode run -L /usr/aarch64-linux-gnu"
    run = subprocess.run([sys.executable, str(ltp / "run.py"), "--emulator", emulator,
                          "--tag", tag, "--json", str(out), "--jobs", str(jobs), "--timeout",
                          "120", "--runtest", str(runtest)], env=env, capture_output=True,
                         text=True, timeout=7200)
    if not out.exists():
        pytest.fail(f"the LTP runner failed:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
    results: dict[str, dict[str, object]] = json.loads(out.read_text())["results"]
    return results


def test_ltp_subset_keeps_passing(ltp_results: dict[str, dict[str, object]]) -> None:
    expected = _expected()
    lost = []
    for name, verdict in sorted(expected.items()):
        r = ltp_results.get(name)
        if r is None or r.get("verdict") == "notbuilt" or name in FLAKY:
            continue  # not in this build (the subset, or a test LTP skips building here)
        if verdict in PASSING and r.get("verdict") not in PASSING:
            lost.append(f"{name}: was {verdict}, now {r.get('verdict')}: {r.get('first_error')}")
    assert not lost, "LTP tests that passed before:\n" + "\n".join(lost)
    ran = [n for n in expected if n in ltp_results]
    assert len(ran) >= 100, f"only {len(ran)} of the expected LTP tests ran"


def test_no_internal_errors(ltp_results: dict[str, dict[str, object]]) -> None:
    """Whatever a test does, usermode never ends with a traceback or exit 70."""
    bad = [f"{n}: {r.get('first_error')}" for n, r in sorted(ltp_results.items())
           if r.get("traceback") or r.get("rc") == 70]
    assert not bad, "\n".join(bad)


def _write_expected(results_json: str) -> None:
    results = json.loads(Path(results_json).read_text())["results"]
    lines = ["# LTP verdicts under usermode for the CI subset (tests/integration/test_ltp.py);",
             "# regenerate: python tests/integration/test_ltp.py RESULTS.json"]
    for name, r in sorted(results.items()):
        if _in_subset(name, str(r.get("cmd", ""))) and r.get("verdict") not in (
                "notbuilt", "excluded", "script"):
            lines.append(f"{name} {r['verdict']}")
    EXPECTED.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    _write_expected(sys.argv[1])
