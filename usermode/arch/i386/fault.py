"""i386 operands decode as x86_64's (usermode/arch/x86_64/fault.py)."""

from usermode.arch.x86_64.fault import address

__all__ = ["address"]
