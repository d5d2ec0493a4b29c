"""`-cpu help`: the CPU models Unicorn offers per guest arch, the one usermode runs marked.

usermode always runs the most capable model that works for user programs (docs/abi.md §5.4); -cpu
MODEL is accepted for qemu compatibility and checked against this list."""

from __future__ import annotations

import importlib

from usermode import arch as archmod


def models(arch: str) -> dict[str, int]:
    """model name (qemu-style, lower case) -> Unicorn's number."""
    spec = archmod.load(arch)
    consts = importlib.import_module(f"unicorn.{spec.UNICORN_CONSTS}")
    prefix = spec.UNICORN_CPU_PREFIX
    return {n[len(prefix):].lower().replace("_", "-"): int(getattr(consts, n))
            for n in dir(consts) if n.startswith(prefix) and not n.endswith("_ENDING")}


def known(name: str) -> bool:
    """A model name qemu or Unicorn would know (Unicorn says a72 where qemu says
    cortex-a72)."""
    low = name.lower()
    short = low.removeprefix("cortex-")
    return low in ("max", "host", "any") or any(
        low in models(a) or short in models(a) for a in archmod.SUPPORTED)


def help_text() -> str:
    lines = ["Available CPUs (usermode runs the one marked * on each arch):"]
    for arch in archmod.SUPPORTED:
        used = archmod.load(arch).CPU_MODEL
        names = sorted(models(arch).items(), key=lambda kv: kv[1])
        shown = " ".join(f"{n}{'*' if v == used else ''}" for n, v in names)
        lines.append(f"  {arch}: {shown}")
    return "\n".join(lines) + "\n"
