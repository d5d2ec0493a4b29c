"""The guest arches: one package each (`usermode/arch/<name>/`), whose `SPEC` is an ArchSpec
(usermode/arch/spec.py); `load` picks one by name."""

from __future__ import annotations

from usermode.host.lean import import_module

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.arch.spec import ArchSpec

SUPPORTED = ("aarch64", "x86_64", "riscv64", "arm", "mipsel", "i386", "armel", "s390x")


def load(arch: str) -> ArchSpec:
    """The spec of guest `arch`; KeyError for one we do not run."""
    if arch not in SUPPORTED:
        raise KeyError(arch)
    spec: ArchSpec = import_module(f"usermode.arch.{arch}").SPEC
    return spec
