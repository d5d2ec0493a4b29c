"""No exception may vanish inside a Unicorn callback (ctypes would print and swallow it and
leave the guest a stale register): a handler that fails or returns anything but an int stops
the engine with the error, which the run loop raises; every Python callback handed to
Unicorn outside the engine's own hooks goes through `Engine.guarded`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from usermode import arch as archmod
from usermode.engine.core import Engine
from usermode.kernel.memory import PROT_R, PROT_X, AddressSpace

REPO = Path(__file__).resolve().parents[2]
SVC = bytes.fromhex("010000d4")  # aarch64: svc #0


def _engine(dispatch):  # type: ignore[no-untyped-def]
    a = archmod.load("aarch64")
    eng = Engine(a)
    top = 0x7F0000000000
    mem = AddressSpace(eng.uc, arena_lo=top - (1 << 30), arena_hi=top, mmap_top=top)
    text = mem.map(0, 4096, PROT_R | PROT_X)
    mem.write(text, SVC * 4, force=True)
    eng.install(dispatch, (1 << 64) - 1, mem.tlb_fill)
    return eng, text


@pytest.mark.parametrize("result", [None, "0", 1.5])
def test_a_handler_returning_a_non_int_stops_the_engine(result: object) -> None:
    eng, text = _engine(lambda nr, args: result)
    eng.run_slice(text)
    assert isinstance(eng.error, TypeError) and "not an int" in str(eng.error)


def test_a_handler_raising_stops_the_engine() -> None:
    def boom(nr: int, args: list[int]) -> int:
        raise KeyError("bug")

    eng, text = _engine(boom)
    eng.run_slice(text)
    assert isinstance(eng.error, KeyError)


def test_callbacks_outside_the_engine_are_guarded() -> None:
    """capi.HOOK_*(fn) outside the engine's own hooks wraps fn in `<engine>.guarded(...)`."""
    seen = 0
    for path in (REPO / "usermode").rglob("*.py"):
        if path.relative_to(REPO).as_posix() in (
                "usermode/engine/core.py", "usermode/engine/capi.py",
                "usermode/engine/preempt.py"):  # (preempt's callback is machine code)
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr.startswith("HOOK_") and node.args:
                seen += 1
                arg = node.args[0]
                ok = isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute) and \
                    arg.func.attr == "guarded"
                assert ok, f"{path}:{node.lineno}: a Unicorn callback without Engine.guarded"
    assert seen >= 3
