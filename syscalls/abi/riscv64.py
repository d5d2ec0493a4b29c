"""riscv64 ABI data: asm-generic stat, the generic (x86) open-flag values."""

from syscalls.abi import generic
from syscalls.abi.schema import AbiData
from syscalls.abi.structs import SIGACTION_NO_RESTORER, STAT_GENERIC


class Riscv64Abi(AbiData):
    ALIGN64 = 8
    STAT = STAT_GENERIC
    OPEN_FLAGS = generic.OPEN_FLAGS
    CLONE_BACKWARDS = True  # clone(flags, newsp, ptid, tls, ctid)
    EPOLL_PACKED = False
    SIGACTION = SIGACTION_NO_RESTORER  # riscv has no SA_RESTORER: the mask follows the flags


DATA = Riscv64Abi()
