"""The Python API: `from usermode import Emulator`, syscall and address hooks, trace events,
errors that name the hook, and a guest that dies of a signal without killing us."""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path

import pytest

from usermode import Emulator, EmulatorError, HookError, SignalEvent, SyscallEvent


def emulator(*argv: object, **kw: object) -> Emulator:
    """An Emulator whose stdout goes to a temporary file (`output(emu)` reads it)."""
    out = tempfile.TemporaryFile()
    emu = Emulator([str(a) for a in argv], stdout=out, **kw)  # type: ignore[arg-type]
    emu.test_out = out  # type: ignore[attr-defined]
    return emu


def run(emu: Emulator) -> tuple[int, bytes]:
    status = emu.run()
    out = emu.test_out  # type: ignore[attr-defined]
    out.seek(0)
    return status, out.read()


@pytest.mark.parametrize("arch", ("aarch64", "x86_64"))
def test_run_and_events(guest, arch: str) -> None:  # type: ignore[no-untyped-def]
    emu = emulator(guest("api", arch), trace=True)
    status, out = run(emu)
    assert status == 3
    lines = out.decode().splitlines()
    assert lines[0] == f"acct=-1 errno={38}"
    assert lines[1] == f"pid={os.getpid()}"
    assert lines[2] == "done"
    calls = [e for e in emu.events if isinstance(e, SyscallEvent)]
    acct = next(e for e in calls if e.name == "acct")
    assert acct.ret == -38 and acct.errno == "ENOSYS" and acct.arch == arch
    write = next(e for e in calls if e.name == "write")
    assert write.args == ("1", '"done\\n"', "5") and write.ret == 5
    assert calls[-1].name == "exit_group" or all(e.name != "exit_group" for e in calls)


def test_hooks_change_arguments_and_results(guest) -> None:  # type: ignore[no-untyped-def]
    emu = emulator(guest("api", "aarch64"))
    seen: list[tuple[str, int]] = []

    def shorter(ctx):  # type: ignore[no-untyped-def]
        seen.append((ctx.read(ctx.args[1], ctx.args[2]).decode(), ctx.tid))
        ctx.args[2] = 2

    def after(ctx):  # type: ignore[no-untyped-def]
        seen.append(("ret", ctx.ret))

    emu.hook_syscall("write", before=shorter, after=after)
    emu.hook_syscall("getpid", replace=lambda ctx: 77)
    emu.hook_syscall("acct", replace=lambda ctx: 7)  # not implemented by the emulator
    status, out = run(emu)
    assert status == 3
    assert out.decode().splitlines() == ["acct=7 errno=0", "pid=77", "do"]
    assert seen[-2] == ("done\n", os.getpid()) and seen[-1] == ("ret", 2)


def test_replace_can_fail_with_an_errno(guest) -> None:  # type: ignore[no-untyped-def]
    emu = emulator(guest("api", "x86_64"))
    emu.hook_syscall("acct", replace=lambda ctx: -1)  # EPERM
    _, out = run(emu)
    assert out.decode().splitlines()[0] == "acct=-1 errno=1"


def test_a_hook_that_raises_names_itself(guest) -> None:  # type: ignore[no-untyped-def]
    def broken(ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    emu = emulator(guest("api", "aarch64"))
    emu.hook_syscall("getpid", before=broken)
    with pytest.raises(HookError) as e:
        run(emu)
    assert "broken" in str(e.value) and "before getpid" in str(e.value)
    assert "RuntimeError: boom" in str(e.value)
    assert isinstance(e.value.__cause__, RuntimeError)


@pytest.mark.parametrize("arch", ("aarch64", "x86_64"))
def test_address_hook_at_the_entry_point(guest, arch: str) -> None:  # type: ignore[no-untyped-def]
    path = guest("api", arch)
    data = Path(path).read_bytes()
    entry = struct.unpack_from("<Q", data, 24)[0]
    emu = emulator(path)
    hits: list[tuple[int, int, bytes]] = []
    pc = "pc" if arch == "aarch64" else "rip"
    emu.hook_address(entry, lambda ctx: hits.append((ctx.address, ctx.reg(pc),
                                                     ctx.read(ctx.address, 4))))
    status, _ = run(emu)
    assert status == 3
    assert len(hits) == 1
    assert hits[0][0] == entry and hits[0][1] == entry
    assert hits[0][2] == emu_bytes_at(data, entry)


def emu_bytes_at(elf: bytes, vaddr: int) -> bytes:
    """The 4 file bytes a static ELF maps at `vaddr` (its PT_LOAD headers)."""
    phoff, = struct.unpack_from("<Q", elf, 32)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    for i in range(phnum):
        ptype, _flags, off, va, _pa, filesz = struct.unpack_from("<IIQQQQ", elf,
                                                                 phoff + i * phentsize)
        if ptype == 1 and va <= vaddr < va + filesz:
            return elf[off + vaddr - va:off + vaddr - va + 4]
    raise AssertionError("entry not in a PT_LOAD")


def test_a_fatal_signal_is_a_status_not_our_death(guest) -> None:  # type: ignore[no-untyped-def]
    emu = emulator(guest("faults", "aarch64"), "segv", trace=True)
    status, _ = run(emu)
    assert status == -11
    assert emu.crash is not None and "Segmentation fault" in emu.crash
    emu = emulator(guest("exitcode", "x86_64"), "3", "abort", trace=True)
    status, _ = run(emu)
    assert status == -6
    assert any(isinstance(e, SignalEvent) and e.signal == "SIGABRT" for e in emu.events)


def test_errors_before_the_run(tmp_path: Path, guest) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EmulatorError):
        Emulator([str(tmp_path / "missing")]).run()
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x7fELF" + b"\0" * 60)
    with pytest.raises(EmulatorError):
        Emulator([str(bad)]).run()
    with pytest.raises(EmulatorError, match="aarch64 program, not mipsel"):
        Emulator([str(guest("api", "aarch64"))], arch="mipsel").run()
    with pytest.raises(ValueError):
        Emulator([])


def test_the_readme_example_runs() -> None:
    import sys

    from support import run_cmd

    root = Path(__file__).resolve().parents[2]
    text = (root / "README.md").read_text()
    code = text.split("## Python API\n\n```python\n", 1)[1].split("```", 1)[0]
    p = run_cmd([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("0 b'Hello from aarch64! api\\n' ['0x1011a0c', (")
    assert "('writev', 24)" in p.stdout
