"""Our struct layouts per ABI against the kernel uapi headers, as a C compiler lays them out
for each guest arch (zig's cross targets, which ship the uapi headers)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import pytest

from syscalls.abi import get
from syscalls.linux.epoll import _guest_event
from syscalls.linux.tty import termios_size

HERE = Path(__file__).resolve().parent
TARGETS = {"aarch64": "aarch64-linux-musl", "x86_64": "x86_64-linux-musl",
           "riscv64": "riscv64-linux-musl", "arm": "arm-linux-musleabihf",
           "i386": "x86-linux-musl", "mipsel": "mipsel-linux-musleabi"}
BIAS = 1_000_000


@cache
def compiled(arch: str, tmp: str) -> dict[str, int]:
    if importlib.util.find_spec("ziglang") is None:
        pytest.skip("ziglang is not installed: no cross compiler to take layouts from")
    out = Path(tmp) / f"layouts-{arch}.s"
    p = subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", TARGETS[arch], "-S",
                        "-o", str(out), str(HERE / "layouts.c")], capture_output=True,
                       text=True)
    if p.returncode:
        pytest.fail(f"compiling layouts.c for {arch} failed:\n{p.stderr}")
    values = {}
    for name, value in re.findall(r"^v_(\w+):\s*\n\s*\.(?:long|word|4byte)\s+(\d+)",
                                  out.read_text(), re.M):
        values[name] = int(value) - BIAS
    return values


@pytest.mark.parametrize("arch", sorted(TARGETS))
def test_layouts_match_the_compiler(arch: str, tmp_path_factory: pytest.TempPathFactory
                                    ) -> None:
    c = compiled(arch, str(tmp_path_factory.getbasetemp()))
    abi = get(arch)
    wide = abi.with_time64() if abi.wordsize == 4 else abi
    event = _guest_event(SimpleNamespace(abi=abi))  # type: ignore[arg-type]
    ours = {
        "stat_size": abi.stat.size,
        **{f"stat_{f}": abi.stat.offsets[f] for f in (
            "st_ino", "st_mode", "st_nlink", "st_rdev", "st_size", "st_blksize",
            "st_blocks", "st_mtime", "st_ctime")},
        **({"oldstat_size": abi.stat_old.size,
            "oldstat_st_size": abi.stat_old.offsets["st_size"],
            "oldstat_st_blocks": abi.stat_old.offsets["st_blocks"]} if abi.stat_old else {}),
        "statfs_size": abi.statfs.size,
        **{f"statfs_{f}": abi.statfs.offsets[f.replace("fsid", "fsid0")] for f in (
            "f_blocks", "f_bavail", "f_fsid", "f_namelen", "f_flags")},
        "statfs64_size": abi.statfs64.size,
        **{f"statfs64_{f}": abi.statfs64.offsets[f.replace("fsid", "fsid0")] for f in (
            "f_bavail", "f_fsid", "f_flags")},
        "termios_size": termios_size(abi, wide=False),
        "termios_c_cc": 17,
        "termios2_size": termios_size(abi, wide=True),
        "timespec64_size": wide.timespec.size,
        "iovec_size": abi.iovec.size,
        "winsize_size": abi.winsize.size,
        "sysinfo_size": abi.sysinfo.size,
        "sysinfo_procs": abi.sysinfo.offsets["procs"],
        "sysinfo_mem_unit": abi.sysinfo.offsets["mem_unit"],
        "tms_size": abi.tms.size,
        "clone_args_size": abi.clone_args.size,
        "rlimit_size": abi.rlimit.size,
        "rlimit64_size": abi.rlimit64.size,
        "epoll_event_size": event.size,
        "epoll_event_data": event.size - 8,
        "ipc64_perm_size": abi.shmid64.offsets["segsz"],
        "ipc64_perm_seq": abi.shmid64.offsets["seq"],
        "shmid64_size": abi.shmid64.size,
        **{f"shmid64_{f}": abi.shmid64.offsets[f] for f in ("segsz", "ctime", "cpid", "nattch")},
        "semid64_size": abi.semid64.size,
        **{f"semid64_{f}": abi.semid64.offsets[f] for f in ("otime", "ctime", "nsems")},
        "msqid64_size": abi.msqid64.size,
        **{f"msqid64_{f}": abi.msqid64.offsets[f] for f in ("ctime", "qnum", "qbytes", "lrpid")},
    }
    assert set(c) == set(ours), "layouts.c and this test list different values"
    wrong = {k: (ours[k], c[k]) for k in ours if ours[k] != c[k]}
    assert not wrong, f"{arch}: (ours, compiler's) differ: {wrong}"
