"""Per-arch engine data. Each module holds constants only; `load` picks one by name."""

from __future__ import annotations

import importlib
from types import ModuleType

SUPPORTED = ("aarch64", "x86_64", "riscv64", "arm", "mipsel", "i386")


def load(arch: str) -> ModuleType:
    if arch not in SUPPORTED:
        raise KeyError(arch)
    return importlib.import_module(f"usermode.arch.{arch}")


def frame(arch: str) -> ModuleType:
    """The arch's signal frame code (see usermode/arch/sigframe.py)."""
    if arch not in SUPPORTED:
        raise KeyError(arch)
    return importlib.import_module(f"usermode.arch.{arch}.frame")
