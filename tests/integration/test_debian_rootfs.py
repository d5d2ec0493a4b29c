"""Real Debian arm64 programs (dynamic glibc) from a rootfs, with -L, compared with qemu-user.

The rootfs is fetched by tools/fetch_debs.py (own apt state, nothing installed on the host)
into ~/.cache/usermode-debs/arm64/root. Pipelines and shells that fork wait for issue 5:
every command here is one process, fed through stdin where a pipeline would be.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from fetch_debs import fetch
from support import run_cmd

CORPUS = ["libc6", "coreutils", "bash", "dash", "grep", "sed", "gawk", "findutils",
          "diffutils", "python3.11-minimal", "libpython3.11-stdlib", "lua5.4", "sqlite3",
          "xz-utils", "gzip"]


@pytest.fixture(scope="module")
def rootfs() -> Path:
    try:
        root = Path(fetch("aarch64", CORPUS, deps=True))
    except (RuntimeError, OSError) as e:
        pytest.skip(f"cannot fetch the Debian arm64 corpus: {e}")
    if not (root / "usr/bin/python3.11").exists():
        pytest.skip("Debian arm64 corpus incomplete")
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rootfsdata")
    (d / "words.txt").write_text("".join(f"{w}\n" for w in
                                         "pear apple fig apple kiwi pear apple date".split()))
    (d / "a.txt").write_text("one\ntwo\nthree\nfour\n")
    (d / "b.txt").write_text("one\n2\nthree\nfour\nfive\n")
    (d / "tree").mkdir()
    (d / "tree" / "x.c").write_text("int main(void) { return 42; }\n")
    (d / "tree" / "sub").mkdir()
    (d / "tree" / "sub" / "y.py").write_text("print('main')\n")
    (d / "blob.bin").write_bytes(bytes((i * 7919) % 251 for i in range(300_000)))
    return d


def run_both(rootfs: Path, data: Path, prog: str, *args: str,
             stdin: bytes | None = None) -> tuple[subprocess.CompletedProcess[bytes],
                                                  subprocess.CompletedProcess[bytes]]:
    if shutil.which("qemu-aarch64") is None:
        pytest.skip("qemu-aarch64 not installed: no reference")
    exe = str(rootfs / prog.lstrip("/"))
    # Debian's bash reads ~/.bashrc when it believes ssh started it: keep both runs clear of
    # the machine's own shell start-up files.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSH")}
    env["HOME"] = str(data)
    um = run_cmd([sys.executable, "-m", "usermode", "run", "-L", str(rootfs), exe,
                         *args], input=stdin, capture_output=True, cwd=data, timeout=180, env=env)
    ref = run_cmd(["qemu-aarch64", "-L", str(rootfs), exe, *args], input=stdin,
                         capture_output=True, cwd=data, timeout=180, env=env)
    return um, ref


CASES: list[tuple[str, tuple[str, ...], bytes | None]] = [
    ("bin/ls", ("-la", "--color=never", "--time-style=+%Y", "tree"), None),
    ("usr/bin/sort", ("words.txt",), None),
    ("usr/bin/uniq", ("-c",), b"apple\napple\napple\ndate\nfig\nkiwi\npear\npear\n"),
    ("usr/bin/sha256sum", ("words.txt", "blob.bin"), None),
    ("bin/grep", ("-rn", "main", "tree"), None),
    ("bin/sed", ("-E", "s/(p+)(e|l)/<\\1|\\2>/g", "words.txt"), None),
    ("usr/bin/gawk", ("{ c[$1]++ } END { n = asorti(c, k); for (i = 1; i <= n; i++) "
                      "printf \"%s=%d\\n\", k[i], c[k[i]] }", "words.txt"), None),
    ("usr/bin/find", ("tree", "-name", "*.py", "-o", "-name", "*.c"), None),
    ("usr/bin/diff", ("-u", "--label", "a", "--label", "b", "a.txt", "b.txt"), None),
    ("usr/bin/python3.11", ("-c", "import json, hashlib, re, os; print(json.dumps({'h': "
                            "hashlib.sha256(b'usermode').hexdigest(), 'r': re.findall(r'\\d+', "
                            "'a1b22c333'), 'cwd': os.path.basename(os.getcwd())[:4]}))"), None),
    ("usr/bin/python3.11", ("-c", "import threading, socket, selectors\n"
                            "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()\n"
                            "def serve():\n"
                            "    c, _ = srv.accept()\n"
                            "    with c:\n"
                            "        while data := c.recv(64):\n"
                            "            c.sendall(data.upper())\n"
                            "t = threading.Thread(target=serve); t.start()\n"
                            "cli = socket.create_connection(srv.getsockname())\n"
                            "sel = selectors.DefaultSelector()\n"
                            "sel.register(cli, selectors.EVENT_READ)\n"
                            "got = []\n"
                            "for w in ['alpha', 'beta', 'gamma']:\n"
                            "    cli.sendall(w.encode())\n"
                            "    for key, ev in sel.select(timeout=5):\n"
                            "        got.append(key.fileobj.recv(64).decode())\n"
                            "cli.close(); t.join()\n"
                            "n = [0]; lock = threading.Lock()\n"
                            "def inc():\n"
                            "    for _ in range(3000):\n"
                            "        with lock: n[0] += 1\n"
                            "ts = [threading.Thread(target=inc) for _ in range(3)]\n"
                            "[x.start() for x in ts]; [x.join() for x in ts]\n"
                            "print(got, n[0], type(sel).__name__)"), None),
    ("usr/bin/lua5.4", ("-e", "local t = {} for i = 1, 10 do t[#t + 1] = i * i end "
                        "print(table.concat(t, ','), string.format('%.3f', math.pi))"), None),
    ("usr/bin/sqlite3", (":memory:", "create table t(k text, v int); insert into t values "
                         "('a', 1), ('b', 2), ('a', 3); select k, sum(v), count(*) from t "
                         "group by k order by k;"), None),
    ("bin/bash", ("-c", "x=6; y=7; echo $((x * y)); printf '%05d\\n' 42; "
                  "for i in 1 2 3; do echo -n $i; done; echo"), None),
    ("bin/dash", ("-c", "echo dash $((2 ** 10)) ${0##*/}"), None),
    ("usr/bin/wc", ("-lwc", "words.txt", "blob.bin"), None),
    ("bin/cat", ("a.txt", "b.txt"), None),
]


@pytest.mark.parametrize(("prog", "args", "stdin"), CASES,
                         ids=[c[0].rsplit("/", 1)[-1] for c in CASES])
def test_rootfs_program_matches_qemu(rootfs: Path, data: Path, prog: str,
                                     args: tuple[str, ...], stdin: bytes | None) -> None:
    um, ref = run_both(rootfs, data, prog, *args, stdin=stdin)
    assert um.stdout == ref.stdout, um.stderr.decode()[-2000:]
    assert um.returncode == ref.returncode, um.stderr.decode()[-2000:]


@pytest.mark.parametrize("tool", ["usr/bin/xz", "bin/gzip"])
def test_rootfs_compression_round_trip(rootfs: Path, data: Path, tool: str) -> None:
    blob = (data / "blob.bin").read_bytes()
    um, ref = run_both(rootfs, data, tool, "-9", "-c", "blob.bin")
    assert um.returncode == 0 and um.stdout == ref.stdout  # same compressor, same bytes
    back, _ = run_both(rootfs, data, tool, "-d", "-c", stdin=um.stdout)
    assert back.returncode == 0 and back.stdout == blob


def um_only(rootfs: Path, data: Path, prog: str, *args: str) -> str:
    p = run_cmd([sys.executable, "-m", "usermode", "run", "-L", str(rootfs),
                        str(rootfs / prog), *args], capture_output=True, cwd=data, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode()


def test_proc_self_describes_the_guest(rootfs: Path, data: Path) -> None:
    maps = um_only(rootfs, data, "bin/cat", "/proc/self/maps").splitlines()
    names = {line.split()[-1] for line in maps if len(line.split()) > 5}
    assert "/bin/cat" in names and "[heap]" in names and "[stack]" in names
    assert any(n.endswith("libc.so.6") for n in names)
    assert any(" r-xp " in line and line.endswith("/bin/cat") for line in maps)
    cmd = um_only(rootfs, data, "bin/cat", "/proc/self/cmdline")
    assert cmd.split("\0")[1:] == ["/proc/self/cmdline", ""]
    stat = um_only(rootfs, data, "bin/cat", "/proc/self/stat")
    assert "(cat)" in stat
    cpu = um_only(rootfs, data, "bin/cat", "/proc/cpuinfo")
    assert "Features\t: fp asimd" in cpu and "atomics" in cpu
    exe = um_only(rootfs, data, "bin/readlink", "/proc/self/exe")
    assert exe.strip().endswith("/bin/readlink")


def test_proc_self_auxv_has_the_guest_entries(rootfs: Path, data: Path) -> None:
    out = um_only(rootfs, data, "usr/bin/od", "-An", "-v", "-tx8", "/proc/self/auxv").split()
    pairs = dict(zip((int(x, 16) for x in out[0::2]), (int(x, 16) for x in out[1::2]),
                     strict=True))
    assert pairs[6] == 4096  # AT_PAGESZ
    assert pairs[16] != 0 and pairs[25] != 0  # AT_HWCAP, AT_RANDOM
    assert pairs[0] == 0  # AT_NULL present


def test_ls_of_a_sysroot_directory_stats_every_entry(rootfs: Path, data: Path) -> None:
    # qemu 7.2 -L lists /usr/bin from the rootfs but cannot lstat the entries that exist only
    # there ("cannot access '/usr/bin/gawk'"); the overlay resolves both the same way
    p = run_cmd([sys.executable, "-m", "usermode", "run", "-L", str(rootfs),
                        str(rootfs / "bin/ls"), "-la", "/usr/bin"], capture_output=True,
                       cwd=data, timeout=120)
    assert p.returncode == 0, p.stderr.decode()[-500:]
    out = p.stdout.decode()
    assert " gawk\n" in out and " python3.11\n" in out and " lua5.4\n" in out


PREEMPTED_PYTHON = """\
import threading, os
r, w = os.pipe()
threading.Thread(target=os.read, args=(r, 1), daemon=True).start()
def work(n, out, i):
    s = 0
    for k in range(n):
        s += k * k % 7
    out[i] = s
out = [0] * 4
ts = [threading.Thread(target=work, args=(60000, out, i)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
d = {str(i): i for i in range(50000)}
print(out, len(d))
"""


def test_cpython_threads_survive_frequent_preemption(rootfs: Path, data: Path) -> None:
    """CPython threads that compute (and one parked on a pipe) with 1-ms slices: thousands
    of preemptions, and the result must be exact. Stopping the engine from the watchdog
    thread itself corrupted this program; the native stop-on-request block hook must not."""
    exe = str(rootfs / "usr/bin/python3.11")
    for _ in range(2):
        p = run_cmd([sys.executable, "-m", "usermode", "run", "--stats", "--quantum-ms",
                            "1", "-L", str(rootfs), exe, "-c", PREEMPTED_PYTHON],
                           capture_output=True, cwd=data, timeout=300)
        assert p.returncode == 0, p.stderr.decode()[-2000:]
        assert p.stdout == b"[119999, 119999, 119999, 119999] 50000\n", p.stderr.decode()[-2000:]
        stats = p.stderr.decode().split("  threads: ")[1].splitlines()[0]
        assert int(dict(kv.split("=") for kv in stats.split())["preemptions"]) > 20, stats


SHELL_SCRIPT = """\
set -e
x=$(echo hello | tr a-z A-Z)
echo "$x"
for i in 1 2 3; do /bin/true; done
(exit 3) || echo "subshell said $?"
printf 'pear\\napple\\nfig\\n' | sort | head -2 | tr '\\n' ' '; echo
sleep 0.1 & pid=$!
wait $pid; echo "background done $?"
ls / | grep -c . > /dev/null
sh -c 'echo "dash says $0"' child
if /bin/false; then echo no; else echo "false is $?"; fi
echo "$BASH_VERSION" | cut -d. -f1 | grep -q 5 && echo bash5
"""


def test_bash_forks_pipes_and_execs_foreign_coreutils(rootfs: Path, data: Path) -> None:
    """No binfmt_misc: every child (tr, sort, head, sleep, ls, grep, sh, cut) is an arm64
    binary that usermode itself runs after bash forks and execs it."""
    if not (rootfs / "usr/bin/sort").exists():
        pytest.skip("coreutils missing from the rootfs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSH")}
    env["HOME"] = str(data)
    p = run_cmd([sys.executable, "-m", "usermode", "run", "-L", str(rootfs),
                        str(rootfs / "bin/bash"), "-c", SHELL_SCRIPT],
                       capture_output=True, cwd=data, timeout=300, env=env)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    assert p.stdout.decode().splitlines() == [
        "HELLO", "subshell said 3", "apple fig ", "background done 0", "dash says child",
        "false is 1", "bash5"], p.stderr.decode()[-2000:]


TRAP_SCRIPT = """\
trap 'echo got USR1' USR1
trap 'echo bye' EXIT
kill -USR1 $$
sleep 0.2 & wait
echo "after wait"
(kill -SEGV $BASHPID)
echo "subshell status $?"
timeout 0.3 sleep 5
echo "timeout status $?"
trap 'echo term; exit 5' TERM
kill -TERM $$
echo unreachable
"""


def test_bash_traps_signals_and_timeouts(rootfs: Path, data: Path) -> None:
    """Guest handlers for host-delivered signals (trap), a subshell dying of SIGSEGV, and
    coreutils timeout killing its own process group: the same as bash run natively."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSH")}
    env["HOME"] = str(data)
    p = run_cmd([sys.executable, "-m", "usermode", "run", "-L", str(rootfs),
                        str(rootfs / "bin/bash"), "-c", TRAP_SCRIPT],
                       capture_output=True, cwd=data, timeout=300, env=env)
    assert p.stdout.decode().splitlines() == [
        "got USR1", "after wait", "subshell status 139", "timeout status 124", "term",
        "bye"], p.stderr.decode()[-2000:]
    assert p.returncode == 5, p.stderr.decode()[-2000:]
    assert b"Traceback" not in p.stderr, p.stderr.decode()[-2000:]  # execs after traps
