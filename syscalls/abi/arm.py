"""arm EABI ABI data: 32-bit words, 64-bit scalars 8-aligned, ARM open-flag values; stat is
served as stat64 (glibc and musl only use fstat64/fstatat64/statx on EABI)."""

from syscalls.abi import generic
from syscalls.abi.schema import AbiData
from syscalls.abi.structs import STAT64_ARM, STAT_OLD32


class ArmAbi(AbiData):
    ALIGN64 = 8
    STAT = STAT64_ARM
    STAT_OLD = STAT_OLD32  # the old stat/lstat/fstat calls
    OPEN_FLAGS = generic.OPEN_FLAGS | {"O_DIRECTORY": 0x4000, "O_NOFOLLOW": 0x8000,
                                       "O_DIRECT": 0x10000, "O_LARGEFILE": 0x20000}
    CLONE_BACKWARDS = True  # clone(flags, newsp, ptid, tls, ctid)
    EPOLL_PACKED = False
    # 64-bit syscall arguments travel in even/odd register pairs (r2:r3 skipped to r4:r5...)
    PAIR_ALIGN = True
    STATFS64_ALIGN64 = 4  # struct statfs64 is packed to 4-byte alignment (84 bytes)
    SHMLBA = 0x4000  # shmat's address alignment: four pages (VIPT caches)


DATA = ArmAbi()
