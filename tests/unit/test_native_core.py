"""The compiled core's helpers give what their pure-Python versions give."""

from __future__ import annotations

import random

import pytest

from usermode.engine import tbsplit
from usermode.engine.native import NATIVE


@pytest.mark.skipif(NATIVE is None, reason="the compiled core is not built or is switched off")
def test_mips_split_points_as_python() -> None:
    rnd = random.Random(3)
    lw = 0x23 << 26  # a load: never ends a block
    for _ in range(300):
        words = bytearray()
        for _ in range(rnd.randint(0, 3000)):
            roll = rnd.random()
            w = 0 if roll < 0.2 else rnd.getrandbits(32) if roll < 0.22 else \
                lw | rnd.getrandbits(26)
            words += w.to_bytes(4, "little")
        code = memoryview(bytes(words))
        assert NATIVE.split_points(code, 0x400000, tbsplit.SPLIT, tbsplit.LONG) == \
            tbsplit._split_points(code, 0x400000)
