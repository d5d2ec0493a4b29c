"""`usermode run -g PORT` driven by Debian's gdb-multiarch in batch mode, on every arch.

tests/guest/gdbme.c (built -O0 -g) is debugged the way a user would: break in a function
and read its arguments, step into a call, `next`, `stepi`, `bt`, `finish` and its value,
`set var` on a global and on the return-value register (what the program prints changes),
a watchpoint's old and new values, three threads, a SIGSEGV stopping at the faulting line,
`detach` and `kill`. Where qemu-user is installed, the same session under `qemu-ARCH -g`
prints the same values. gdb's Ctrl-C and bad `-g` values are checked with a raw client.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from guestbuild import GuestBuildError, ToolchainMissing, build_guest
from support import REPO_ROOT, guest_env, scaled

GDB = shutil.which("gdb-multiarch")
ARCHES = {  # ours: (gdb's architecture name, the return-value register, an FP register)
    "aarch64": ("aarch64", "$x0", "$v0"),
    "x86_64": ("i386:x86-64", "$rax", "$xmm0"),
    "riscv64": ("riscv:rv64", "$a0", "$f0"),
    "arm": ("arm", "$r0", "$d0"),
    "mipsel": ("mips", "$v0", "$f0"),
    "i386": ("i386", "$eax", "$xmm0"),
    "s390x": ("s390:64-bit", "$r2", "$f0"),
}
TIMEOUT = scaled(60)

pytestmark = pytest.mark.skipif(GDB is None, reason="gdb-multiarch not installed (Debian "
                                "package gdb-multiarch): the gdb stub cannot be tested")


def program(arch: str, libc: str = "musl", dynamic: bool = False) -> Path:
    try:
        return build_guest("gdbme", arch, libc=libc, dynamic=dynamic, debug=True)
    except (ToolchainMissing, GuestBuildError) as e:
        pytest.skip(f"{arch}: cannot build tests/guest/gdbme.c: {e}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
                return True
    return False


def start(cmd: list[str], port: int) -> subprocess.Popen[bytes]:
    """Start an emulator with its gdb stub, and wait until it listens."""
    env = guest_env()
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + TIMEOUT
    while not listening(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"{cmd}: no gdb stub listening on {port}: {err.decode()[-2000:]}")
        time.sleep(0.05)
    return proc


def session(arch: str, mode: str, commands: list[str], emulator: str = "usermode",
            binary: Path | None = None, sysroot: str | None = None) -> tuple[str, str, int]:
    """gdb's output, the program's stdout and its exit status (negative: killed by that
    signal) for one batch session."""
    binary = binary or program(arch)
    port = free_port()
    if emulator == "usermode":
        cmd = [sys.executable, "-m", "usermode", "run", *(["-L", sysroot] if sysroot else []),
               "-g", str(port), str(binary), mode]
    else:
        qemu = shutil.which(f"qemu-{arch}")
        if qemu is None:
            pytest.skip(f"qemu-{arch} not installed (Debian package qemu-user): no reference")
        cmd = [qemu, "-g", str(port), str(binary), mode]
    proc = start(cmd, port)
    gdb_argv = [GDB or "gdb-multiarch", "-q", "-nx", "-batch",
                "-ex", f"set architecture {ARCHES[arch][0]}", "-ex", f"file {binary}",
                "-ex", f"target remote 127.0.0.1:{port}"]
    for c in commands:
        gdb_argv += ["-ex", c]
    try:
        gdb = subprocess.run(gdb_argv, capture_output=True, text=True, timeout=TIMEOUT,
                             stdin=subprocess.DEVNULL)
        out, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return gdb.stdout + gdb.stderr, out.decode(), proc.returncode


def values(gdb_output: str) -> list[str]:
    """The lines of a session that carry values (what qemu's session must print too)."""
    keep = re.compile(r"^(\$\d+ = |Value returned|[ab] = |x = |Old value|New value|#\d)")
    return [re.sub(r"argv=0x[0-9a-f]+", "argv=(the stack differs)", line)
            for line in gdb_output.splitlines() if keep.match(line)]


BASIC = ["break twice", "continue", "step", "bt", "info args", "next", "p sum",
         "stepi", "p $pc != 0", "finish"]


@pytest.mark.parametrize("arch", ARCHES)
def test_break_step_finish_and_set_var(arch: str) -> None:
    ret, fp = ARCHES[arch][1], ARCHES[arch][2]
    out, stdout, status = session(arch, "basic", [
        *BASIC, f"set var {ret} = 50", "set var global_value = 99", f"p {fp}",
        "break thumb_add", "continue", "info args", "finish", "info proc mappings",
        "continue"])
    assert "Breakpoint 1, twice (x=21)" in out, out
    assert re.search(r"add \(a=21, b=21\) at .*gdbme\.c:\d+", out), out
    assert re.search(r"#1 +0x[0-9a-f]+ in twice \(x=21\)", out), out
    assert re.search(r"#2 +0x[0-9a-f]+ in main ", out), out
    assert "a = 21\nb = 21" in out, out
    assert re.search(r"\n\d+\s+return sum;", out), out  # `next` reached the next line
    assert "$1 = 42" in out, out  # sum, after `next`
    assert "$2 = 1" in out, out
    assert "Value returned is $3 = 42" in out, out
    assert "$4 = {" in out or "$4 = " in out, out  # the FP/SIMD register reads
    assert "Breakpoint 2, thumb_add (a=50, b=1)" in out, out
    assert "Value returned is $5 = 52" in out, out
    assert re.search(r"r-xp +\S*gdbme", out) and "[stack]" in out, out  # the guest's maps
    assert stdout == "twice 50 thumb 52 global 99\n", (stdout, out)
    assert status == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_same_values_as_under_qemu(arch: str) -> None:
    ours, out1, _ = session(arch, "basic", [*BASIC, "continue"])
    theirs, out2, _ = session(arch, "basic", [*BASIC, "continue"], emulator="qemu")
    assert values(ours) == values(theirs), (ours, theirs)
    assert out1 == out2


@pytest.mark.parametrize("arch", ARCHES)
def test_watchpoint_old_and_new_value(arch: str) -> None:
    out, stdout, status = session(arch, "watch", [
        "break main", "continue", "watch watched", "continue", "continue", "continue",
        "delete", "continue"])
    found = re.findall(r"Old value = (\d+)\nNew value = (\d+)", out)
    assert found == [("0", "10"), ("10", "30"), ("30", "60")], out
    assert stdout == "watched 60\n" and status == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_read_and_access_watchpoints(arch: str) -> None:
    """A read watchpoint stops after the load (the loaded register is right, even when the
    load overwrote its own base register); an access one after loads and stores."""
    out, stdout, status = session(arch, "watch", [
        "break main", "continue", "rwatch watched", "continue", "continue", "delete",
        "awatch watched", "continue", "continue", "delete", "continue"])
    assert re.findall(r"read watchpoint 2: watched\n\nValue = (\d+)", out) == ["0", "10"], out
    assert "access (read/write) watchpoint 3: watched" in out, out
    assert re.search(r"Old value = 10\nNew value = 30|Value = 30", out), out
    assert stdout == "watched 60\n" and status == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_threads(arch: str) -> None:
    out, stdout, status = session(arch, "threads", [
        "break meet", "continue", "info threads", "p id", "thread 2", "continue", "p id",
        "continue", "p id", "delete", "continue"])
    # whichever thread gets there first stops first; `info threads` lists all three
    assert re.search(r"\n\* [123] +Thread [\d.]+ +meet \(id=(1|2|10)\)", out), out
    assert len(re.findall(r"\n[* ] [123] +Thread [\d.]+ ", out)) == 3, out
    assert "[Switching to thread 2" in out, out
    ids = re.findall(r"hit Breakpoint 1, meet \(id=(\d+)\)", out)
    assert sorted(ids) == ["1", "10", "2"], out
    assert stdout == "hits 13\n" and status == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_segv_stops_at_the_faulting_line(arch: str) -> None:
    out, _, status = session(arch, "segv", ["continue", "continue"])
    assert "Program received signal SIGSEGV" in out, out
    assert re.search(r"\n\d+\s+\*bad = 1;", out), out
    assert "Program terminated with signal SIGSEGV" in out, out
    assert status == -11


@pytest.mark.parametrize("arch", ["aarch64", "mipsel"])
def test_signals_stop_gdb_which_passes_or_drops_them(arch: str) -> None:
    out, stdout, status = session(arch, "usr1", ["continue", "continue", "signal 0"])
    assert out.count("Program received signal SIGUSR1") == 2, out
    assert stdout == "usr1 seen 1\n" and status == 0  # the first passed, the second dropped
    out, stdout, status = session(arch, "usr1", ["handle SIGUSR1 nostop noprint", "continue"])
    assert "Program received" not in out, out
    assert stdout == "usr1 seen 2\n" and status == 0


@pytest.mark.parametrize("arch", ["aarch64", "arm"])
def test_detach_lets_the_program_finish(arch: str) -> None:
    out, stdout, status = session(arch, "basic", ["break add", "continue", "detach"])
    assert "detached" in out, out
    assert stdout == "twice 42 thumb 44 global 7\n" and status == 0


@pytest.mark.parametrize("arch", ["aarch64", "i386"])
def test_kill(arch: str) -> None:
    out, stdout, status = session(arch, "basic", ["break add", "continue", "kill"])
    assert "killed" in out, out
    assert stdout == "" and status == -9


def test_a_forked_child_runs_on_without_gdb() -> None:
    out, stdout, status = session("aarch64", "fork", ["break add", "continue", "info args",
                                                      "continue"])
    assert "Breakpoint 1, add (a=20, b=22)" in out, out  # the parent's call, not the child's
    assert "a=1, b=2" not in out, out
    assert stdout.splitlines() == ["child 3", "parent 42 child status 0"], stdout
    assert status == 0


def test_exec_is_reported_and_the_new_image_debugged() -> None:
    out, stdout, status = session("aarch64", "exec", ["break add", "continue", "continue",
                                                      "info args", "continue"])
    assert "is executing new program" in out, out
    assert "Breakpoint 1, add (a=21, b=21)" in out, out
    assert stdout == "twice 42 thumb 44 global 7\n" and status == 0


@pytest.mark.parametrize("arch", ["aarch64", "arm"])
def test_shared_libraries_come_through_the_target(arch: str) -> None:
    """A dynamic glibc program run with -L: gdb reads its libraries through the stub (as
    the guest sees its paths), with no `set sysroot` of its own."""
    from guestbuild import GNU_TRIPLES

    sysroot = f"/usr/{GNU_TRIPLES[arch]}"
    if not os.path.isdir(sysroot):
        pytest.skip(f"no {arch} sysroot at {sysroot} (Debian's libc6-dev-*-cross)")
    binary = program(arch, libc="glibc", dynamic=True)
    out, stdout, status = session(arch, "basic", [
        "break add", "continue", "bt", "info sharedlibrary", "continue"],
        binary=binary, sysroot=sysroot)
    assert "Breakpoint 1, add (a=21, b=21)" in out, out
    assert re.search(r"Yes.*target:/lib/.*libc\.so\.6", out), out
    assert stdout == "twice 42 thumb 44 global 7\n" and status == 0


# ---- the protocol, without gdb ------------------------------------------------------------------
class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # (as gdb does)
        self.buf = b""

    def send(self, payload: bytes) -> None:
        self.sock.sendall(b"$%s#%02x" % (payload, sum(payload) & 0xFF))

    def reply(self) -> bytes:
        while True:
            start = self.buf.find(b"$")
            end = self.buf.find(b"#", start)
            if start >= 0 and end >= 0 and len(self.buf) >= end + 3:
                body, self.buf = self.buf[start + 1:end], self.buf[end + 3:]
                self.sock.sendall(b"+")
                return body
            data = self.sock.recv(4096)
            if not data:
                raise EOFError(self.buf)
            self.buf += data

    def ask(self, payload: bytes) -> bytes:
        self.send(payload)
        return self.reply()


def test_ctrl_c_stops_a_running_guest_and_set_var_ends_it() -> None:
    binary = program("aarch64")
    port = free_port()
    proc = start([sys.executable, "-m", "usermode", "run", "-g", str(port), str(binary),
                  "spin"], port)
    try:
        c = Client(port)
        assert c.ask(b"?").startswith(b"T05thread:")
        assert c.ask(b"qXfer:features:read:target.xml:0,fff")[:6] in (b"m<?xml", b"l<?xml")
        c.send(b"vCont;c")
        time.sleep(0.5)
        c.sock.sendall(b"\x03")
        assert c.reply().startswith(b"T02thread:"), "gdb's Ctrl-C is SIGINT (2)"
        # `spinning = 0` through the symbol's address, then the guest ends on its own
        nm = subprocess.run(["nm", str(binary)], capture_output=True, text=True).stdout
        addr = int(next(line.split()[0] for line in nm.splitlines()
                        if line.endswith(" spinning")), 16)
        assert c.ask(b"M%x,4:00000000" % addr) == b"OK"
        assert c.ask(b"m%x,4" % addr) == b"00000000"
        assert c.ask(b"m0,4") == b"E14"  # unmapped: an error, not a crash
        assert c.ask(b"Mzz,4:00") == b"E01"  # a malformed packet too
        assert c.ask(b"p9999") == b"E00"
        c.send(b"vCont;c")
        assert c.reply() == b"W00"
        out, _ = proc.communicate(timeout=TIMEOUT)
        assert out == b"spun\n" and proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ctrl_c_reaches_a_guest_waiting_in_a_syscall() -> None:
    binary = program("aarch64")
    port = free_port()
    proc = start([sys.executable, "-m", "usermode", "run", "-g", str(port), str(binary),
                  "pause"], port)
    try:
        c = Client(port)
        c.send(b"c")
        time.sleep(0.5)
        c.sock.sendall(b"\x03")
        assert c.reply().startswith(b"T02thread:")
        c.send(b"k")
        proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == -9
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_python_api_waits_for_gdb_too() -> None:
    binary = program("aarch64")
    port = free_port()
    code = ("import sys; from usermode.api import Emulator; "
            f"sys.exit(Emulator([{str(binary)!r}, 'basic'], gdb={port}).run())")
    proc = start([sys.executable, "-c", code], port)
    try:
        c = Client(port)
        assert c.ask(b"qC").startswith(b"QC")
        assert c.ask(b"Z0,%x,4" % 0) in (b"OK", b"E01")  # (a breakpoint nowhere: harmless)
        c.send(b"c")
        assert c.reply() == b"W00"
        out, _ = proc.communicate(timeout=TIMEOUT)
        assert out == b"twice 42 thumb 44 global 7\n" and proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_ports_are_one_line_errors() -> None:
    binary = program("aarch64")
    env = guest_env()
    env["PYTHONPATH"] = str(REPO_ROOT)
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        for value in (str(port), "70000"):
            r = subprocess.run([sys.executable, "-m", "usermode", "run", "-g", value,
                                str(binary)], capture_output=True, text=True, env=env,
                               timeout=TIMEOUT)
            assert r.returncode == 2, r
            assert r.stderr.count("\n") == 1 and "-g" in r.stderr, r.stderr
