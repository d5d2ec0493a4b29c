"""Helpers for the guest-program tests: running binaries and the shared case table.

* :func:`run_usermode` runs a guest binary through ``python -m usermode run``.
* :func:`run_reference` runs it on the reference: natively for x86_64, under
  ``qemu-<arch>`` otherwise (the test is skipped, with the reason, when that
  qemu is missing).
* :data:`CASES` lists the guest programs, their arguments and the lines each
  must print, shared by test_guest_reference.py and test_guest_programs.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from guestbuild import ARCHES

REPO_ROOT = Path(__file__).resolve().parent.parent

# The `guest` fixture: guest(name, arch, libc="musl", pie=False) -> built binary.
GuestFactory = Callable[..., Path]

# Binary that runs each arch's guests on the reference side (None: natively).
QEMU_BINARIES: dict[str, str | None] = {
    "aarch64": "qemu-aarch64",
    "x86_64": None,
    "riscv64": "qemu-riscv64",
    "arm": "qemu-arm",
    "mipsel": "qemu-mipsel",
    "i386": "qemu-i386",
    "armel": "qemu-arm",
    "s390x": "qemu-s390x",
}

# What uname's "machine" says under qemu-user / the kernel for each guest arch.
UNAME_MACHINES: dict[str, str] = {
    "aarch64": "aarch64",
    "x86_64": "x86_64",
    "riscv64": "riscv64",
    "arm": "armv7l",
    "mipsel": "mips",
    "i386": "i686",
    "armel": "armv7l",
    "s390x": "s390x",
}

# Timeouts are generous and scale with the machine: a loaded 2-core box runs several times
# slower, and a timeout is not a finding. USERMODE_TEST_TIMEOUT_SCALE multiplies every
# subprocess timeout of the suite (default 4).
TIMEOUT_SCALE = float(os.environ.get("USERMODE_TEST_TIMEOUT_SCALE", "4"))
DEFAULT_TIMEOUT = float(os.environ.get("USERMODE_TEST_TIMEOUT", "60"))


def scaled(seconds: float) -> float:
    """A test's timeout for this machine: `seconds` times USERMODE_TEST_TIMEOUT_SCALE."""
    return seconds * TIMEOUT_SCALE


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


def run_cmd(cmd: list[str], *, timeout: float = 120, **kwargs: object
        ) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    """subprocess.run with the timeout scaled for this machine; a timeout fails the test as
    a timeout, with the command and its output so far (not a bare TimeoutExpired)."""
    limit = scaled(timeout)
    try:
        return subprocess.run(cmd, timeout=limit, **kwargs)  # type: ignore[call-overload, no-any-return]
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"timed out after {limit:.0f} s (USERMODE_TEST_TIMEOUT_SCALE="
                    f"{TIMEOUT_SCALE:g}): {' '.join(map(str, cmd))}\n--- stdout so far ---\n"
                    f"{_text(e.stdout)[-4000:]}\n--- stderr so far ---\n"
                    f"{_text(e.stderr)[-4000:]}", pytrace=False)


def _arch_list(var: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(var, "").strip()
    if not raw:
        return default
    arches = tuple(a.strip() for a in raw.split(",") if a.strip())
    unknown = [a for a in arches if a not in ARCHES]
    if unknown:
        raise ValueError(f"{var}: unknown arches {unknown}; expected some of {ARCHES}")
    return arches


# The arches of the differential tiers by default: all but s390x, whose reference
# (qemu-s390x 7.2) fails several guest programs itself and which does not run them all yet
# (tests/differential/test_s390x.py holds it to Linux's lines instead).
DEFAULT_ARCHES = ("aarch64", "x86_64", "riscv64", "arm", "mipsel", "i386", "armel")
# Arches whose guests are checked against the reference (qemu or native).  Override with
# USERMODE_REFERENCE_ARCHES=aarch64,x86_64.
REFERENCE_ARCHES = _arch_list("USERMODE_REFERENCE_ARCHES", DEFAULT_ARCHES)
# Arches run through usermode and compared with the reference.  Override with
# USERMODE_TEST_ARCHES=aarch64,x86_64,riscv64,...
EMULATED_ARCHES = _arch_list("USERMODE_TEST_ARCHES", DEFAULT_ARCHES)
LIBCS = ("musl", "glibc")


def guest_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a guest run: ours without QEMU_* settings, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QEMU_")}
    env.setdefault("LC_ALL", "C")
    if extra:
        env.update(extra)
    return env


def _run(
    argv: list[str],
    env: Mapping[str, str] | None,
    stdin: bytes | None,
    timeout: float,
    cwd: Path | None,
) -> subprocess.CompletedProcess[bytes]:
    return run_cmd(
        argv,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        env=dict(env) if env is not None else guest_env(),
        timeout=timeout,
        cwd=cwd,
        check=False,
    )


def run_usermode(
    binary: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m usermode run BINARY ARGS...`` and capture its output.

    env defaults to :func:`guest_env`; the repository root is prepended to
    PYTHONPATH so the in-tree package is used.
    """
    run_env = dict(env) if env is not None else guest_env()
    old = run_env.get("PYTHONPATH")
    run_env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + old if old else "")
    argv = [sys.executable, "-m", "usermode", "run", str(binary), *args]
    return _run(argv, run_env, stdin, timeout, cwd)


def reference_command(arch: str) -> list[str]:
    """argv prefix that runs an ``arch`` binary on the reference (skips if unavailable)."""
    if arch not in QEMU_BINARIES:
        raise ValueError(f"unknown arch {arch!r}")
    qemu = QEMU_BINARIES[arch]
    if qemu is None:
        return []
    path = shutil.which(qemu)
    if path is None:
        pytest.skip(f"{qemu} not installed (Debian package qemu-user); no reference for {arch}")
    return [path]


def run_reference(
    arch: str,
    binary: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run BINARY natively (x86_64) or under qemu-ARCH and capture its output."""
    argv = [*reference_command(arch), str(binary), *args]
    return _run(argv, env, stdin, timeout, cwd)


def describe(proc: subprocess.CompletedProcess[bytes]) -> str:
    """Exit status plus output, for assertion messages."""
    rc = proc.returncode
    status = f"killed by {signal.Signals(-rc).name}" if rc < 0 else f"exit {rc}"
    out = proc.stdout.decode(errors="replace")
    err = proc.stderr.decode(errors="replace")
    return f"{status}\n--- stdout ---\n{out}--- stderr ---\n{err}"


# ---------------------------------------------------------------------------
# The case table.

FILEIO_CHECKS = (
    "open_excl",
    "open_read",
    "open_append",
    "open_trunc",
    "open_directory",
    "open_cloexec",
    "open_enoent",
    "lseek",
    "pread_pwrite",
    "readv_writev",
    "truncate",
    "fsync",
    "stat",
    "statx",
    "link",
    "symlink",
    "open_nofollow",
    "chmod",
    "access",
    "utimensat",
    "mkdir",
    "mkdirat",
    "openat",
    "rmdir",
    "unlinkat",
    "rename",
    "renameat2",
    "dup",
    "dupfd_cloexec",
    "fcntl_fl",
    "ebadf",
    "pipe2",
    "close_range",
    "cwd",
    "umask",
    "readdir",
    "fast_edges",
)
MEMORY_CHECKS = (
    "brk",
    "malloc",
    "mmap_anon",
    "munmap_middle",
    "fixed_noreplace",
    "mprotect",
    "mremap",
    "madvise",
    "mmap_private_file",
    "mmap_shared_file",
    "munmap_span",
    "old_calls",
    "maps_wonly",
    "heap_churn",
    "brk_span",
)
SYSINFO_CHECKS = (
    "uname",
    "pids",
    "ids",
    "sysinfo",
    "rlimit",
    "getrandom",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "nanosleep",
    "clock_nanosleep",
    "sched_yield",
    "sched_getaffinity",
    "ioctl",
    "isatty",
    "pty",
    "rlimit_words",
)
# threads.c's checks but "robust": qemu-user has no robust futex lists (set_robust_list is
# ENOSYS there), so its run of that check hangs; tests/test_threads.py covers it.
THREAD_CHECKS = ("create", "futex_pingpong", "futex_ops", "atomics", "spin", "ring",
                 "pipe_pingpong", "big_write", "condvar", "sleep", "names")
SIGS_CHECKS = ("eintr", "spin", "ucontext", "altstack", "sigsuspend", "sigwait",
               "pipe_ignored", "signalfd", "sigqueue", "blocked_default")
NETIO_CHECKS = ("poll", "select", "epoll", "eventfd", "timerfd", "tcp", "udp", "unix",
                "pollband", "ifreq")
IPC_CHECKS = ("shm", "sem", "msg", "eintr")
ROBUST_CHECKS = ("zero_len", "setsid", "huge_sleep", "pipe_signal", "fs_creds", "many_fds",
                 "arch_prctl", "long_shebang", "getrandom", "partial_buf")
MORECALLS_CHECKS = ("mknod", "mincore", "membarrier", "rw2", "inotify", "caps", "names",
                    "splice", "timers", "setsig", "mqueue", "sched_attr", "openat2", "vmsplice",
                    "pidfd", "creat", "fhandle", "mount", "relations", "chroot")
ERRORDER_CHECKS = ("fd_first", "flags", "counts", "sockets", "mlock", "wait")
COMPUTE_CHECKS = ("sha256", "int", "float", "simd", "qsort", "strtod", "it_fill",
                  "kuser")

ARGS_ENV = {"USERMODE_T_VALUE": "some value=with=equals", "USERMODE_T_EMPTY": ""}


def _ok(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{n} ok" for n in names)


@dataclass(frozen=True)
class GuestCase:
    """One run of a guest program and what it must print."""

    id: str
    program: str
    args: tuple[str, ...] = ()
    scratch: bool = False  # pass a fresh empty directory as the first argument
    env: Mapping[str, str] = field(default_factory=dict)
    returncode: int = 0
    lines: tuple[str, ...] = ()  # lines stdout must contain (in this order)
    # Identical stdout on every arch and libc (checked by the cross-arch test).
    portable: bool = True
    # A capability usermode does not have yet (the issue that adds it): the usermode
    # comparison is a strict xfail until then, so it fails loudly the day it passes.
    needs: str = ""

    def argv(self, scratch_dir: Path | None) -> list[str]:
        if self.scratch:
            if scratch_dir is None:
                raise ValueError(f"{self.id} needs a scratch directory")
            return [str(scratch_dir), *self.args]
        return list(self.args)


CASES: tuple[GuestCase, ...] = (
    GuestCase("hello", "hello", lines=("hello, world",)),
    GuestCase("exit0", "exitcode", ("0",), lines=("exiting with 0",)),
    GuestCase("exit3", "exitcode", ("3",), returncode=3, lines=("exiting with 3",)),
    GuestCase("exit255", "exitcode", ("255",), returncode=255),
    GuestCase("exit256", "exitcode", ("256",), returncode=0),
    GuestCase("abort", "exitcode", ("7", "abort"), returncode=-signal.SIGABRT, lines=("aborting",)),
    GuestCase(
        "args",
        "args",
        (
            "one",
            "two words",
            "",
            "-x",
            "env:USERMODE_T_VALUE",
            "env:USERMODE_T_EMPTY",
            "env:USERMODE_T_UNSET",
        ),
        env=ARGS_ENV,
        lines=(
            "argc=8",
            "argv[1]=one",
            "argv[2]=two words",
            "argv[3]=",
            "argv[4]=-x",
            "env USERMODE_T_VALUE=some value=with=equals",
            "env USERMODE_T_EMPTY=",
            "env USERMODE_T_UNSET unset",
            "execfn_is_argv0=yes",
            "auxv ok",
        ),
        portable=False,  # argv[0] is the binary's path
    ),
    GuestCase("fileio", "fileio", scratch=True, lines=(*_ok(FILEIO_CHECKS), "fileio done")),
    GuestCase("memory", "memory", scratch=True, lines=(*_ok(MEMORY_CHECKS), "memory done")),
    GuestCase("calls", "calls", scratch=True,
              lines=(*_ok(("flock", "space", "copies", "memfd", "ids", "sched", "waitpid")),
                     "calls done")),
    GuestCase("wide", "wide", scratch=True,
              lines=(*_ok(("offsets", "locks", "y2038", "tls", "statfs", "oldstat")),
                     "wide done")),
    GuestCase(
        "sysinfo",
        "sysinfo",
        lines=("sysname=Linux", *_ok(SYSINFO_CHECKS), "sysinfo done"),
        portable=False,  # uname machine differs per arch
    ),
    GuestCase("compute", "compute", lines=(*_ok(COMPUTE_CHECKS), "compute done")),
    GuestCase("threads", "threads", THREAD_CHECKS, lines=(*_ok(THREAD_CHECKS), "threads done")),
    GuestCase("netio", "netio", lines=(*_ok(NETIO_CHECKS), "netio done")),
    GuestCase("ipc", "ipc", lines=(*_ok(IPC_CHECKS), "ipc done")),
    GuestCase("robust", "robust", lines=(*_ok(ROBUST_CHECKS), "robust done")),
    GuestCase("errorder", "errorder", lines=(*_ok(ERRORDER_CHECKS), "errorder done")),
    GuestCase("morecalls", "morecalls", scratch=True,
              lines=(*_ok(MORECALLS_CHECKS), "morecalls done")),
    GuestCase("sigs", "sigs", lines=(*_ok(SIGS_CHECKS), "sigs done")),
    GuestCase("sigpipe", "sigs", ("pipe_dies",), returncode=-signal.SIGPIPE,
              lines=("writing to a closed pipe",)),
    GuestCase("efault", "faults", ("efault",), lines=("efault ok",)),
    GuestCase("enosys", "faults", ("enosys",), lines=("enosys ok",)),
    GuestCase("segv", "faults", ("segv",), returncode=-signal.SIGSEGV, lines=("storing to NULL",)),
    GuestCase(
        "ill",
        "faults",
        ("ill",),
        returncode=-signal.SIGILL,
        lines=("executing an undefined instruction",),
    ),
    GuestCase("catch", "faults", ("catch",), lines=("catch ok",)),
    GuestCase("buserr", "faults", ("buserr",), lines=("buserr ok",)),
)
CASES_BY_ID = {c.id: c for c in CASES}

# Programs also built as static-PIE (ET_DYN without PT_INTERP).
PIE_CASE_IDS = ("hello", "args", "compute", "catch")


def normalise(output: bytes, replacements: Mapping[str, str]) -> str:
    """Decode output and replace run-specific strings (scratch paths) with placeholders."""
    text = output.decode(errors="replace")
    for old, new in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(old, new)
    return text


def missing_lines(stdout: bytes, lines: tuple[str, ...]) -> list[str]:
    """The expected lines not found in stdout, in order (a line must follow the previous one)."""
    got = stdout.decode(errors="replace").splitlines()
    pos = 0
    missing = []
    for line in lines:
        try:
            pos = got.index(line, pos) + 1
        except ValueError:
            missing.append(line)
    return missing


def sha256_expected() -> str:
    """The digest compute.c prints: SHA-256 of its generated 65573-byte buffer."""
    import hashlib

    n = 65536 + 37
    data = bytes((i * 131 + (i >> 9)) & 0xFF for i in range(n))
    return hashlib.sha256(data).hexdigest()


# qemu-user bugs that make a reference run fail a check that holds on Linux:
# (case id, arches, the failing line's start, why)
REFERENCE_BUGS: tuple[tuple[str, tuple[str, ...], bytes, str], ...] = (
    ("sysinfo", ("arm", "armel", "i386", "mipsel"), b"FAIL: sysinfo: si.freeram <= si.totalram",
     "qemu-user truncates sysinfo's memory counts to 32 bits on 32-bit guests instead of "
     "scaling mem_unit (freeram can exceed totalram)"),
    ("wide", ("arm", "armel", "i386", "mipsel"),
     b"FAIL: oldstat: syscall(SYS_fstat, fd, w) returned 0",
     "qemu-user's old stat calls store a size above 2 GiB truncated instead of failing "
     "with EOVERFLOW"),
    ("sysinfo", ("i386",), b"FAIL: rlimit_words: as 0xffffffff",
     "qemu-i386's old getrlimit (76) does not clamp limits to 0x7fffffff as Linux does"),
    ("netio", ("aarch64", "x86_64", "riscv64", "arm", "armel", "i386", "mipsel"),
     b"FAIL: ifreq: ioctl(s, _IOR(0xee, 1, int), &x) == -1 && errno == ENOTTY",
     "qemu-user answers an ioctl request it does not know with ENOSYS; Linux says ENOTTY"),
    ("ipc", ("aarch64", "riscv64"), b"FAIL: msg: qnum 0 lrpid 0 lspid",
     "qemu-user's msgctl(IPC_STAT) leaves msg_lrpid 0 on these ABIs"),
    ("netio", ("mipsel",), b"FAIL: pollband: revents 0x4 0x100",
     "qemu-mipsel passes poll events through unconverted: a guest POLLWRBAND (0x100) "
     "reaches the host as POLLWRNORM"),
    ("robust", ("i386",), b"FAIL: fs_creds",
     "qemu-i386 crashes (SIGSEGV) once the guest has set its fs uid and gid to nobody"),
    ("robust", ("i386",), b"FAIL: arch_prctl",
     "qemu-i386 answers arch_prctl with ENOSYS; a 32-bit task on Linux gets EINVAL"),
    ("errorder", ("aarch64", "riscv64", "arm", "armel", "i386", "mipsel"), b"FAIL: fd_first",
     "qemu-user checks a call's buffers before its fd: read(999, bad pointer) is EFAULT "
     "there, EBADF on Linux (as are statx's flags and accept4 on a pipe)"),
    ("morecalls", ("aarch64", "riscv64", "arm", "armel", "i386", "mipsel"),
     b"FAIL: rw2: preadv2(fd, &v, 1, 0, 0x1000)",
     "qemu-user 7.2 answers preadv2/pwritev2 with flags ENOSYS; Linux checks the flags "
     "(EOPNOTSUPP for an unknown one) and honours the known ones"),
    ("morecalls", ("mipsel",), b"FAIL: timers: code -2 value 77",
     "qemu-mipsel reports a POSIX timer's signal with the generic SI_TIMER (-2); MIPS's is -3"),
    ("morecalls", ("arm", "armel", "i386", "mipsel"), b"FAIL: setsig: code 1 fd 0",
     "qemu-user gives a 32-bit guest's F_SETSIG signal si_fd 0"),
    ("morecalls", ("aarch64", "riscv64"), b"FAIL: mqueue: mq_notify(q, &ev) returned -1",
     "qemu-user 7.2 answers mq_notify with ENOSYS on the arches of the generic syscall "
     "table (aarch64, riscv64)"),
    ("buserr", ("arm", "armel", "i386", "mipsel"), b"FAIL: buserr: signal",
     "qemu-user's SIGBUS for a 32-bit guest's read past a file's end carries another si_addr "
     "than the address read"),
    ("robust", ("aarch64", "riscv64", "arm", "armel", "i386", "mipsel"), b"FAIL: partial_buf",
     "qemu-user checks the whole buffer of read, pread and write and answers EFAULT; Linux "
     "moves the bytes before the first unmapped page"),
)


def known_reference_bug(case: GuestCase, arch: str, stdout: bytes) -> str | None:
    """Why a failed reference run of `case` is qemu's fault, or None."""
    for case_id, arches, marker, why in REFERENCE_BUGS:
        if case.id == case_id and arch in arches and marker in stdout:
            return why
    return None


def case_args(case: GuestCase, base: Path, label: str) -> tuple[list[str], dict[str, str]]:
    """Arguments for one run of case, and the replacements that normalise its output.

    A case that wants a scratch directory gets a fresh ``base/label-scratch``.
    """
    scratch: Path | None = None
    replacements: dict[str, str] = {}
    if case.scratch:
        scratch = base / f"{label}-scratch"
        scratch.mkdir(parents=True)
        scratch = scratch.resolve()
        replacements[str(scratch)] = "<scratch>"
    return case.argv(scratch), replacements
