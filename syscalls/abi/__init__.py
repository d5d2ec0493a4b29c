"""One guest ABI: word size, byte order, struct layouts and flag translation, built once.

Handlers speak host values; they cross the boundary only through `to_guest_*` and
`from_guest_*` here. Per-arch facts live in the data modules `syscalls/abi/<arch>.py`.
"""

from __future__ import annotations

import errno
import os

from syscalls.abi import generic, numbering, structs
from syscalls.abi.schema import AbiData
from syscalls.abi.structs import Layout
from usermode.arch import load as load_arch
from usermode.host.lean import import_module, memoize
from usermode.kernel.errors import Errno

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Literal


class _Shape:
    """An ABI's shape with another alignment for 64-bit fields (a packed struct)."""

    def __init__(self, abi: Abi, align64: int) -> None:
        self.wordsize, self.little_endian, self.align64 = abi.wordsize, abi.little_endian, align64


class Abi:
    # set by numbering.setup from the data module's tables (identity where there are none)
    errno_out: dict[int, int]
    stack_args: int | None
    renumbers_signals: bool
    sig_out: dict[int, int]
    sig_in: dict[int, int]
    sigset_size: int
    sa_flags_in: Callable[[int], int]
    sa_flags_out: Callable[[int], int]
    siginfo_code_errno: tuple[int, int]
    si_codes: dict[int, int]  # host si_code -> the guest's, where they differ
    poll_in: Callable[[int], int]
    poll_out: Callable[[int], int]
    poll_renumbered: bool
    sol_socket: int
    sockopts_in: dict[int, int]
    sock_types_out: dict[int, int]
    rlim_infinity: int
    old_rlim_infinity: int
    ioctls_out: dict[int, int]
    nccs: int
    termios_cc: dict[int, int]
    lflag_in: Callable[[int], int]
    lflag_out: Callable[[int], int]
    arg_convs: dict[str, Callable[[int], int]]

    def __init__(self, arch: str) -> None:
        spec = load_arch(arch)
        self.family = spec.FAMILY or arch  # whose syscall table and ABI data this arch uses
        data: AbiData = import_module(f"syscalls.abi.{self.family}").DATA
        self.arch = arch
        self.wordsize: int = spec.WORDSIZE
        self.little_endian: bool = spec.LITTLE_ENDIAN
        self.align64: int = data.ALIGN64
        self.mask = (1 << (8 * self.wordsize)) - 1
        self.byteorder: Literal["little", "big"] = "little" if self.little_endian else "big"
        self.stat = Layout(data.STAT, self)
        self.timespec = Layout(structs.TIMESPEC, self)
        self.timeval = Layout(structs.TIMEVAL, self)
        self.timezone = Layout(structs.TIMEZONE, self)
        self.iovec = Layout(structs.IOVEC, self)
        self.rlimit = Layout(structs.RLIMIT, self)
        self.rlimit64 = Layout(structs.RLIMIT64, self)
        self.winsize = Layout(structs.WINSIZE, self)
        self.tms = Layout(structs.TMS, self)
        # sysinfo ends in char _f[20 - 2 * sizeof(long) - 4]: 8 bytes on 32-bit ABIs
        self.sysinfo = Layout([*structs.SYSINFO, ("pad:f", f"pad:{20 - 2 * self.wordsize - 4}")]
                              if self.wordsize == 4 else structs.SYSINFO, self)
        self.clone_args = Layout(structs.CLONE_ARGS, self)
        self.stat_old = Layout(data.STAT_OLD, self) if data.STAT_OLD else None
        spare = 5 if data.STATFS else 4
        self.statfs = Layout(data.STATFS or (structs.with_spare(
            structs.STATFS, spare, self.wordsize)), self)
        shape64 = _Shape(self, data.STATFS64_ALIGN64 or self.align64)
        self.statfs64 = Layout(data.STATFS64 or (structs.with_spare(
            structs.STATFS64, spare, self.wordsize)), shape64)
        wide = self.wordsize == 8
        self.shmlba = data.SHMLBA  # shmat's address alignment
        self.shmid64 = Layout(data.SHMID64 or structs.shmid64(wide), self)
        self.semid64 = Layout(data.SEMID64 or structs.semid64(wide), self)
        self.msqid64 = Layout(structs.msqid64(wide), self)
        self.flock = Layout(data.FLOCK or structs.FLOCK, self)
        self.flock64 = Layout(structs.FLOCK64, self)
        # clone's argument order: tls before child_tid (CONFIG_CLONE_BACKWARDS) or after
        self.clone_backwards: bool = data.CLONE_BACKWARDS
        self.clone_sp_first: bool = data.CLONE_SP_FIRST
        self.ipc_five_args: bool = data.IPC_FIVE_ARGS
        self.epoll_packed: bool = data.EPOLL_PACKED
        self.pair_align = data.PAIR_ALIGN
        self._word = {4: "I", 8: "Q"}[self.wordsize]
        # open flags: (guest bit, host bit) pairs for the bits that differ
        pairs = [(data.OPEN_FLAGS[k], generic.OPEN_FLAGS[k]) for k in generic.OPEN_FLAGS]
        self._oflag_pairs = [(g, h) for g, h in pairs if g != h]
        self._oflag_guest_mask = sum(g for g, _ in self._oflag_pairs)
        self._oflag_host_mask = sum(h for _, h in self._oflag_pairs)
        self.O_DIRECTORY: int = data.OPEN_FLAGS["O_DIRECTORY"]
        self.O_NOFOLLOW: int = data.OPEN_FLAGS["O_NOFOLLOW"]
        numbering.setup(self, data)
        self.sigaction = Layout(data.SIGACTION or structs.SIGACTION, self)
        self.stack_t = Layout(data.STACK_T or structs.STACK_T, self)

    def with_time64(self) -> Abi:
        """This ABI as the *_time64 syscalls of 32-bit guests see it: 64-bit timespecs."""
        view = object.__new__(Abi)
        view.__dict__.update(self.__dict__)
        view.timespec = Layout(structs.KERNEL_TIMESPEC, self)
        return view

    # ---- scalars -------------------------------------------------------------------------------
    def s32(self, v: int) -> int:
        v &= 0xFFFFFFFF
        return v - (1 << 32) if v & 0x80000000 else v

    def sword(self, v: int) -> int:
        v &= self.mask
        return v - (self.mask + 1) if v >> (8 * self.wordsize - 1) else v

    def pack_word(self, v: int) -> bytes:
        return (v & self.mask).to_bytes(self.wordsize, self.byteorder)

    def unpack_words(self, data: bytes) -> list[int]:
        n = len(data) // self.wordsize
        import struct

        return list(struct.unpack(("<" if self.little_endian else ">") + self._word * n, data))

    # ---- flags ---------------------------------------------------------------------------------
    def from_guest_open_flags(self, flags: int) -> int:
        if not self._oflag_pairs:
            return flags
        out = flags & ~self._oflag_guest_mask
        for g, h in self._oflag_pairs:
            if flags & g:
                out |= h
        return out

    def to_guest_open_flags(self, flags: int) -> int:
        if not self._oflag_pairs:
            return flags
        out = flags & ~self._oflag_host_mask
        for g, h in self._oflag_pairs:
            if flags & h:
                out |= g
        return out

    def to_guest_errno(self, err: int) -> int:
        return self.errno_out.get(err, err) if self.errno_out else err

    # ---- sockets -------------------------------------------------------------------------------
    def from_guest_sockopt(self, level: int, name: int) -> tuple[int, int]:
        """(level, optname) in host numbers (mips numbers SOL_SOCKET and its SO_* anew)."""
        if self.sockopts_in and level == self.sol_socket:
            return 1, self.sockopts_in.get(name, name)
        return level, name

    # ---- signals -------------------------------------------------------------------------------
    def sig_to_guest(self, signo: int) -> int:
        return self.sig_out.get(signo, signo) if self.renumbers_signals else signo

    def from_guest_sigset(self, raw: bytes | memoryview) -> int:
        """A guest sigset_t -> our mask (bit signo-1, host numbering)."""
        v = int.from_bytes(raw[:self.sigset_size], self.byteorder)
        if not self.renumbers_signals:
            return v & 0xFFFF_FFFF_FFFF_FFFF
        out = 0
        while v:
            low = v & -v
            v ^= low
            h = self.sig_in.get(low.bit_length())
            if h is not None:
                out |= 1 << (h - 1)
        return out

    def to_guest_sigset(self, mask: int) -> bytes:
        if self.renumbers_signals:
            out = 0
            while mask:
                low = mask & -mask
                mask ^= low
                out |= 1 << (self.sig_out[low.bit_length()] - 1)
            mask = out
        return mask.to_bytes(self.sigset_size, self.byteorder)

    def to_guest_wait_status(self, status: int) -> int:
        """A host wait status with the signal numbers (WTERMSIG, WSTOPSIG) the guest's."""
        if not self.renumbers_signals:
            return status
        low = status & 0x7F
        if low == 0x7F:  # stopped: the signal is in bits 8..15
            return (status & ~0xFF00) | self.sig_to_guest((status >> 8) & 0xFF) << 8
        if low:  # killed
            return (status & ~0x7F) | self.sig_to_guest(low)
        return status

    def from_guest_sigaction(self, raw: bytes) -> tuple[int, int, int, int]:
        """(handler, flags, restorer, mask) of a guest struct sigaction, in host terms."""
        d = self.sigaction.unpack_dict(raw)
        mask = d["sa_mask"]
        assert isinstance(mask, bytes)
        return (int(d["sa_handler"]), self.sa_flags_in(int(d["sa_flags"])),
                int(d.get("sa_restorer", 0)), self.from_guest_sigset(mask))

    def from_guest_stack_t(self, raw: bytes) -> tuple[int, int, int]:
        """(ss_sp, ss_flags, ss_size) of a guest stack_t."""
        d = self.stack_t.unpack_dict(raw)
        return int(d["ss_sp"]), int(d["ss_flags"]), int(d["ss_size"])

    def to_guest_stack_t(self, sp: int, flags: int, size: int) -> bytes:
        return self.stack_t.pack_wrapped(*({"ss_sp": sp, "ss_flags": flags, "ss_size": size}[n]
                                           for n in self.stack_t.names))

    # ---- structs ---------------------------------------------------------------------------------
    def to_guest_stat(self, st: os.stat_result) -> bytes:
        values = _stat_values(st)
        return self.stat.pack_wrapped(*(values[n] for n in self.stat.names))

    def to_guest_old_stat(self, st: os.stat_result) -> bytes:
        """The 32-bit struct stat of the old stat/lstat/fstat calls, with the checks a 64-bit
        kernel makes for them (cp_compat_stat): EOVERFLOW for what the fields cannot hold,
        ids above 65535 as the overflow id where the fields are 16-bit."""
        layout = self.stat_old
        assert layout is not None
        if not (_old_valid_dev(st.st_dev) and _old_valid_dev(st.st_rdev)) \
                or st.st_ino > 0xFFFFFFFF or st.st_size > 0x7FFFFFFF:
            raise Errno(errno.EOVERFLOW)
        values = _stat_values(st)
        values["st_dev"] = _old_encode_dev(st.st_dev)
        values["st_rdev"] = _old_encode_dev(st.st_rdev)
        if layout.offsets["st_uid"] - layout.offsets["st_nlink"] == 2:  # 16-bit fields
            if st.st_nlink > 0xFFFF:
                raise Errno(errno.EOVERFLOW)
            for k in ("st_uid", "st_gid"):
                if values[k] > 0xFFFF:
                    values[k] = OVERFLOW_ID
        return layout.pack_wrapped(*(values[n] for n in layout.names))

    def to_guest_statfs(self, host: dict[str, int], wide: bool) -> bytes:
        """A guest struct statfs (or statfs64 when `wide`) from the host's values; a 32-bit
        statfs refuses counts that do not fit, as the kernel does (f_files and f_ffree may
        be -1, "unknown")."""
        layout = self.statfs64 if wide else self.statfs
        if not wide and self.wordsize == 4:
            big = [host[k] for k in ("f_blocks", "f_bfree", "f_bavail", "f_bsize", "f_frsize")]
            big += [host[k] for k in ("f_files", "f_ffree") if host[k] != (1 << 64) - 1]
            if any(v >> 32 for v in big):
                raise Errno(errno.EOVERFLOW)
        return layout.pack_wrapped(*(host[n] for n in layout.names))

    def to_guest_timespec(self, ns: int) -> bytes:
        return self.timespec.pack(ns // 1_000_000_000, ns % 1_000_000_000)

    def from_guest_timespec(self, data: bytes | memoryview) -> tuple[int, int]:
        sec, nsec = self.timespec.unpack(data)  # signed fields: long, or s64 for time64
        if self.wordsize == 4:
            # a 32-bit task's tv_nsec is a long: the kernel drops the upper half of a 64-bit
            # timespec's, which C libraries leave as padding (glibc: uninitialised)
            nsec = self.s32(int(nsec))
        return int(sec), int(nsec)


OVERFLOW_ID = 65534  # /proc/sys/kernel/overflowuid: an id a 16-bit field cannot hold


def _old_valid_dev(dev: int) -> bool:
    return os.major(dev) < 256 and os.minor(dev) < 256


def _old_encode_dev(dev: int) -> int:
    return os.major(dev) << 8 | os.minor(dev)


def _stat_values(st: os.stat_result) -> dict[str, int]:
    values = {
        "st_dev": st.st_dev, "st_ino": st.st_ino, "st_mode": st.st_mode,
        "st_nlink": st.st_nlink, "st_uid": st.st_uid, "st_gid": st.st_gid,
        "st_rdev": st.st_rdev, "st_size": st.st_size, "st_blksize": st.st_blksize,
        "st_blocks": st.st_blocks,
        "st_atime": int(st.st_atime_ns // 1_000_000_000),
        "st_atime_nsec": st.st_atime_ns % 1_000_000_000,
        "st_mtime": int(st.st_mtime_ns // 1_000_000_000),
        "st_mtime_nsec": st.st_mtime_ns % 1_000_000_000,
        "st_ctime": int(st.st_ctime_ns // 1_000_000_000),
        "st_ctime_nsec": st.st_ctime_ns % 1_000_000_000,
        "__st_ino": st.st_ino & 0xFFFFFFFF,
    }
    return values


@memoize
def get(arch: str) -> Abi:
    return Abi(arch)
