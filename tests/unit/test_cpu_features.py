"""Every AT_HWCAP bit we advertise must name instructions that really execute.

(Qiling advertised LSE atomics that Unicorn's default CPU lacked, and glibc died on `casa`.)
Each feature's instructions are assembled with the Debian cross assembler and run on the
same engine configuration the emulator uses.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from usermode import arch as archmod
from usermode.engine.core import Engine
from usermode.kernel.memory import PROT_R, PROT_W, PROT_X, AddressSpace

AS = "aarch64-linux-gnu-as"
OBJCOPY = "aarch64-linux-gnu-objcopy"

# HWCAP bit -> instructions exercising that feature
FEATURES = {
    0: "fadd d0, d1, d2",  # FP
    1: "add v0.4s, v1.4s, v2.4s",  # ASIMD
    3: "aese v0.16b, v1.16b",  # AES
    4: "pmull v0.1q, v1.1d, v2.1d",  # PMULL
    5: "sha1c q0, s1, v2.4s",  # SHA1
    6: "sha256h q0, q1, v2.4s",  # SHA2
    7: "crc32cx w0, w1, x2",  # CRC32
    8: "ldaddal x1, x2, [x3]\n casal x4, x5, [x3]\n swpal x1, x2, [x3]",  # ATOMICS
    11: "mrs x0, midr_el1\n mrs x1, id_aa64isar0_el1",  # CPUID
}


def assemble(tmp: Path, body: str) -> bytes:
    src = tmp / "t.s"
    src.write_text(f".arch armv8.2-a+crypto+crc+lse\n.text\n{body}\nsvc #0\n")
    subprocess.run([AS, str(src), "-o", str(tmp / "t.o")], check=True)
    subprocess.run([OBJCOPY, "-O", "binary", str(tmp / "t.o"), str(tmp / "t.bin")], check=True)
    return (tmp / "t.bin").read_bytes()


@pytest.mark.skipif(shutil.which(AS) is None,
                    reason=f"{AS} not installed (Debian binutils-aarch64-linux-gnu)")
@pytest.mark.parametrize("bit", sorted(FEATURES))
def test_advertised_aarch64_feature_executes(tmp_path: Path, bit: int) -> None:
    a = archmod.load("aarch64")
    assert a.HWCAP & (1 << bit), "test lists a feature we do not advertise"
    code = assemble(tmp_path, FEATURES[bit])
    eng = Engine(a)
    top = 0x7F0000000000
    mem = AddressSpace(eng.uc, arena_lo=top - (1 << 30), arena_hi=top, mmap_top=top)
    text = mem.map(0, 4096, PROT_R | PROT_X)
    data = mem.map(0, 4096, PROT_R | PROT_W)
    mem.write(text, code, force=True)
    calls: list[int] = []

    def on_syscall(nr: int, args: list[int]) -> int:
        calls.append(nr)
        eng.uc.emu_stop()
        return 0

    eng.install(on_syscall, (1 << 64) - 1, mem.tlb_fill)
    eng.set_reg(a.REG_X0 + 3, data)  # x3: a valid address for the atomics
    err = eng.run_slice(text)
    f = mem.last_fault
    assert err == 0 and eng.pending_signal is None, (bit, f and (hex(f.addr), f.access), hex(text))
    assert calls == [0]


def test_advertised_bits_are_all_tested() -> None:
    hwcap = archmod.load("aarch64").HWCAP
    assert {b for b in range(64) if hwcap >> b & 1} == set(FEATURES)
