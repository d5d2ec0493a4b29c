"""`usermode strace`: decoded lines held against strace's own output for the same program run
natively, the -c summary, filters, per-process files, timing columns and bad options."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import run_cmd


def ustrace(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return run_cmd([sys.executable, "-m", "usermode", "strace", *args],
                          capture_output=True, timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def native_strace() -> str:
    exe = shutil.which("strace")
    if exe is None:
        pytest.skip("strace is not installed: no native trace to compare with")
    p = run_cmd([exe, "-o", "/dev/null", "/bin/true"], capture_output=True)
    if p.returncode:
        pytest.skip(f"strace cannot trace here (ptrace refused): {p.stderr.decode().strip()}")
    return exe


def lines_of(path: Path, tid_prefix: bool, scratch: str) -> list[tuple[str, str]]:
    """(syscall name, normalised line): no thread id, strace's column padding squeezed,
    addresses and the scratch directory made neutral."""
    out = []
    for line in path.read_text().splitlines():
        if tid_prefix:
            line = line.split(" ", 1)[1]
        line = re.sub(r" +=", " =", line)
        line = re.sub(r"0x[0-9a-f]{6,}", "ADDR", line).replace(scratch, "SCRATCH")
        line = re.sub(r"\{tv_sec=\d+, tv_nsec=\d+\}", "{TIME}", line)  # clocks move on
        m = re.match(r"([a-z_0-9]+)\(", line)
        if m:
            out.append((m.group(1), line))
    return out


def traces(guest, arch: str, native: str, tmp_path: Path  # type: ignore[no-untyped-def]
           ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """fileio under us (guest `arch`) and the x86_64 build under the host's strace."""
    ours_dir, native_dir = tmp_path / "a", tmp_path / "b"
    ours_dir.mkdir()
    native_dir.mkdir()
    p = ustrace("-o", str(tmp_path / "ours.txt"), str(guest("fileio", arch)), str(ours_dir))
    assert p.returncode == 0, p.stderr
    n = run_cmd([native, "-o", str(tmp_path / "native.txt"),
                        str(guest("fileio", "x86_64")), str(native_dir)], capture_output=True)
    assert n.returncode == 0, n.stderr
    return (lines_of(tmp_path / "ours.txt", True, str(ours_dir)),
            lines_of(tmp_path / "native.txt", False, str(native_dir)))


# what depends on the address-space layout or the kernel's own sizes, not on decoding
LAYOUT = {"mmap", "munmap", "brk", "set_tid_address", "sched_getaffinity", "execve"}


def test_x86_64_lines_equal_native_strace(guest, native_strace: str,  # type: ignore[no-untyped-def]
                                          tmp_path: Path) -> None:
    ours, native = traces(guest, "x86_64", native_strace, tmp_path)
    a = [line for name, line in ours if name not in LAYOUT]
    b = [line for name, line in native if name not in LAYOUT]
    assert len(a) > 250
    diff = [(x, y) for x, y in zip(a, b, strict=False) if x != y]
    assert not diff and len(a) == len(b), diff[:5]


# calls both arches' musl make the same way (x86_64's also uses open, stat, mkdir...)
SAME_ON_BOTH = ("read", "write", "readv", "writev", "close", "lseek", "pread64", "pwrite64",
                "ftruncate", "truncate", "fsync", "fdatasync", "getcwd", "chdir", "fchdir",
                "umask", "getdents64", "close_range", "dup", "utimensat", "statx", "fchmod",
                "getuid", "pipe2", "renameat2", "ioctl")


def test_aarch64_lines_equal_native_strace(guest, native_strace: str,  # type: ignore[no-untyped-def]
                                           tmp_path: Path) -> None:
    ours, native = traces(guest, "aarch64", native_strace, tmp_path)
    for name in SAME_ON_BOTH:
        a = [line for n, line in ours if n == name]
        b = [line for n, line in native if n == name]
        assert a == b, name
    assert sum(n in SAME_ON_BOTH for n, _ in ours) > 100


@pytest.mark.parametrize("arch", ("aarch64", "x86_64", "arm", "mipsel"))
def test_summary_counts(guest, arch: str) -> None:  # type: ignore[no-untyped-def]
    p = ustrace("-c", str(guest("hello", arch)))
    assert p.returncode == 0 and p.stdout == b"hello, world\n"
    rows = {}
    lines = p.stderr.decode().splitlines()
    assert lines[0].split() == ["%", "time", "seconds", "usecs/call", "calls", "errors",
                                "syscall"]
    for line in lines[2:]:
        f = line.split()
        if len(f) >= 5 and not line.startswith("---"):
            rows[f[-1]] = (int(f[3]), int(f[4]) if len(f) == 6 else 0)
    assert rows["writev"] == (1, 0)
    assert rows["exit_group"] == (1, 0)
    assert rows["ioctl"] == (1, 1)  # TIOCGWINSZ on a pipe: ENOTTY
    calls = sum(c for name, (c, _) in rows.items() if name != "total")
    assert rows["total"] == (calls, sum(e for n, (_, e) in rows.items() if n != "total"))


def test_trace_classes_and_status(guest, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    prog = str(guest("fileio", "aarch64"))
    (tmp_path / "a").mkdir()
    p = ustrace("-e", "trace=%file", str(prog), str(tmp_path / "a"))
    names = {m.group(1) for m in re.finditer(r"^\d+ ([a-z_0-9]+)\(", p.stderr.decode(), re.M)}
    assert {"openat", "newfstatat", "unlinkat", "chdir"} <= names
    assert not names & {"read", "write", "close", "lseek", "writev"}
    (tmp_path / "b").mkdir()
    p = ustrace("-e", "status=failed", "-e", "trace=!%memory", prog, str(tmp_path / "b"))
    lines = [x for x in p.stderr.decode().splitlines() if "+++" not in x]
    assert lines and all(" = -1 E" in x for x in lines)
    assert not any(" mmap(" in x for x in lines)


def test_timing_columns(guest) -> None:  # type: ignore[no-untyped-def]
    p = ustrace("-tt", "-T", str(guest("hello", "x86_64")))
    line = next(x for x in p.stderr.decode().splitlines() if " writev(" in x)
    assert re.match(r"^\d+ \d\d:\d\d:\d\d\.\d{6} writev\(1, .* = 13 <\d+\.\d{6}>$", line), line
    p = ustrace("-ttt", "-s", "3", str(guest("hello", "x86_64")))
    line = next(x for x in p.stderr.decode().splitlines() if " writev(" in x)
    assert re.match(r'^\d+ \d{10}\.\d{6} writev\(1, \[\{iov_base="hel"\.\.\., iov_len=12\}',
                    line), line


def test_threads_park_as_unfinished_and_resumed(guest) -> None:  # type: ignore[no-untyped-def]
    p = ustrace("-e", "trace=accept4,recvfrom,ppoll", str(guest("netio", "aarch64")),
                "poll", "tcp")
    assert p.returncode == 0, p.stderr
    lines = p.stderr.decode().splitlines()
    assert any(x.endswith(" ppoll([{fd=3, events=POLLIN}], 1, {tv_sec=0, tv_nsec=30000000}, "
                          "NULL, 8 <unfinished ...>") for x in lines), lines[:10]
    assert any(x.endswith(" <... ppoll resumed>) = 0 (Timeout)") for x in lines)
    unfinished = [x for x in lines if x.endswith(" recvfrom(5,  <unfinished ...>")]
    resumed = [x for x in lines if re.search(r' <\.\.\. recvfrom resumed>"ping \d+", 256, 0, '
                                             r'NULL, NULL\) = 6$', x)]
    assert unfinished and resumed
    tids = {x.split()[0] for x in lines}
    assert len(tids) == 2  # the main thread and the echo server
    pid = min(tids, key=len)
    assert tids - {pid} == {f"{pid}/32769"} or len(tids - {pid}) == 1  # PID/TID for threads
    assert all("/" in t for t in tids - {pid})


def test_per_process_files(guest, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "trace"
    p = ustrace("-ff", "-o", str(out), str(guest("procs", "x86_64")), "fork_status")
    assert p.returncode == 0, p.stderr
    files = sorted(tmp_path.glob("trace.*"))
    assert len(files) >= 2
    texts = [f.read_text() for f in files]
    assert sum("+++ exited with" in t for t in texts) == len(files) - 1
    killed = [t for t in texts if "+++ killed by SIGTERM +++" in t]
    assert len(killed) == 1
    assert re.search(r"--- SIGTERM \{si_signo=SIGTERM, si_code=SI_USER, si_pid=\d+, "
                     r"si_uid=\d+\} ---", killed[0])
    pids = {int(f.suffix[1:]) for f in files}
    for f, t in zip(files, texts, strict=True):
        assert all(line.split()[0] == f.suffix[1:] or int(line.split()[0]) not in pids
                   for line in t.splitlines())


@pytest.mark.parametrize("args", [("-e", "trace=%nope", "x"), ("-ff", "x"), ("-s",),
                                  ("--bogus", "x"), ("-e", "status=maybe", "x"), ()])
def test_bad_options_are_one_line_errors(args: tuple[str, ...]) -> None:
    p = ustrace(*args)
    assert p.returncode == 2
    err = p.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("usermode: strace: ") and "Traceback" not in err


def test_bad_pointers_never_break_the_tracer(guest) -> None:  # type: ignore[no-untyped-def]
    p = ustrace(str(guest("faults", "aarch64")), "efault")
    err = p.stderr.decode()
    assert "Traceback" not in err
    assert "-1 EFAULT (Bad address)" in err


SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "trace-json.schema.json"


def um_run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return run_cmd([sys.executable, "-m", "usermode", "run", *args],
                          capture_output=True, timeout=120)


def test_json_lines_follow_the_schema(guest, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema validates the records")
    import json

    out = tmp_path / "t.jsonl"
    p = um_run("--trace-json", str(out), str(guest("sigs", "arm")))
    assert p.returncode == 0, p.stderr
    assert p.stderr == b""  # no strace lines unless asked for
    schema = json.loads(SCHEMA.read_text())
    records = [json.loads(line) for line in out.read_text().splitlines()]
    for r in records:
        jsonschema.validate(r, schema)
    calls = [r for r in records if "name" in r]
    assert {r["arch"] for r in calls} == {"arm"}
    kill = next(r for r in calls if r["name"] == "kill")
    assert kill["args"][1] == "SIGUSR1" and kill["ret"] == 0 and kill["errno"] is None
    assert kill["number"] == 37 and kill["raw_args"][1] == 10
    assert any(r["errno"] for r in calls)
    assert any(r.get("signal") == "SIGUSR1" for r in records)


def test_timeline_is_trace_event_json(guest, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    out = tmp_path / "t.json"
    p = ustrace("-o", str(tmp_path / "lines.txt"), "--trace-timeline", str(out),
                str(guest("netio", "aarch64")), "poll", "tcp")
    assert p.returncode == 0, p.stderr
    events = json.loads(out.read_text())  # the closed array: strict JSON
    slices = [e for e in events if e["ph"] == "X"]
    tracks = {(e["pid"], e["tid"]) for e in slices}
    named = {(e["pid"], e["tid"]) for e in events if e["name"] == "thread_name"}
    assert len(tracks) == 3 and tracks == named  # main, the poll writer, the echo server
    for e in slices:
        assert isinstance(e["ts"], (int, float)) and e["dur"] >= 0
    calls = [e for e in slices if e["cat"] == "syscall"]
    parked = [e for e in slices if e["cat"] == "parked"]
    assert parked
    for w in parked:  # each wait lies inside its call's slice on the same track
        assert any(c["tid"] == w["tid"] and c["name"] == w["name"].split(": ")[1]
                   and c["ts"] <= w["ts"] + 1 and w["ts"] + w["dur"] <= c["ts"] + c["dur"] + 1
                   for c in calls), w
    assert "exited with 0" in events[-2]["name"]


def joined(lines: list[str]) -> list[str]:
    """strace lines with `<unfinished ...>` and its `<... resumed>` put back together."""
    out: list[str] = []
    open_calls: dict[str, int] = {}
    for line in lines:
        tid, _, rest = line.partition(" ")
        rest = rest.lstrip()  # strace pads short pids ("%-5d")
        if rest.endswith(" <unfinished ...>"):
            open_calls[tid] = len(out)
            out.append(rest[:-len(" <unfinished ...>")].rstrip(", ").rstrip())
            continue
        m = re.match(r"<\.\.\. \w+ resumed>(.*)$", rest)
        if m and tid in open_calls:
            i = open_calls.pop(tid)
            tail = m.group(1)
            glue = "" if tail.startswith((")", " =>")) else ", "  # clone3's " => {...}"
            out[i] = out[i] + glue + tail
            continue
        out.append(rest)
    return out


def test_select_and_msghdr_like_native_strace(guest, native_strace: str,  # type: ignore[no-untyped-def]
                                              tmp_path: Path) -> None:
    prog = str(guest("netio", "x86_64"))
    calls = "trace=select,pselect6,sendmsg,recvmsg"

    def norm(lines: list[str]) -> list[str]:
        out = []
        for x in joined(lines):
            x = re.sub(r" +=", " =", x)
            x = re.sub(r"left \{[^}]*\}", "left {...}", x)
            x = re.sub(r"cmsg_data=\[\d+\]", "cmsg_data=[FD]", x)
            x = re.sub(r"^(sendmsg|recvmsg)\(\d+,", r"\1(FD,", x)
            if not x.startswith("+++"):
                out.append(x)
        return sorted(out)

    p = ustrace("-e", calls, prog, "select", "unix")
    assert p.returncode == 0, p.stderr
    ours = norm(p.stderr.decode().splitlines())
    n = run_cmd([native_strace, "-f", "-o", str(tmp_path / "n.txt"), "-e", calls, prog,
                        "select", "unix"], capture_output=True)
    assert n.returncode == 0
    native = norm((tmp_path / "n.txt").read_text().splitlines())
    assert ours == native
    assert any("msg_control=[{cmsg_len=20, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS" in x
               for x in ours)


@pytest.mark.parametrize("arch", ["x86_64", "arm", "mipsel"])
def test_interface_ioctls_like_native_strace(guest, native_strace: str, arch: str,  # type: ignore[no-untyped-def]
                                             tmp_path: Path) -> None:
    """struct ifreq and ifconf (40-byte entries on x86_64, 32 on arm and mipsel) and an
    unknown request split into its _IOC fields (MIPS encodes directions differently)."""
    p = ustrace("-e", "trace=ioctl", str(guest("netio", arch)), "ifreq")
    assert p.returncode == 0, p.stderr
    n = run_cmd([native_strace, "-o", str(tmp_path / "n.txt"), "-e", "trace=ioctl",
                        str(guest("netio", "x86_64")), "ifreq"], capture_output=True)
    assert n.returncode == 0

    def norm(lines: list[str]) -> list[str]:
        out = []
        for x in lines:
            x = re.sub(r" +=", " =", re.sub(r"^\d+ +", "", x))
            x = re.sub(r"0x[0-9a-f]{6,}", "ADDR", x)
            x = re.sub(r"ifc_len=\d+ /\*", "ifc_len=N /*", x)
            x = re.sub(r"=> \d+ /\*", "=> N /*", x)
            if not x.startswith("+++"):
                out.append(x)
        return out

    ours = norm(p.stderr.decode().splitlines())
    assert ours == norm((tmp_path / "n.txt").read_text().splitlines())
    assert any(x.startswith('ioctl(3, SIOCGIFINDEX, {ifr_name="lo", ifr_ifindex=') for x in ours)
    assert "ioctl(3, _IOC(_IOC_READ, 0xee, 0x1, 0x4), ADDR) = -1 ENOTTY " \
           "(Inappropriate ioctl for device)" in ours


def test_clone3_like_native_strace(guest, native_strace: str,  # type: ignore[no-untyped-def]
                                   tmp_path: Path) -> None:
    """glibc's pthread_create (the x86_64 build, emulated): clone3's struct clone_args and
    the tid it stored. (The arm64 cross glibc still creates threads with clone.)"""
    p = ustrace("-e", "trace=clone3", str(guest("threads", "x86_64", "glibc")), "create")
    assert p.returncode == 0, p.stderr
    n = run_cmd([native_strace, "-f", "-o", str(tmp_path / "n.txt"), "-e",
                        "trace=clone3", str(guest("threads", "x86_64", "glibc")), "create"],
                       capture_output=True)
    assert n.returncode == 0

    def norm(lines: list[str]) -> list[str]:
        out = []
        for x in joined(lines):
            x = re.sub(r"0x[0-9a-f]{5,}", "ADDR", re.sub(r" +=", " =", x))
            x = re.sub(r"\[\d+\]", "[TID]", re.sub(r"= \d+$", "= TID", x))
            if x.startswith("clone3("):
                out.append(x)
        return out

    ours = norm(p.stderr.decode().splitlines())
    assert ours and ours == norm((tmp_path / "n.txt").read_text().splitlines())
    assert ours[0].endswith("} => {parent_tid=[TID]}, 88) = TID")


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_sysv_ipc_like_native_strace(guest, native_strace: str, arch: str,  # type: ignore[no-untyped-def]
                                     tmp_path: Path) -> None:
    """shm/sem/msg calls with their keys, flags, commands, sembufs, messages and *_ds
    structs, the waits that park, and EINTR. The i386 build (the host runs it natively
    too) goes through the ipc multiplexer, which strace shows as the calls it makes."""
    prog = str(guest("ipc", arch))
    p = ustrace("-f", "-e", "trace=%ipc", prog)
    assert p.returncode == 0, p.stderr
    n = run_cmd([native_strace, "-f", "-o", str(tmp_path / "n.txt"), "-e", "trace=%ipc",
                        prog], capture_output=True)
    if n.returncode != 0 and arch == "i386":
        pytest.skip(f"this host does not run i386 programs natively: {n.stderr[-200:]!r}")
    assert n.returncode == 0

    def norm(lines: list[str]) -> list[str]:
        # System V ids are host-global and move on between the two runs (other processes
        # create and remove objects too): name each id by the get call that returned it,
        # in the order of the log, whatever its width
        ids: dict[str, str] = {}
        out = []
        for x in joined(lines):
            got = re.match(r"(?:\d+ )?(shm|sem|msg)get\(.*\) = (\d+)$", x)
            if got:
                ids[got[1] + got[2]] = f"{got[1].upper()}ID{len(ids)}"
                x = x[:got.start(2)] + ids[got[1] + got[2]]
            used = re.match(r"((?:\d+ )?(shm|sem|msg)(?!get)\w+\()(\d+)", x)
            if used and used[2] + used[3] in ids:
                x = used[1] + ids[used[2] + used[3]] + x[used.end():]
            x = re.sub(r"0x[0-9a-f]{6,}", "ADDR", re.sub(r" +=", " =", x))
            x = re.sub(r"(cpid|lpid|lspid|lrpid)=\d+", r"\1=PID", x)  # any width
            x = re.sub(r"(GETPID, \S+\) =) \d+$", r"\1 PID", x)
            x = re.sub(r"\b\d{4,}\b", "N", x)  # ids, times
            if "ENOMSG" in x:  # strace drops msgtyp from a failed msgrcv through ipc
                continue
            if re.match(r"(shm|sem|msg)\w+\(", x):
                out.append(x)
        return sorted(out)

    ours = norm(p.stderr.decode().splitlines())
    assert len(ours) > 40
    assert ours == norm((tmp_path / "n.txt").read_text().splitlines())


def test_tty_ioctls_on_mipsel_like_native_strace(guest, native_strace: str,  # type: ignore[no-untyped-def]
                                                 tmp_path: Path) -> None:
    """termios and winsize structs through a pty, decoded from a MIPS guest (its own termios
    layout and request numbers) the way strace shows the x86_64 build's."""
    p = ustrace("-e", "trace=ioctl", str(guest("sysinfo", "mipsel")))
    assert p.returncode == 0, p.stderr
    n = run_cmd([native_strace, "-o", str(tmp_path / "n.txt"), "-e", "trace=ioctl",
                        str(guest("sysinfo", "x86_64"))], capture_output=True)
    assert n.returncode == 0

    def norm(lines: list[str]) -> list[str]:
        return [re.sub(r"0x[0-9a-f]{6,}", "ADDR", re.sub(r" +=", " =", x))
                for x in lines if "ioctl(" in x]

    ours = norm([x.split(" ", 1)[1] for x in p.stderr.decode().splitlines()])
    native = norm((tmp_path / "n.txt").read_text().splitlines())
    assert ours == native
    assert any("c_lflag=ISIG|ICANON|ECHOE|ECHOK|ECHOCTL|ECHOKE|TOSTOP" in x for x in ours)


def test_sigpipe_is_shown_and_kills(guest, native_strace: str,  # type: ignore[no-untyped-def]
                                    tmp_path: Path) -> None:
    """A write to a closed pipe: EPIPE, the SIGPIPE and the death, as strace shows them."""
    import signal

    prog = guest("sigs", "x86_64")
    p = ustrace("-e", "trace=write", str(guest("sigs", "aarch64")), "pipe_dies")
    assert p.returncode == -signal.SIGPIPE
    n = run_cmd([native_strace, "-o", str(tmp_path / "n.txt"), "-e", "trace=write",
                        str(prog), "pipe_dies"], capture_output=True)
    assert n.returncode == -signal.SIGPIPE or n.returncode == 128 + signal.SIGPIPE

    def norm(lines: list[str]) -> list[str]:
        return [re.sub(r"si_pid=\d+", "si_pid=PID", re.sub(r" +=", " =", x)) for x in lines
                if "EPIPE" in x or "SIGPIPE" in x]

    ours = norm([x.split(" ", 1)[1] for x in p.stderr.decode().splitlines() if " " in x
                 and x.split(" ", 1)[0].isdigit()])
    native = norm((tmp_path / "n.txt").read_text().splitlines())
    assert ours == native and len(ours) == 3, (ours, native)


@pytest.mark.parametrize("arch", ("x86_64", "arm", "mipsel"))
def test_statfs_like_native_strace(guest, native_strace: str, arch: str,  # type: ignore[no-untyped-def]
                                   tmp_path: Path) -> None:
    """struct statfs (and statfs64, which arm and mips use) decoded from each ABI's own
    layout, as strace shows the x86_64 build's."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    calls = "trace=statfs,fstatfs,statfs64,fstatfs64"
    p = ustrace("-e", calls, str(guest("wide", arch)), str(tmp_path / "a"), "statfs")
    assert p.returncode == 0, p.stderr
    n = run_cmd([native_strace, "-o", str(tmp_path / "n.txt"), "-e", calls,
                        str(guest("wide", "x86_64")), str(tmp_path / "b"), "statfs"],
                       capture_output=True)
    assert n.returncode == 0

    def norm(lines: list[str], scratch: Path) -> list[str]:
        out = []
        for x in lines:
            x = re.sub(r" +=", " =", x).replace(str(scratch), "SCRATCH")
            x = re.sub(r"(f_bfree|f_bavail|f_ffree)=\d+", r"\1=N", x)
            x = re.sub(r"0x[0-9a-f]{6,}", "ADDR", x)
            x = re.sub(r"^(f?statfs)64\((\S+), \d+,", r"\1(\2,", x)  # the size argument
            if "statfs" in x:
                out.append(x)
        return out

    ours = norm([x.split(" ", 1)[1] for x in p.stderr.decode().splitlines()], tmp_path / "a")
    native = norm((tmp_path / "n.txt").read_text().splitlines(), tmp_path / "b")
    assert ours == native and len(ours) >= 3, (ours, native)
