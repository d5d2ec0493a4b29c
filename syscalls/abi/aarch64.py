"""aarch64 ABI data: asm-generic stat, ARM open-flag values."""

from syscalls.abi import generic
from syscalls.abi.schema import AbiData
from syscalls.abi.structs import STAT_GENERIC


class Aarch64Abi(AbiData):
    ALIGN64 = 8
    STAT = STAT_GENERIC
    OPEN_FLAGS = generic.OPEN_FLAGS | {"O_DIRECTORY": 0x4000, "O_NOFOLLOW": 0x8000,
                                       "O_DIRECT": 0x10000, "O_LARGEFILE": 0x20000}
    CLONE_BACKWARDS = True  # clone(flags, newsp, ptid, tls, ctid)
    EPOLL_PACKED = False  # struct epoll_event is __attribute__((packed)) (12 bytes)


DATA = Aarch64Abi()
