"""Numbers that only some ABIs change (mips: errno, signals, mmap and socket constants,
rlimit resources, fcntl and ioctl requests): compiled once from the arch's data tables into
lookups and argument converters. An ABI with no tables gets empty ones and costs nothing."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

INVALID = 0x7FFF_FFFF  # a request or resource no handler accepts: EINVAL/ENOTTY as Linux
NO_SIGNAL = 1000  # a guest signal number the host cannot represent: handlers say EINVAL


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


def setup(abi: Any, data: ModuleType) -> None:
    abi.errno_out = dict(getattr(data, "ERRNO", {}))
    abi.stack_args = getattr(data, "STACK_ARGS", None)
    sig = getattr(data, "SIGNALS", {})
    abi.renumbers_signals = bool(sig)
    abi.sig_out = {h: sig.get(h, h) for h in range(1, 65)}
    abi.sig_in = {g: h for h, g in abi.sig_out.items()}
    abi.sigset_size = getattr(data, "NSIG", 64) // 8
    abi.sa_flags_in, abi.sa_flags_out = _bits(getattr(data, "SA_FLAGS", {}))
    abi.siginfo_code_errno = getattr(data, "SIGINFO_CODE_ERRNO", (8, 4))
    # poll events: guest -> host and host -> guest differ where two host bits share one
    # guest bit (MIPS's POLLWRNORM is POLLOUT)
    abi.poll_in = _bits(getattr(data, "POLL_EVENTS_IN", {}))[0]
    abi.poll_out = _bits(getattr(data, "POLL_EVENTS", {}))[1]
    abi.poll_renumbered = bool(getattr(data, "POLL_EVENTS", {}))
    abi.sol_socket = getattr(data, "SOL_SOCKET", 1)
    abi.sockopts_in = _inverse(getattr(data, "SOCKOPTS", {}))
    abi.sock_types_out = dict(getattr(data, "SOCK_TYPES", {}))
    # RLIM_INFINITY in the word-sized struct rlimit, and what the old getrlimit clamps to
    abi.rlim_infinity = getattr(data, "RLIM_INFINITY", abi.mask)
    abi.old_rlim_infinity = getattr(data, "OLD_RLIM_INFINITY", abi.rlim_infinity)
    abi.ioctls_out = dict(getattr(data, "IOCTLS", {}))
    abi.nccs = getattr(data, "NCCS", 19)
    abi.termios_cc = getattr(data, "TERMIOS_CC", {})
    abi.lflag_in, abi.lflag_out = _bits(getattr(data, "TERMIOS_LFLAG", {}))

    convs: dict[str, Callable[[int], int]] = {}
    if sig:
        sig_in = abi.sig_in

        def signal(v: int) -> int:
            return sig_in.get(v, v if v <= 0 else NO_SIGNAL)

        convs["signal"] = signal
    for kind, name in (("sighow", "SIG_HOW"), ("rlimit", "RLIMITS"), ("fcntl_cmd", "FCNTL_CMDS"),
                       ("ioctl", "IOCTLS")):
        table = getattr(data, name, None)
        if table:
            inv = _inverse(table)
            convs[kind] = lambda v, inv=inv: inv.get(v, v)
    if hasattr(data, "MAP_FLAGS"):
        convs["map_flags"] = _bits(data.MAP_FLAGS)[0]
    types = getattr(data, "SOCK_TYPES", None)
    if types:
        inv_types = {g: h for h, g in types.items()}
        convs["socket_type"] = lambda v: (v & ~0xF) | inv_types.get(v & 0xF, v & 0xF)
    abi.arg_convs = convs
