"""The guest address space: Linux mmap semantics over host memory, checked by contents."""

from __future__ import annotations

import ctypes
import errno
import os

import pytest

from usermode import arch as archmod
from usermode.engine import capi
from usermode.engine.core import Engine
from usermode.kernel.errors import Errno
from usermode.kernel.memory import PAGE, PROT_R, PROT_W, PROT_X, AddressSpace

TOP = 0x7F0000000000


@pytest.fixture
def mem() -> AddressSpace:
    eng = Engine(archmod.load("aarch64"))
    return AddressSpace(eng.uc, arena_lo=TOP - (1 << 32), arena_hi=TOP, mmap_top=TOP - (1 << 20))


def fill(mem: AddressSpace, addr: int, access: int) -> tuple[bool, int]:
    e = capi.TlbEntry()
    ok = mem.tlb_fill(addr, access, ctypes.pointer(e))
    return ok, e.perms


def test_anonymous_map_is_zeroed_and_top_down(mem: AddressSpace) -> None:
    a = mem.map(0, 3 * PAGE, PROT_R | PROT_W)
    b = mem.map(0, PAGE, PROT_R | PROT_W)
    assert a == TOP - (1 << 20) - 3 * PAGE
    assert b == a - PAGE
    assert mem.read(a, 3 * PAGE) == bytes(3 * PAGE)
    mem.write(a + 10, b"hello")
    assert mem.read(a + 8, 9) == b"\0\0hello\0\0"


def test_partial_unmap_splits_and_faults(mem: AddressSpace) -> None:
    a = mem.map(0, 3 * PAGE, PROT_R | PROT_W)
    mem.write(a, b"A" * 3 * PAGE)
    mem.unmap(a + PAGE, PAGE)
    assert mem.read(a, 4) == b"AAAA"
    assert mem.read(a + 2 * PAGE, 4) == b"AAAA"
    with pytest.raises(Errno) as ei:
        mem.read(a + PAGE, 1)
    assert ei.value.errno == errno.EFAULT
    assert fill(mem, a + PAGE, capi.UC_MEM_READ)[0] is False
    assert mem.last_fault is not None and not mem.last_fault.mapped
    # the hole can be mapped again with MAP_FIXED_NOREPLACE, and is zero
    assert mem.map(a + PAGE, PAGE, PROT_R, noreplace=True) == a + PAGE
    assert mem.read(a + PAGE, 4) == bytes(4)
    with pytest.raises(Errno) as ei:
        mem.map(a, PAGE, PROT_R, noreplace=True)
    assert ei.value.errno == errno.EEXIST


def test_protect_changes_tlb_permissions(mem: AddressSpace) -> None:
    a = mem.map(0, 2 * PAGE, PROT_R | PROT_W)
    assert fill(mem, a, capi.UC_MEM_WRITE) == (True, PROT_R | PROT_W)
    mem.protect(a, PAGE, PROT_R)
    assert fill(mem, a, capi.UC_MEM_WRITE)[0] is False
    assert mem.last_fault is not None and mem.last_fault.mapped  # SEGV_ACCERR
    assert fill(mem, a, capi.UC_MEM_READ) == (True, PROT_R)
    assert fill(mem, a + PAGE, capi.UC_MEM_WRITE)[0] is True
    assert fill(mem, a, capi.UC_MEM_FETCH)[0] is False
    mem.protect(a, PAGE, PROT_R | PROT_X)
    assert fill(mem, a, capi.UC_MEM_FETCH) == (True, PROT_R | PROT_X)
    with pytest.raises(Errno):  # a read-only page is not a valid write buffer
        mem.view(a, 8, PROT_W)
    with pytest.raises(Errno) as ei:  # part of the range unmapped
        mem.protect(a, 4 * PAGE, PROT_R)
    assert ei.value.errno == errno.ENOMEM


def test_dontneed_zeroes_private_anonymous(mem: AddressSpace) -> None:
    a = mem.map(0, 2 * PAGE, PROT_R | PROT_W)
    mem.write(a, b"x" * 2 * PAGE)
    mem.dontneed(a, PAGE)
    assert mem.read(a, 2) == b"\0\0"
    assert mem.read(a + PAGE, 2) == b"xx"


def test_remap_grow_moves_and_keeps_contents(mem: AddressSpace) -> None:
    a = mem.map(0, PAGE, PROT_R | PROT_W)
    mem.write(a, b"data")
    mem.map(a + PAGE, PAGE, PROT_R, fixed=True)  # block growth in place
    b = mem.remap(a, PAGE, 4 * PAGE, True, None)
    assert b != a
    assert mem.read(b, 4) == b"data"
    assert mem.find(a) is None
    mem.map(b + 4 * PAGE, PAGE, PROT_R, fixed=True)
    with pytest.raises(Errno) as ei:  # cannot grow in place and may not move
        mem.remap(b, 4 * PAGE, 8 * PAGE, False, None)
    assert ei.value.errno == errno.ENOMEM
    assert mem.remap(b, 4 * PAGE, 2 * PAGE, False, None) == b  # shrinking stays
    assert mem.find(b + 3 * PAGE) is None


def test_file_mapping_private_and_shared(mem: AddressSpace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "data"
    f.write_bytes(b"0123456789" * 1000)
    fd = os.open(f, os.O_RDWR)
    try:
        a = mem.map(0, 2 * PAGE, PROT_R | PROT_W, fd=fd, offset=PAGE)
        assert mem.read(a, 4) == (b"0123456789" * 1000)[PAGE:PAGE + 4]
        mem.write(a, b"XXXX")
        assert f.read_bytes()[PAGE:PAGE + 4] != b"XXXX"  # private: the file is untouched
        s = mem.map(0, PAGE, PROT_R | PROT_W, fd=fd, offset=0, shared=True)
        mem.write(s, b"YYYY")
        assert f.read_bytes()[:4] == b"YYYY"  # shared: the file sees it
    finally:
        os.close(fd)


def test_brk_grows_and_shrinks(mem: AddressSpace) -> None:
    base = TOP - (1 << 34)  # below the arena
    mem.add_backing(base, base + (1 << 24))
    mem.set_brk_start(base)
    assert mem.brk(0) == base
    assert mem.brk(base + 10) == base + 10
    mem.write(base + 5, b"z")
    assert mem.brk(base + 3 * PAGE + 1) == base + 3 * PAGE + 1
    assert mem.read(base + 3 * PAGE, 1) == b"\0"
    assert mem.brk(base + PAGE) == base + PAGE
    with pytest.raises(Errno):
        mem.read(base + 2 * PAGE, 1)


def test_views_partial_and_cstr(mem: AddressSpace) -> None:
    a = mem.map(0, PAGE, PROT_R | PROT_W)
    assert len(mem.view(a + PAGE - 10, 100, PROT_W, partial=True)) == 10
    with pytest.raises(Errno):
        mem.view(a + PAGE - 10, 100, PROT_W)
    mem.write(a + PAGE - 3, b"ab\0")
    assert mem.read_cstr(a + PAGE - 3) == b"ab"
    mem.write(a + PAGE - 3, b"abc")
    with pytest.raises(Errno) as ei:
        mem.read_cstr(a + PAGE - 3)
    assert ei.value.errno == errno.EFAULT


def test_mprotect_write_on_readonly_shared_file_is_eacces(mem: AddressSpace,  # type: ignore[no-untyped-def]
                                                           tmp_path) -> None:
    f = tmp_path / "ro"
    f.write_bytes(b"r" * PAGE)
    fd = os.open(f, os.O_RDONLY)
    try:
        a = mem.map(0, PAGE, PROT_R, shared=True, fd=fd, host_prot=1)
        with pytest.raises(Errno) as ei:
            mem.protect(a, PAGE, PROT_R | PROT_W)
        assert ei.value.errno == errno.EACCES
        assert fill(mem, a, capi.UC_MEM_WRITE)[0] is False  # still read-only for the guest
        assert mem.read(a, 2) == b"rr"
    finally:
        os.close(fd)


def test_failed_fixed_map_leaves_a_consistent_address_space(mem: AddressSpace) -> None:
    a = mem.map(0, 2 * PAGE, PROT_R | PROT_W)
    mem.write(a, b"keep")
    fd = os.open("/dev/null", os.O_RDONLY)  # the host refuses to mmap /dev/null (ENODEV)
    try:
        with pytest.raises(OSError):
            mem.map(a + PAGE, PAGE, PROT_R, fixed=True, fd=fd)
    finally:
        os.close(fd)
    assert mem.read(a, 4) == b"keep"
    assert mem.find(a + PAGE) is None and fill(mem, a + PAGE, capi.UC_MEM_READ)[0] is False
    assert mem.map(a + PAGE, PAGE, PROT_R, noreplace=True) == a + PAGE


def test_map_beyond_task_size_is_enomem() -> None:
    eng = Engine(archmod.load("aarch64"))
    m = AddressSpace(eng.uc, arena_lo=TOP - (1 << 32), arena_hi=TOP, mmap_top=TOP - (1 << 20),
                     task_size=TOP)
    with pytest.raises(Errno) as ei:
        m.map(TOP, PAGE, PROT_R, fixed=True)
    assert ei.value.errno == errno.ENOMEM


def test_remap_rejects_overlapping_fixed_destination(mem: AddressSpace) -> None:
    a = mem.map(0, 2 * PAGE, PROT_R | PROT_W)
    with pytest.raises(Errno) as ei:
        mem.remap(a, 2 * PAGE, 3 * PAGE, True, a + PAGE)
    assert ei.value.errno == errno.EINVAL
    with pytest.raises(Errno) as ei:
        mem.remap(a, 0, PAGE, True, None)
    assert ei.value.errno == errno.EINVAL


def test_write_spanning_two_data_mappings_probes_no_code() -> None:
    # a read() into a buffer that crosses from one data mapping into the next must not ask
    # Unicorn to drop code there: its probe of non-executable pages would be refused and
    # leave the engine with a pending exception (seen with sqlite3 reading /dev/urandom)
    eng = Engine(archmod.load("aarch64"))
    mem = AddressSpace(eng.uc, arena_lo=TOP - (1 << 32), arena_hi=TOP, mmap_top=TOP - (1 << 20))
    eng.install(lambda nr, args: 0, (1 << 64) - 1, mem.tlb_fill)
    a = mem.map(0, 2 * PAGE, PROT_R | PROT_W)
    mem.map(a + PAGE, PAGE, PROT_R | PROT_W, fixed=True, name="other")
    mem.last_fault = None
    mem.view(a + PAGE - 8, 16, PROT_W)[:] = b"x" * 16
    assert mem.last_fault is None
    assert mem.read(a + PAGE - 8, 16) == b"x" * 16


def test_a_buffer_across_two_backings_reads_whole(mem: AddressSpace) -> None:
    """Mappings side by side in two host pieces (one below the arena, one inside it): a
    reading view is every byte (a write() from it moves them all); a writing view stops at
    the piece's end when partial is allowed and is EFAULT otherwise."""
    lo = TOP - (1 << 32)  # the arena's first page; the page below it gets its own backing
    mem.map(lo - PAGE, PAGE, PROT_R | PROT_W, fixed=True)
    mem.map(lo, PAGE, PROT_R | PROT_W, fixed=True)
    mem.write(lo - 3, b"abc")
    mem.write(lo, b"def")
    assert len({id(b) for b in mem.backings}) == 2
    assert bytes(mem.view(lo - 3, 6, PROT_R)) == b"abcdef"
    assert bytes(mem.view(lo - 3, 6, PROT_R, partial=True)) == b"abcdef"
    assert len(mem.view(lo - 3, 6, PROT_W, partial=True)) == 3
    with pytest.raises(Errno) as e:
        mem.view(lo - 3, 6, PROT_W)
    assert e.value.errno == errno.EFAULT
