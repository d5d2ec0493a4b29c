"""The compiled core (usermode/engine/_native.c), when it was built and is not switched off.

`USERMODE_NATIVE=0` forces the pure-Python paths, which do all the core does and stay
tested. The core binds to the libunicorn that capi.py loaded, so both drive the same
engines.
"""

from __future__ import annotations

import os
from types import ModuleType

from usermode.engine import capi

_why_not = ""


def _load() -> ModuleType | None:
    global _why_not
    if os.environ.get("USERMODE_NATIVE", "1") == "0":
        _why_not = "USERMODE_NATIVE=0"
        return None
    try:
        from usermode.engine import _native  # type: ignore[attr-defined]
    except ImportError as e:
        _why_not = f"the compiled core is not built: {e}"
        return None
    _native.bind(capi.library_handle())
    return _native  # type: ignore[no-any-return]


NATIVE: ModuleType | None = _load()


def _codes(prefix: str) -> dict[str, int]:
    """The core's own enum values (CONV_*, FAST_*), by lower-case name."""
    if NATIVE is None:
        return {}
    return {k[len(prefix):].lower(): v for k, v in vars(NATIVE).items()
            if k.startswith(prefix) and isinstance(v, int)}


# argument conversions and calls served in C, as the core numbers them
CONV: dict[str, int] = _codes("CONV_")
FAST: dict[str, int] = _codes("FAST_")
FD_CHECK: dict[str, int] = _codes("FD_CHECK_")


def describe() -> str:
    """Which path runs, for `usermode --version`."""
    if NATIVE is not None:
        return "compiled core"
    return f"pure Python: {_why_not}"


class NativeStopper:
    """The watchdog's stop request, for the core's block hook."""

    def __init__(self, core: object) -> None:
        self._core = core

    def request(self) -> None:
        self._core.request_stop()  # type: ignore[attr-defined]
