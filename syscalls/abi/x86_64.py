"""x86_64 ABI data: identical to the host."""

from syscalls.abi import generic
from syscalls.abi.schema import AbiData
from syscalls.abi.structs import SEMID64_X86_64, STAT_X86_64


class X86_64Abi(AbiData):
    ALIGN64 = 8
    STAT = STAT_X86_64
    SEMID64 = SEMID64_X86_64  # a spare word after each time
    OPEN_FLAGS = generic.OPEN_FLAGS
    CLONE_BACKWARDS = False  # clone(flags, newsp, ptid, ctid, tls)
    EPOLL_PACKED = True  # struct epoll_event is __attribute__((packed)) (12 bytes)


DATA = X86_64Abi()
