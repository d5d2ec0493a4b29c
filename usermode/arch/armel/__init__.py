"""armel (EABI, soft-float: ARMv5TE and up) guest: arm's ISA, syscalls and frames; another
C library ABI, so another sysroot and ld.so. Data only."""

from usermode.arch.arm import Arm


class Armel(Arm):
    NAME = "armel"
    FAMILY = "arm"
    TRIPLE = "arm-linux-gnueabi"


SPEC = Armel()
