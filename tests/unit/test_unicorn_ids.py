"""Every Unicorn number we type by hand (our thin binding and the arch specs avoid importing
the `unicorn` package at start-up) equals the `unicorn` package's own constant."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from usermode import arch as archmod
from usermode.engine import capi

unicorn_const = pytest.importorskip("unicorn.unicorn_const", reason="the unicorn package")

# arch -> (constants module, register prefix, UC_ARCH name, UC_MODE names, CPU model name)
EXPECTED = {
    "aarch64": ("arm64_const", "UC_ARM64_REG_", "UC_ARCH_ARM64", ("UC_MODE_ARM",),
                "UC_CPU_ARM64_MAX"),
    "arm": ("arm_const", "UC_ARM_REG_", "UC_ARCH_ARM", ("UC_MODE_ARM",),
            "UC_CPU_ARM_CORTEX_A15"),
    "x86_64": ("x86_const", "UC_X86_REG_", "UC_ARCH_X86", ("UC_MODE_64",),
               "UC_CPU_X86_HASWELL"),
    "i386": ("x86_const", "UC_X86_REG_", "UC_ARCH_X86", ("UC_MODE_32",), "UC_CPU_X86_HASWELL"),
    "riscv64": ("riscv_const", "UC_RISCV_REG_", "UC_ARCH_RISCV", ("UC_MODE_RISCV64",),
                "UC_CPU_RISCV64_SIFIVE_U54"),
    "mipsel": ("mips_const", "UC_MIPS_REG_", "UC_ARCH_MIPS",
               ("UC_MODE_MIPS32", "UC_MODE_LITTLE_ENDIAN"), "UC_CPU_MIPS32_74KF"),
}
# our names that Unicorn spells otherwise
RENAMED = {("arm", "TPIDRURO"): "C13_C0_3", ("mipsel", "USERLOCAL"): "CP0_USERLOCAL"}
# spec attributes that are other registers under a role's name, or not register ids
NOT_REGISTERS = {"REG_PC_ID", "REG_SP_ID"}


def _consts(arch: str) -> ModuleType:
    return importlib.import_module(f"unicorn.{EXPECTED[arch][0]}")


@pytest.mark.parametrize("arch", sorted(EXPECTED))
def test_arch_spec_ids(arch: str) -> None:
    spec = archmod.load(arch)
    consts = _consts(arch)
    _module, prefix, uc_arch, modes, cpu = EXPECTED[arch]
    assert spec.UC_ARCH == getattr(unicorn_const, uc_arch)
    mode = 0
    for m in modes:
        mode |= getattr(unicorn_const, m)
    assert spec.UC_MODE == mode
    assert spec.CPU_MODEL == getattr(consts, cpu)
    names = [n for n in dir(spec) if n.startswith("REG_") and n not in NOT_REGISTERS]
    assert names
    for name in names:
        suffix = RENAMED.get((arch, name[4:]), name[4:])
        assert getattr(spec, name) == getattr(consts, prefix + suffix), name
    every = {getattr(consts, n) for n in dir(consts) if n.startswith(prefix)}
    for group in ("GPRS", "SYSCALL_ARG_REGS"):
        assert set(getattr(spec, group)) <= every, group
    for name in ("REG_PC_ID", "REG_SP_ID", "SYSCALL_NR_REG", "SYSCALL_RET_REG", "TLS_REG"):
        assert getattr(spec, name) in every, name
    if getattr(spec, "SYSCALL_INSN", None) is not None:
        assert spec.SYSCALL_INSN == consts.UC_X86_INS_SYSCALL


def test_capi_constants() -> None:
    checked = 0
    for name in dir(capi):
        bare = name.lstrip("_")
        if not bare.startswith("UC_") or not isinstance(getattr(capi, name), int):
            continue
        assert hasattr(unicorn_const, bare), f"capi.{name} has no unicorn counterpart"
        assert getattr(capi, name) == getattr(unicorn_const, bare), name
        checked += 1
    assert checked > 40


def test_compiled_core_constants() -> None:
    """The numbers usermode/engine/_native.c types by hand are Unicorn's (one of them, the
    TLB flush request, once asked for a translation-cache flush instead)."""
    import re
    from pathlib import Path

    x86_const = importlib.import_module("unicorn.x86_const")
    source = (Path(capi.__file__).parent / "_native.c").read_text()
    found = re.findall(r"^#define (UC_\w+) (\(1 << \d+\)|\d+)$", source, re.M)
    assert len(found) >= 9
    for name, text in found:
        value = eval(text)  # an int or (1 << n), as matched above
        want = getattr(unicorn_const, name, None)
        if want is None:
            want = getattr(x86_const, name)
        assert value == want, f"{name} is {value} in _native.c, {want} in Unicorn"
