"""Numbers that only some ABIs change (mips: errno, signals, mmap and socket constants,
rlimit resources, fcntl and ioctl requests): compiled once from the arch's data tables into
lookups and argument converters. An ABI with no tables gets empty ones and costs nothing."""

from __future__ import annotations

INVALID = 0x7FFF_FFFF  # a request or resource no handler accepts: EINVAL/ENOTTY as Linux
NO_SIGNAL = 1000  # a guest signal number the host cannot represent: handlers say EINVAL

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from syscalls.abi.schema import AbiData


def _inverse(table: dict[int, int]) -> dict[int, int]:
    """guest -> host for a host -> guest table; a host value that the guest numbers anew
    (and does not reuse) is no request of the guest at all."""
    inv = {g: h for h, g in table.items()}
    for h in table:
        inv.setdefault(h, INVALID)
    return inv


def _bits(pairs: dict[int, int]) -> tuple[Callable[[int], int], Callable[[int], int]]:
    """(from_guest, to_guest) for flag words whose differing bits `pairs` lists host->guest."""
    host_mask = sum(pairs)
    guest_mask = sum(pairs.values())

    def from_guest(v: int) -> int:
        out = v & ~guest_mask
        for h, g in pairs.items():
            if v & g:
                out |= h
        return out

    def to_guest(v: int) -> int:
        out = v & ~host_mask
        for h, g in pairs.items():
            if v & h:
                out |= g
        return out

    return from_guest, to_guest


def _lookup(table: dict[int, int]) -> Callable[[int], int]:
    """A value's translation through `table`, itself where the table has none."""
    def conv(v: int) -> int:
        return table.get(v, v)

    return conv


def setup(abi: Any, data: AbiData) -> None:
    abi.errno_out = dict(data.ERRNO)
    abi.stack_args = data.STACK_ARGS
    sig = data.SIGNALS
    abi.renumbers_signals = bool(sig)
    abi.sig_out = {h: sig.get(h, h) for h in range(1, 65)}
    abi.sig_in = {g: h for h, g in abi.sig_out.items()}
    abi.sigset_size = data.NSIG // 8
    abi.sa_flags_in, abi.sa_flags_out = _bits(data.SA_FLAGS)
    abi.siginfo_code_errno = data.SIGINFO_CODE_ERRNO
    abi.si_codes = data.SI_CODES
    # poll events: guest -> host and host -> guest differ where two host bits share one
    # guest bit (MIPS's POLLWRNORM is POLLOUT)
    abi.poll_in = _bits(data.POLL_EVENTS_IN)[0]
    abi.poll_out = _bits(data.POLL_EVENTS)[1]
    abi.poll_renumbered = bool(data.POLL_EVENTS)
    abi.sol_socket = data.SOL_SOCKET
    abi.sockopts_in = _inverse(data.SOCKOPTS)
    abi.sock_types_out = dict(data.SOCK_TYPES)
    # RLIM_INFINITY in the word-sized struct rlimit, and what the old getrlimit clamps to
    abi.rlim_infinity = data.RLIM_INFINITY if data.RLIM_INFINITY is not None else abi.mask
    abi.old_rlim_infinity = data.OLD_RLIM_INFINITY or abi.rlim_infinity
    abi.ioctls_out = dict(data.IOCTLS)
    abi.nccs = data.NCCS
    abi.termios_cc = data.TERMIOS_CC
    abi.lflag_in, abi.lflag_out = _bits(data.TERMIOS_LFLAG)

    convs: dict[str, Callable[[int], int]] = {}
    if sig:
        sig_in: dict[int, int] = abi.sig_in

        def signal(v: int) -> int:
            return sig_in.get(v, v if v <= 0 else NO_SIGNAL)

        convs["signal"] = signal
    for kind, table in (("sighow", data.SIG_HOW), ("rlimit", data.RLIMITS),
                        ("fcntl_cmd", data.FCNTL_CMDS), ("ioctl", data.IOCTLS)):
        if table:
            convs[kind] = _lookup(_inverse(table))
    if data.MAP_FLAGS:
        convs["map_flags"] = _bits(data.MAP_FLAGS)[0]
    types = data.SOCK_TYPES
    if types:
        inv_types = {g: h for h, g in types.items()}
        convs["socket_type"] = lambda v: (v & ~0xF) | inv_types.get(v & 0xF, v & 0xF)
    abi.arg_convs = convs
