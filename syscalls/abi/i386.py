"""i386 ABI data: 32-bit words, 64-bit scalars only 4-aligned (stat64 is 96 bytes), x86
open-flag values, a naturally 12-byte epoll_event; 64-bit arguments in unaligned pairs."""

from syscalls.abi import generic
from syscalls.abi.schema import AbiData
from syscalls.abi.structs import STAT64_ARM, STAT_OLD32


class I386Abi(AbiData):
    ALIGN64 = 4
    STAT = STAT64_ARM  # the same fields; with 4-byte alignment for 64-bit ones it is i386's
    STAT_OLD = STAT_OLD32  # the old stat/lstat/fstat calls
    OPEN_FLAGS = generic.OPEN_FLAGS
    CLONE_BACKWARDS = True  # clone(flags, newsp, ptid, tls, ctid)
    EPOLL_PACKED = True  # 12 bytes: u64 data 4-aligned after the u32 events
    PAIR_ALIGN = False
    OLD_RLIM_INFINITY = 0x7FFFFFFF  # getrlimit (76) clamps to it; ugetrlimit (191) does not


DATA = I386Abi()
