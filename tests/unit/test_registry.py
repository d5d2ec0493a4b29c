"""The syscall table as data: every row is a real syscall name, decoded once per arch."""

from __future__ import annotations

import errno

from syscalls import tables
from syscalls.abi import get
from syscalls.dispatch import Dispatcher
from syscalls.linux import ROWS


def test_every_row_names_a_syscall_of_some_arch() -> None:
    rows = ROWS
    known: set[str] = set()
    for arch in tables.ARCHES:
        known |= set(tables.load(arch).values())
    unknown = sorted(n for n in rows if n not in known)
    assert not unknown, unknown


def test_issue_required_handlers_present_for_aarch64_and_x86_64() -> None:
    required = """read write readv writev pread64 pwrite64 lseek openat close close_range dup
    dup3 fcntl pipe2 newfstatat fstat statx getdents64 readlinkat faccessat faccessat2 mkdirat
    unlinkat renameat2 symlinkat linkat fchmod fchmodat fchownat utimensat truncate ftruncate
    fsync fdatasync getcwd chdir fchdir umask ioctl brk mmap munmap mprotect mremap madvise exit
    exit_group getpid getppid gettid getuid geteuid getgid getegid getgroups getresuid
    getresgid uname sysinfo prlimit64 getrandom clock_gettime clock_getres gettimeofday
    nanosleep clock_nanosleep sched_yield sched_getaffinity set_tid_address set_robust_list
    rt_sigaction rt_sigprocmask""".split()
    rows = ROWS
    for arch in ("aarch64", "x86_64"):
        names = set(tables.load(arch).values())
        for name in required:
            assert name in names, (arch, name)
            assert rows[name].handler is not None, name
    assert rows["arch_prctl"].handler is not None


class _FakeProc:
    pid = 1


def test_unknown_number_is_enosys_with_one_warning(capsys) -> None:  # type: ignore[no-untyped-def]
    d = Dispatcher("aarch64", get("aarch64"), _FakeProc(), ROWS, warn_unsupported=True)
    nr = 293  # rseq: a real syscall we do not implement
    assert d(nr, [0] * 6) == -errno.ENOSYS
    assert d(nr, [0] * 6) == -errno.ENOSYS
    assert d(9999, [0] * 6) == -errno.ENOSYS
    err = capsys.readouterr().err
    assert err.count("unsupported syscall rseq (293)") == 1
    assert "unsupported syscall 9999" in err


def test_arguments_are_decoded_per_kind() -> None:
    d = Dispatcher("aarch64", get("aarch64"), _FakeProc(), ROWS)
    openat_nr = next(nr for nr, n in d.names.items() if n == "openat")
    _fn, plan, nargs, name = d.table[openat_nr]
    assert name == "openat" and nargs == 4
    conv = dict(plan)
    assert conv[0](0xFFFFFF9C) == -100  # AT_FDCWD in a w-register
    assert conv[0](0xFFFFFFFFFFFFFF9C) == -100


def test_every_handler_is_declared_to_return_an_int() -> None:
    """With mypy (strict on syscalls/, run by test_style.py) this makes a handler that returns
    None, as setsid once did, a test failure; the engine also stops with an error on one."""
    bad = []
    for name, row in ROWS.items():
        fn = row.handler
        if fn is None:
            continue
        ann = getattr(fn, "__annotations__", {}).get("return")
        if ann not in ("int", int):
            bad.append(f"{name}: {getattr(fn, '__qualname__', fn)} -> {ann!r}")
    assert not bad, bad
