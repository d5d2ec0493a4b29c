"""Shared pytest fixtures for the usermode tests.

The logic lives in tests/guestbuild.py (cross builds) and tests/support.py
(running guests, the case table); this file only wires them into pytest.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from guestbuild import GuestBuildError, ToolchainMissing, build_guest
from support import GuestFactory, run_reference, run_usermode

__all__ = ["GuestFactory", "run_reference", "run_usermode"]


def build_or_skip(name: str, arch: str, libc: str = "musl", pie: bool = False) -> Path:
    """build_guest, turning a missing toolchain into a visible skip."""
    try:
        return build_guest(name, arch, libc, pie=pie)
    except ToolchainMissing as exc:
        pytest.skip(f"toolchain missing for {arch}/{libc}: {exc}")
    except GuestBuildError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def guest() -> GuestFactory:
    """Factory: ``guest(name, arch, libc="musl", pie=False) -> Path`` of a built guest."""
    return build_or_skip
