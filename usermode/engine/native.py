"""The compiled core (usermode/engine/_native.c), when it was built and is not switched off.

`USERMODE_NATIVE=0` forces the pure-Python paths, which do all the core does and stay
tested. The core binds to the libunicorn that capi.py loaded, so both drive the same
engines.
"""

from __future__ import annotations

import os
from types import ModuleType

from usermode.engine import capi


def _load() -> ModuleType | None:
    if os.environ.get("USERMODE_NATIVE", "1") == "0":
        return None
    try:
        from usermode.engine import _native  # type: ignore[attr-defined]
    except ImportError:
        return None
    _native.bind(capi.library_handle())
    return _native  # type: ignore[no-any-return]


NATIVE: ModuleType | None = _load()


def describe() -> str:
    """Which path runs, for `usermode --version`."""
    if NATIVE is not None:
        return "compiled core"
    if os.environ.get("USERMODE_NATIVE", "1") == "0":
        return "pure Python (USERMODE_NATIVE=0)"
    return "pure Python (the C core is not built)"


class NativeStopper:
    """The watchdog's stop request, for the core's block hook."""

    def __init__(self, core: object) -> None:
        self._core = core

    def request(self) -> None:
        self._core.request_stop()  # type: ignore[attr-defined]
