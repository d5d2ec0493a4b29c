"""Declare a guest struct once as a field list; compile it per ABI into a packer.

Field types: u8 u16 u32 u64 s8 s16 s32 s64, `long`/`ulong`/`ptr` (the ABI's word),
`bytes:N` (fixed char array), `pad:N` (explicit padding). Alignment is natural for the
type, except that 8-byte scalars align to `abi.align64` (4 on i386). The struct's size is
rounded up to its largest member alignment, as C does.
"""

from __future__ import annotations

import struct

Field = tuple[str, str]


TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Protocol

    class AbiShape(Protocol):
        wordsize: int
        little_endian: bool
        align64: int


_SCALARS = {"u8": ("B", 1), "s8": ("b", 1), "u16": ("H", 2), "s16": ("h", 2),
            "u32": ("I", 4), "s32": ("i", 4), "u64": ("Q", 8), "s64": ("q", 8)}


class Layout:
    """A compiled struct: `pack(*values)` / `unpack(buf)` in declaration order (pads omitted)."""

    __slots__ = ("_ranges", "_st", "names", "offsets", "size")

    def __init__(self, fields: Sequence[Field], abi: AbiShape) -> None:
        fmt = ["<" if abi.little_endian else ">"]
        off = 0
        max_align = 1
        names: list[str] = []
        offsets: dict[str, int] = {}
        ranges: list[tuple[int, bool]] = []  # (bits, signed) per packed field
        for name, typ in fields:
            if typ.startswith("pad:"):
                n = int(typ[4:])
                fmt.append(f"{n}x")
                off += n
                continue
            if typ.startswith("bytes:"):
                n = int(typ[6:])
                code, size, align = f"{n}s", n, 1
            else:
                if typ in ("long", "ulong", "ptr"):
                    typ = ("s" if typ == "long" else "u") + str(abi.wordsize * 8)
                code, size = _SCALARS[typ]
                align = abi.align64 if size == 8 else size
            pad = -off % align
            if pad:
                fmt.append(f"{pad}x")
                off += pad
            fmt.append(code)
            ranges.append((size * 8, code.islower() and not code.endswith("s")))
            offsets[name] = off
            names.append(name)
            off += size
            max_align = max(max_align, align)
        tail = -off % max_align
        if tail:
            fmt.append(f"{tail}x")
            off += tail
        self._st = struct.Struct("".join(fmt))
        self.names = tuple(names)
        self.offsets = offsets
        self.size = off
        self._ranges = tuple(ranges)
        assert self._st.size == off

    def pack(self, *values: int | bytes) -> bytes:
        return self._st.pack(*values)

    def pack_wrapped(self, *values: int) -> bytes:
        """Like pack, with every integer wrapped into its field's range (two's complement),
        as a C assignment would do: host values wider than the guest's fields never raise."""
        out = []
        for v, (bits, signed) in zip(values, self._ranges, strict=True):
            v &= (1 << bits) - 1
            if signed and v >> (bits - 1):
                v -= 1 << bits
            out.append(v)
        return self._st.pack(*out)

    def pack_into(self, buf: memoryview | bytearray, offset: int, *values: int | bytes) -> None:
        self._st.pack_into(buf, offset, *values)

    def unpack(self, buf: bytes | memoryview) -> tuple[Any, ...]:  # ints, and bytes fields
        return self._st.unpack_from(buf)

    def unpack_dict(self, buf: bytes | memoryview) -> dict[str, int | bytes]:
        return dict(zip(self.names, self._st.unpack_from(buf), strict=True))


# ---- field lists (kernel uapi views) ----------------------------------------------------------
TIMESPEC: list[Field] = [("tv_sec", "long"), ("tv_nsec", "long")]
KERNEL_TIMESPEC: list[Field] = [("tv_sec", "s64"), ("tv_nsec", "s64")]
TIMEVAL: list[Field] = [("tv_sec", "long"), ("tv_usec", "long")]
TIMEZONE: list[Field] = [("tz_minuteswest", "s32"), ("tz_dsttime", "s32")]
CLONE_ARGS: list[Field] = [(n, "u64") for n in (
    "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls",
    "set_tid", "set_tid_size", "cgroup")]
IOVEC: list[Field] = [("iov_base", "ptr"), ("iov_len", "ulong")]
RLIMIT64: list[Field] = [("rlim_cur", "u64"), ("rlim_max", "u64")]
RLIMIT: list[Field] = [("rlim_cur", "ulong"), ("rlim_max", "ulong")]
WINSIZE: list[Field] = [("ws_row", "u16"), ("ws_col", "u16"), ("ws_xpixel", "u16"),
                        ("ws_ypixel", "u16")]
TMS: list[Field] = [("tms_utime", "long"), ("tms_stime", "long"), ("tms_cutime", "long"),
                    ("tms_cstime", "long")]
SYSINFO: list[Field] = [
    ("uptime", "long"), ("load1", "ulong"), ("load5", "ulong"), ("load15", "ulong"),
    ("totalram", "ulong"), ("freeram", "ulong"), ("sharedram", "ulong"), ("bufferram", "ulong"),
    ("totalswap", "ulong"), ("freeswap", "ulong"), ("procs", "u16"), ("pad", "u16"),
    ("totalhigh", "ulong"), ("freehigh", "ulong"), ("mem_unit", "u32"),
]
# struct stat as the asm-generic ABI defines it (aarch64, riscv64): 128 bytes on 64-bit.
STAT_GENERIC: list[Field] = [
    ("st_dev", "u64"), ("st_ino", "u64"), ("st_mode", "u32"), ("st_nlink", "u32"),
    ("st_uid", "u32"), ("st_gid", "u32"), ("st_rdev", "u64"), ("pad:8", "pad:8"),
    ("st_size", "s64"), ("st_blksize", "s32"), ("pad:4", "pad:4"), ("st_blocks", "s64"),
    ("st_atime", "long"), ("st_atime_nsec", "ulong"), ("st_mtime", "long"),
    ("st_mtime_nsec", "ulong"), ("st_ctime", "long"), ("st_ctime_nsec", "ulong"),
    ("pad:8b", "pad:8"),
]
# struct stat on x86_64: 144 bytes.
STAT_X86_64: list[Field] = [
    ("st_dev", "u64"), ("st_ino", "u64"), ("st_nlink", "u64"), ("st_mode", "u32"),
    ("st_uid", "u32"), ("st_gid", "u32"), ("pad:4", "pad:4"), ("st_rdev", "u64"),
    ("st_size", "s64"), ("st_blksize", "s64"), ("st_blocks", "s64"),
    ("st_atime", "u64"), ("st_atime_nsec", "u64"), ("st_mtime", "u64"),
    ("st_mtime_nsec", "u64"), ("st_ctime", "u64"), ("st_ctime_nsec", "u64"),
    ("pad:24", "pad:24"),
]
# struct stat64: 104 bytes on arm EABI, 96 on i386 (64-bit fields 4-aligned); st_ino twice:
# a truncated copy at 12, the real one at the end.
STAT64_ARM: list[Field] = [
    ("st_dev", "u64"), ("pad:4", "pad:4"), ("__st_ino", "u32"), ("st_mode", "u32"),
    ("st_nlink", "u32"), ("st_uid", "u32"), ("st_gid", "u32"), ("st_rdev", "u64"),
    ("pad:4b", "pad:4"), ("st_size", "s64"), ("st_blksize", "u32"), ("st_blocks", "u64"),
    ("st_atime", "u32"), ("st_atime_nsec", "u32"), ("st_mtime", "u32"),
    ("st_mtime_nsec", "u32"), ("st_ctime", "u32"), ("st_ctime_nsec", "u32"), ("st_ino", "u64"),
]
# struct stat of the old stat/lstat/fstat calls on arm and i386 (64 bytes): 16-bit mode,
# nlink and ids; the kernel refuses (EOVERFLOW) what does not fit.
STAT_OLD32: list[Field] = [
    ("st_dev", "u32"), ("st_ino", "u32"), ("st_mode", "u16"), ("st_nlink", "u16"),
    ("st_uid", "u16"), ("st_gid", "u16"), ("st_rdev", "u32"), ("st_size", "u32"),
    ("st_blksize", "u32"), ("st_blocks", "u32"), ("st_atime", "u32"), ("st_atime_nsec", "u32"),
    ("st_mtime", "u32"), ("st_mtime_nsec", "u32"), ("st_ctime", "u32"),
    ("st_ctime_nsec", "u32"), ("pad:8", "pad:8"),
]
# struct statfs (asm-generic): every count a word; statfs64 has 64-bit counts (84 bytes on
# 32-bit ABIs: arm packs it to 4-byte alignment, i386 aligns 64-bit fields to 4 anyway).
_STATFS_HEAD: list[Field] = [("f_type", "ulong"), ("f_bsize", "ulong")]
_STATFS_TAIL: list[Field] = [("f_fsid0", "s32"), ("f_fsid1", "s32"), ("f_namelen", "ulong"),
                             ("f_frsize", "ulong"), ("f_flags", "ulong")]  # then f_spare[4]
STATFS_COUNTS = ("f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree")
STATFS: list[Field] = [*_STATFS_HEAD, *((n, "ulong") for n in STATFS_COUNTS), *_STATFS_TAIL]
STATFS64: list[Field] = [*_STATFS_HEAD, *((n, "u64") for n in STATFS_COUNTS), *_STATFS_TAIL]


def with_spare(fields: list[Field], words: int, wordsize: int) -> list[Field]:
    """`fields` followed by a reserved array of `words` words (statfs's f_spare)."""
    return [*fields, ("pad:spare", f"pad:{words * wordsize}")]
# struct flock (F_GETLK/F_SETLK/F_SETLKW): `long` offsets; 16 bytes on 32-bit ABIs, and on
# 64-bit ones the same as flock64 (32 bytes). flock64 (F_*LK64, OFD locks): 24 bytes on i386,
# 32 on arm, where 64-bit fields are 8-aligned.
FLOCK: list[Field] = [("l_type", "s16"), ("l_whence", "s16"), ("l_start", "long"),
                      ("l_len", "long"), ("l_pid", "s32")]
FLOCK64: list[Field] = [("l_type", "s16"), ("l_whence", "s16"), ("l_start", "s64"),
                        ("l_len", "s64"), ("l_pid", "s32")]
# struct sigaction as rt_sigaction takes it (with SA_RESTORER; riscv64 and mips differ)
SIGACTION: list[Field] = [("sa_handler", "ptr"), ("sa_flags", "ulong"), ("sa_restorer", "ptr"),
                          ("sa_mask", "bytes:8")]
SIGACTION_NO_RESTORER: list[Field] = [("sa_handler", "ptr"), ("sa_flags", "ulong"),
                                      ("sa_mask", "bytes:8")]
STACK_T: list[Field] = [("ss_sp", "ptr"), ("ss_flags", "s32"), ("ss_size", "ulong")]
STAT_FIELD_ORDER = ("st_dev", "st_ino", "st_mode", "st_nlink", "st_uid", "st_gid", "st_rdev",
                    "st_size", "st_blksize", "st_blocks", "st_atime", "st_atime_nsec",
                    "st_mtime", "st_mtime_nsec", "st_ctime", "st_ctime_nsec")
# ---- System V IPC (the IPC_64 structs) ----------------------------------------------------------
# struct ipc64_perm: mode is a u16 followed by two pad bytes on i386 and arm, a u32 elsewhere:
# the same bytes on a little-endian ABI, so one declaration serves.
IPC64_PERM: list[Field] = [("key", "s32"), ("uid", "u32"), ("gid", "u32"), ("cuid", "u32"),
                           ("cgid", "u32"), ("mode", "u32"), ("seq", "u16"), ("pad:2", "pad:2"),
                           ("unused1", "ulong"), ("unused2", "ulong")]
_SPLIT_TIME = ("atime", "dtime", "ctime", "otime", "stime", "rtime")  # *_high on 32-bit ABIs


def _times(names: tuple[str, ...], wide: bool) -> list[Field]:
    if wide:
        return [(n, "long") for n in names]
    return [f for n in names for f in ((n, "ulong"), (f"{n}_high", "ulong"))]


def shmid64(wide: bool) -> list[Field]:
    return [*IPC64_PERM, ("segsz", "ulong"), *_times(("atime", "dtime", "ctime"), wide),
            ("cpid", "s32"), ("lpid", "s32"), ("nattch", "ulong"), ("unused4", "ulong"),
            ("unused5", "ulong")]


def semid64(wide: bool) -> list[Field]:
    return [*IPC64_PERM, *_times(("otime", "ctime"), wide), ("nsems", "ulong"),
            ("unused3", "ulong"), ("unused4", "ulong")]


def msqid64(wide: bool) -> list[Field]:
    return [*IPC64_PERM, *_times(("stime", "rtime", "ctime"), wide), ("cbytes", "ulong"),
            ("qnum", "ulong"), ("qbytes", "ulong"), ("lspid", "s32"), ("lrpid", "s32"),
            ("unused4", "ulong"), ("unused5", "ulong")]


# x86_64's semid64_ds has a spare word after each time
SEMID64_X86_64: list[Field] = [*IPC64_PERM, ("otime", "long"), ("unused1", "ulong"),
                               ("ctime", "long"), ("unused2", "ulong"), ("nsems", "ulong"),
                               ("unused3", "ulong"), ("unused4", "ulong")]
# 32-bit MIPS: the times' high halves at the end (shm: 16 bits each)
SHMID64_MIPS32: list[Field] = [*IPC64_PERM, ("segsz", "ulong"), ("atime", "ulong"),
                               ("dtime", "ulong"), ("ctime", "ulong"), ("cpid", "s32"),
                               ("lpid", "s32"), ("nattch", "ulong"), ("atime_high", "u16"),
                               ("dtime_high", "u16"), ("ctime_high", "u16"), ("pad:2", "pad:2")]
SEMID64_MIPS32: list[Field] = [*IPC64_PERM, ("otime", "ulong"), ("ctime", "ulong"),
                               ("nsems", "ulong"), ("otime_high", "ulong"),
                               ("ctime_high", "ulong")]
