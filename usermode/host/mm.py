"""Host virtual-memory calls (mmap, mprotect, madvise) through libc, on raw addresses.

Python's `mmap` module cannot map at a fixed address or unmap part of a mapping, and the
guest address space needs both, so we call libc directly.
"""

from __future__ import annotations

import ctypes
import os

from usermode.uapi import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_NORESERVE,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)

_libc = ctypes.CDLL(None, use_errno=True)
_mmap = _libc.mmap
_mmap.restype = ctypes.c_void_p
_mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                  ctypes.c_long)
_mprotect = _libc.mprotect
_mprotect.restype = ctypes.c_int
_mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_madvise = _libc.madvise
_madvise.restype = ctypes.c_int
_madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_msync = _libc.msync
_msync.restype = ctypes.c_int
_msync.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)

_MAP_FAILED = ctypes.c_void_p(-1).value


def _raise() -> None:
    e = ctypes.get_errno()
    raise OSError(e, os.strerror(e))


def mmap(addr: int, length: int, prot: int, flags: int, fd: int = -1, offset: int = 0) -> int:
    r = _mmap(addr or None, length, prot, flags, fd, offset)
    if r is None or r == _MAP_FAILED:
        _raise()
    return int(r)


def reserve(length: int) -> int:
    """Reserve host address space: inaccessible, no memory committed."""
    return mmap(0, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)


def fresh_anon(addr: int, length: int) -> None:
    """Replace [addr, addr+length) with fresh zero-filled read-write pages."""
    mmap(addr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)


def munmap(addr: int, length: int) -> None:
    if _libc.munmap(ctypes.c_void_p(addr), ctypes.c_size_t(length)) != 0:
        _raise()


def release(addr: int, length: int) -> None:
    """Give [addr, addr+length) back: inaccessible again, memory freed."""
    mmap(addr, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED)


def map_file(addr: int, length: int, prot: int, shared: bool, fd: int, offset: int) -> None:
    mmap(addr, length, prot, (MAP_SHARED if shared else MAP_PRIVATE) | MAP_FIXED, fd, offset)


def mprotect(addr: int, length: int, prot: int) -> None:
    if _mprotect(addr, length, prot) != 0:
        _raise()


def madvise(addr: int, length: int, advice: int) -> None:
    if _madvise(addr, length, advice) != 0:
        _raise()


def msync(addr: int, length: int, flags: int) -> None:
    if _msync(addr, length, flags) != 0:
        _raise()


def memset(addr: int, value: int, length: int) -> None:
    ctypes.memset(addr, value, length)


def memmove(dst: int, src: int | bytes, length: int) -> None:
    ctypes.memmove(dst, src, length)


def view(addr: int, length: int) -> memoryview:
    """A writable byte memoryview over host memory (no copy)."""
    return memoryview((ctypes.c_char * length).from_address(addr)).cast("B")
