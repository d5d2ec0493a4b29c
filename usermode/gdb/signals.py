"""gdb's own signal numbers (its gdb/signals.def), which the remote protocol speaks, for
Linux's. Data and two lookups."""

from __future__ import annotations

# Linux signal -> gdb signal, for 1..31 (the numbering our kernel layer uses on every arch)
_TO_GDB = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 10, 8: 8, 9: 9, 10: 30, 11: 11, 12: 31,
           13: 13, 14: 14, 15: 15, 17: 20, 18: 19, 19: 17, 20: 18, 21: 21, 22: 22, 23: 16,
           24: 24, 25: 25, 26: 26, 27: 27, 28: 28, 29: 23, 30: 32, 31: 12}
_FROM_GDB = {g: s for s, g in _TO_GDB.items()}
GDB_UNKNOWN = 143
GDB_REALTIME_32 = 77
GDB_REALTIME_33 = 45  # 33..63 follow on from here


def to_gdb(signo: int) -> int:
    if signo in _TO_GDB:
        return _TO_GDB[signo]
    if signo == 32:
        return GDB_REALTIME_32
    if 33 <= signo <= 63:
        return GDB_REALTIME_33 + signo - 33
    return GDB_UNKNOWN


def from_gdb(gdb_signo: int) -> int:
    """The Linux signal for gdb's number; 0 for none or one Linux does not have."""
    if gdb_signo in _FROM_GDB:
        return _FROM_GDB[gdb_signo]
    if gdb_signo == GDB_REALTIME_32:
        return 32
    if GDB_REALTIME_33 <= gdb_signo <= GDB_REALTIME_33 + 30:
        return 33 + gdb_signo - GDB_REALTIME_33
    return 0
