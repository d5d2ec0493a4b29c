"""The style rules CI enforces: ruff is clean over the whole repository, and mypy (configured
in pyproject.toml: strict on syscalls/ and loaders/) over the product code."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_ruff_is_clean() -> None:
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    p = subprocess.run([sys.executable, "-m", "ruff", "check", str(REPO)], capture_output=True,
                       text=True, cwd=REPO)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]


def test_mypy_is_clean() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install -e '.[test]')")
    p = subprocess.run([sys.executable, "-m", "mypy"], capture_output=True, text=True, cwd=REPO,
                       timeout=1200)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-2000:]
