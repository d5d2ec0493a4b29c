"""qemu-style options and the observable contract of `usermode run` on real guest programs."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import run_cmd

ARCHES = ("aarch64", "x86_64")


def um(*args: str, env: dict[str, str] | None = None,
       input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return run_cmd([sys.executable, "-m", "usermode", "run", *args], capture_output=True,
                          env=env, input=input, timeout=120)


@pytest.mark.parametrize("arch", ARCHES)
def test_env_options_and_argv0(guest, arch: str) -> None:  # type: ignore[no-untyped-def]
    prog = guest("args", arch)
    import os

    env = dict(os.environ, KEEP="kept", DROP="dropped")
    p = um("-E", "NEW=1,OTHER=two", "-U", "DROP", "-0", "renamed", str(prog), "env:NEW",
           "env:OTHER", "env:DROP", "env:KEEP", env=env)
    out = p.stdout.decode()
    assert p.returncode == 0, p.stderr
    assert "argv[0]=renamed\n" in out
    assert "env NEW=1\n" in out and "env OTHER=two\n" in out
    assert "env DROP unset\n" in out and "env KEEP=kept\n" in out
    # the same through qemu's environment variables
    env = dict(os.environ, QEMU_SET_ENV="NEW=3", QEMU_UNSET_ENV="KEEP", KEEP="x",
               QEMU_ARGV0="zero")
    p = um(str(prog), "env:NEW", "env:KEEP", env=env)
    out = p.stdout.decode()
    assert "argv[0]=zero\n" in out and "env NEW=3\n" in out and "env KEEP unset\n" in out


@pytest.mark.parametrize("arch", ARCHES)
def test_exit_status_is_the_guests(guest, arch: str) -> None:  # type: ignore[no-untyped-def]
    prog = guest("exitcode", arch)
    for code in (0, 1, 42, 255):
        assert um(str(prog), str(code)).returncode == code


@pytest.mark.parametrize("arch", ARCHES)
def test_abort_kills_us_with_sigabrt(guest, arch: str) -> None:  # type: ignore[no-untyped-def]
    p = um(str(guest("exitcode", arch)), "3", "abort")
    assert p.returncode == -signal.SIGABRT


@pytest.mark.parametrize("arch", ARCHES)
def test_segv_one_line_and_signal(guest, arch: str) -> None:  # type: ignore[no-untyped-def]
    p = um(str(guest("faults", arch)), "segv")
    assert p.returncode == -signal.SIGSEGV
    err = p.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "Segmentation fault at pc 0x" in err and "SEGV_MAPERR" in err
    # the shell's view: 128 + 11
    sh = run_cmd(["sh", "-c", f'"{sys.executable}" -m usermode run '
                                     f'"{guest("faults", arch)}" segv 2>/dev/null; echo $?'],
                        capture_output=True, timeout=120)
    assert sh.stdout.splitlines()[-1] == b"139"


@pytest.mark.parametrize("arch", ARCHES)
def test_sigill_names_the_instruction(guest, arch: str) -> None:  # type: ignore[no-untyped-def]
    p = um(str(guest("faults", arch)), "ill")
    assert p.returncode == -signal.SIGILL
    err = p.stderr.decode()
    assert "Illegal instruction at pc 0x" in err
    assert ("udf" in err) if arch == "aarch64" else ("ud2" in err)


@pytest.mark.parametrize("arch", ARCHES)
def test_unsupported_syscall_warns_once_only_when_asked(guest,  # type: ignore[no-untyped-def]
                                                        arch: str) -> None:
    prog = str(guest("faults", arch))
    quiet = um(prog, "enosys")
    assert quiet.returncode == 0 and b"enosys ok" in quiet.stdout
    assert b"unsupported syscall" not in quiet.stderr
    loud = um("-d", "unimp", prog, "enosys")
    assert loud.returncode == 0
    lines = [x for x in loud.stderr.decode().splitlines() if "unsupported syscall" in x]
    assert len(lines) == len(set(lines)) and lines


@pytest.mark.parametrize("arch", ARCHES)
def test_strace_lines(guest, arch: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    prog = guest("hello", arch)
    log = tmp_path / "trace.log"
    p = um("-strace", "-D", str(log), str(prog))
    assert p.returncode == 0 and p.stdout == b"hello, world\n"
    lines = log.read_text().splitlines()
    assert any(x.endswith(' writev(1, [{iov_base="hello, world", iov_len=12}, '
                          '{iov_base="\\n", iov_len=1}], 2) = 13') for x in lines), lines
    assert lines[-2].endswith("exit_group(0) = ?")
    assert lines[-1].endswith("+++ exited with 0 +++")
    pid = lines[0].split()[0]
    assert all(x.split()[0] == pid for x in lines)
    p = um("-strace", str(guest("faults", arch)), "efault")
    assert "-1 EFAULT (Bad address)" in p.stderr.decode()


@pytest.mark.parametrize("arch", ARCHES)
def test_in_asm_disassembles_blocks(guest, arch: str,  # type: ignore[no-untyped-def]
                                    tmp_path: Path) -> None:
    log = tmp_path / "asm.log"
    p = um("-d", "in_asm", "-D", str(log), str(guest("hello", arch)))
    assert p.returncode == 0 and p.stdout == b"hello, world\n"
    text = log.read_text()
    assert text.count("IN: ") > 10
    assert ("svc" in text) if arch == "aarch64" else ("syscall" in text)


def test_debug_items_page_strace_help_and_unknown(guest, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    prog = str(guest("hello", "aarch64"))
    log = tmp_path / "d.log"
    p = um("-d", "page,strace", "-D", str(log), prog)
    assert p.returncode == 0 and p.stdout == b"hello, world\n", p.stderr
    text = log.read_text().splitlines()
    maps = [x for x in text if x[:12].isalnum() and "-" in x[:14]]
    assert any(x.endswith("[stack]") and " rw-p " in x for x in maps)
    assert any(x.endswith(prog) and " r-xp " in x for x in maps)
    assert any(x.split(" ", 1)[1] == 'writev(1, [{iov_base="hello, world", iov_len=12}, '
               '{iov_base="\\n", iov_len=1}], 2) = 13' for x in text)
    h = um("-d", "help", prog)
    assert h.returncode == 0 and b"page " in h.stdout and b"in_asm " in h.stdout
    bad = um("-d", "unimp,bogus", prog)
    assert bad.returncode == 2 and bad.stdout == b""
    assert bad.stderr == b"usermode: unknown -d item 'bogus' (see -d help)\n"
    qemu_only = um("-d", "cpu,exec", "-B", "0x10000", prog)
    assert qemu_only.returncode == 0 and qemu_only.stdout == b"hello, world\n"
    assert qemu_only.stderr == (b"usermode: -B 0x10000: not supported, ignored\n"
                                b"usermode: -d cpu,exec: not supported, ignored\n")
    gdb = um("-g", "0", prog)  # (a good port waits for gdb: tests/integration/test_gdb.py)
    assert gdb.returncode == 2 and gdb.stdout == b""
    assert gdb.stderr == b"usermode: -g 0: not a TCP port (1-65535)\n"


@pytest.mark.parametrize("arch", ARCHES)
def test_trace_log_survives_guest_close_range(guest, arch: str,  # type: ignore[no-untyped-def]
                                              tmp_path: Path) -> None:
    # fileio calls close_range(3, ~0): the emulator's own log fd must not be among them
    log = tmp_path / "trace.log"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    p = um("-strace", "-D", str(log), str(guest("fileio", arch)), str(scratch))
    assert p.returncode == 0, p.stdout.decode()[-500:]
    lines = log.read_text().splitlines()
    assert any(" close_range(" in x for x in lines)
    assert lines[-2].endswith("exit_group(0) = ?")


@pytest.mark.parametrize("arch", ARCHES)
def test_stats_report_counts_the_threads_waits(guest, arch: str) -> None:  # type: ignore[no-untyped-def]
    prog = guest("netio", arch)
    p = um("--stats", str(prog), "poll", "tcp")
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().splitlines() == ["poll ok", "tcp ok", "netio done"]
    err = p.stderr.decode()
    threads = dict(kv.split("=") for kv in err.split("  threads: ")[1].splitlines()[0].split())
    assert int(threads["threads"]) == 3  # main, the poll writer, the echo server
    assert int(threads["parks"]) >= 1000  # every echo round trip parks a thread
    assert "block: " in err and "dispatch: " in err


@pytest.mark.parametrize("arch", ARCHES)
def test_poll_fds_switches_the_loop_into_polling(guest, arch: str) -> None:  # type: ignore[no-untyped-def]
    prog = guest("netio", arch)
    p = um("--poll-fds", "--poll-max-ns", "200000", "--stats", str(prog))
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().endswith("pollband ok\nifreq ok\nnetio done\n")
    err = p.stderr.decode()
    loop = dict(kv.split("=") for kv in err.split("  loop: ")[1].splitlines()[0].split())
    # 1000 TCP round trips between two guest threads: the peer's data is there within
    # the window, so nearly every wait is a poll hit rather than a blocking wait
    assert int(loop["poll_hits"]) > 900, err
    assert int(loop["blocking_waits"]) < int(loop["poll_hits"]) // 4, err


def test_loop_option_values_are_checked(tmp_path: Path) -> None:
    p = um("--poll-max-ns", "-5", "/bin/true")
    assert p.returncode == 2 and b"must not be negative" in p.stderr
    p = um("--poll-grow", "x", "/bin/true")
    assert p.returncode == 2 and b"bad option value" in p.stderr


def test_cpu_help_and_checked_models(guest) -> None:  # type: ignore[no-untyped-def]
    p = um("-cpu", "help")
    assert p.returncode == 0
    text = p.stdout.decode()
    for arch, used in (("aarch64", "max*"), ("arm", "cortex-a15*"), ("mipsel", "74kf*"),
                       ("x86_64", "haswell*"), ("riscv64", "sifive-u54*")):
        line = next(x for x in text.splitlines() if x.strip().startswith(f"{arch}:"))
        assert used in line.split(), line
    prog = str(guest("hello", "aarch64"))
    assert um("-cpu", "cortex-a72", prog).stdout == b"hello, world\n"
    p = um("-cpu", "pentium9000", prog)
    assert p.returncode == 2 and p.stderr.decode().count("\n") == 1
    import os

    p = um(prog, env=dict(os.environ, QEMU_CPU="nope"))
    assert p.returncode == 2 and b"QEMU_CPU" in p.stderr


@pytest.mark.parametrize("arch", ARCHES)
def test_uname_release(guest, arch: str) -> None:  # type: ignore[no-untyped-def]
    import os

    prog = str(guest("sysinfo", arch))
    assert "release=9.9.9-test\n" in um("-r", "9.9.9-test", prog).stdout.decode()
    p = um(prog, env=dict(os.environ, QEMU_UNAME="8.8.8-env"))
    assert "release=8.8.8-env\n" in p.stdout.decode()
    assert f"release={os.uname().release}\n" in um(prog).stdout.decode()
