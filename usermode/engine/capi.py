"""A thin ctypes binding over libunicorn's C API, built for the hot path.

We load the shared library that the `unicorn` wheel ships without importing the
`unicorn` Python package: that package costs ~49 ms at start-up (it pulls in
typing, inspect, importlib.resources, pathlib), and its register accessors cost
about 5x more per call than a preallocated batch through the C API.

Only what the emulator needs is declared here. Numeric constants are copied from
unicorn's public headers (unicorn/unicorn.h); they are facts of the C ABI.
"""

from __future__ import annotations

import ctypes
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

# --- constants from unicorn.h (2.1.x) -------------------------------------------------------
UC_ARCH_ARM = 1
UC_ARCH_ARM64 = 2
UC_ARCH_MIPS = 3
UC_ARCH_X86 = 4
UC_ARCH_PPC = 5
UC_ARCH_RISCV = 8
UC_ARCH_S390X = 9

UC_MODE_LITTLE_ENDIAN = 0
UC_MODE_BIG_ENDIAN = 1 << 30
UC_MODE_ARM = 0
UC_MODE_THUMB = 1 << 4
UC_MODE_32 = 1 << 2
UC_MODE_64 = 1 << 3
UC_MODE_MIPS32 = 1 << 2
UC_MODE_RISCV64 = 1 << 3

UC_PROT_NONE = 0
UC_PROT_READ = 1
UC_PROT_WRITE = 2
UC_PROT_EXEC = 4
UC_PROT_ALL = 7

UC_HOOK_INTR = 1 << 0
UC_HOOK_INSN = 1 << 1
UC_HOOK_CODE = 1 << 2
UC_HOOK_BLOCK = 1 << 3
UC_HOOK_MEM_READ_UNMAPPED = 1 << 4
UC_HOOK_MEM_WRITE_UNMAPPED = 1 << 5
UC_HOOK_MEM_FETCH_UNMAPPED = 1 << 6
UC_HOOK_MEM_READ_PROT = 1 << 7
UC_HOOK_MEM_WRITE_PROT = 1 << 8
UC_HOOK_MEM_FETCH_PROT = 1 << 9
UC_HOOK_MEM_INVALID = 0x3F0
UC_HOOK_MEM_READ = 1 << 10
UC_HOOK_MEM_WRITE = 1 << 11
UC_HOOK_INSN_INVALID = 1 << 14
UC_HOOK_TLB_FILL = 1 << 17

UC_MEM_READ = 16
UC_MEM_WRITE = 17
UC_MEM_FETCH = 18
UC_MEM_READ_UNMAPPED = 19
UC_MEM_WRITE_UNMAPPED = 20
UC_MEM_FETCH_UNMAPPED = 21
UC_MEM_WRITE_PROT = 22
UC_MEM_READ_PROT = 23
UC_MEM_FETCH_PROT = 24

UC_ERR_OK = 0
UC_ERR_READ_UNMAPPED = 6
UC_ERR_WRITE_UNMAPPED = 7
UC_ERR_FETCH_UNMAPPED = 8
UC_ERR_INSN_INVALID = 10
UC_ERR_WRITE_PROT = 12
UC_ERR_READ_PROT = 13
UC_ERR_FETCH_PROT = 14
UC_ERR_READ_UNALIGNED = 16
UC_ERR_WRITE_UNALIGNED = 17
UC_ERR_FETCH_UNALIGNED = 18
UC_ERR_EXCEPTION = 21

UC_TLB_CPU = 0
UC_TLB_VIRTUAL = 1

_UC_CTL_IO_WRITE = 1
_UC_CTL_IO_READ = 2
_UC_CTL_UC_PAGE_SIZE = 1
UC_CTL_UC_USE_EXITS = 4
_UC_CTL_CPU_MODEL = 7
_UC_CTL_UC_EXITS = 6
_UC_CTL_TB_REMOVE_CACHE = 9
_UC_CTL_TB_FLUSH = 10
_UC_CTL_TLB_FLUSH = 11
_UC_CTL_TLB_TYPE = 12


def _ctl_code(ctl: int, io: int, nargs: int) -> int:
    return ctl | (nargs << 26) | (io << 30)


# --- library loading ---------------------------------------------------------------------------
def _find_library() -> str:
    override = os.environ.get("USERMODE_LIBUNICORN")
    if override:
        return override
    # Look on sys.path for the unicorn wheel's library without importing the package
    # (importlib.util alone costs ~3 ms at start-up).
    for base in sys.path:
        for name in ("libunicorn.so.2", "libunicorn.so"):
            path = os.path.join(base or ".", "unicorn", "lib", name)
            if os.path.exists(path):
                return path
    raise OSError("libunicorn not found: install the 'unicorn' package (pip install "
                  "'unicorn>=2.1,<2.2')")


def _load_library(path: str) -> ctypes.CDLL:
    # ctypes always dlopens with RTLD_NOW; lazy binding of this large library saves ~1 ms.
    libc = ctypes.CDLL(None)
    libc.dlopen.restype = ctypes.c_void_p
    libc.dlopen.argtypes = (ctypes.c_char_p, ctypes.c_int)
    handle = libc.dlopen(os.fsencode(path), 0x1)  # RTLD_LAZY | RTLD_LOCAL
    if not handle:
        return ctypes.CDLL(path)  # let ctypes report the error
    return ctypes.CDLL(path, handle=handle)


_lib = _load_library(_find_library())


def library_handle() -> int:
    """The dlopen handle of the loaded libunicorn (the C core looks its functions up in it)."""
    return int(_lib._handle)

_u64 = ctypes.c_uint64
_vp = ctypes.c_void_p
_int = ctypes.c_int


def _proto(name: str, restype: Any, *argtypes: Any) -> Any:
    fn = getattr(_lib, name)
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


uc_open = _proto("uc_open", _int, _int, _int, ctypes.POINTER(_vp))
uc_close = _proto("uc_close", _int, _vp)
uc_strerror = _proto("uc_strerror", ctypes.c_char_p, _int)
uc_emu_start = _proto("uc_emu_start", _int, _vp, _u64, _u64, _u64, ctypes.c_size_t)
uc_emu_stop = _proto("uc_emu_stop", _int, _vp)
uc_reg_read = _proto("uc_reg_read", _int, _vp, _int, _vp)
uc_reg_write = _proto("uc_reg_write", _int, _vp, _int, _vp)
uc_reg_read_batch = _proto("uc_reg_read_batch", _int, _vp, _vp, _vp, _int)
uc_reg_write_batch = _proto("uc_reg_write_batch", _int, _vp, _vp, _vp, _int)
uc_mem_map_ptr = _proto("uc_mem_map_ptr", _int, _vp, _u64, ctypes.c_size_t, ctypes.c_uint32, _vp)
uc_mem_unmap = _proto("uc_mem_unmap", _int, _vp, _u64, ctypes.c_size_t)
uc_mem_protect = _proto("uc_mem_protect", _int, _vp, _u64, ctypes.c_size_t, ctypes.c_uint32)
uc_mem_read = _proto("uc_mem_read", _int, _vp, _u64, _vp, ctypes.c_size_t)
uc_hook_del = _proto("uc_hook_del", _int, _vp, ctypes.c_size_t)
uc_context_alloc = _proto("uc_context_alloc", _int, _vp, ctypes.POINTER(_vp))
uc_context_save = _proto("uc_context_save", _int, _vp, _vp)
uc_context_restore = _proto("uc_context_restore", _int, _vp, _vp)
uc_context_free = _proto("uc_context_free", _int, _vp)
# Variadic functions: no argtypes; every argument is passed as an explicit ctypes object.
uc_hook_add = _lib.uc_hook_add
uc_hook_add.restype = _int
uc_ctl = _lib.uc_ctl
uc_ctl.restype = _int


class UcError(Exception):
    """An error code returned by libunicorn."""

    def __init__(self, code: int, what: str = "") -> None:
        self.code = code
        msg = (uc_strerror(code) or b"?").decode()
        super().__init__(f"{what}: {msg} (UC_ERR {code})" if what else msg)


def check(code: int, what: str = "") -> None:
    if code:
        raise UcError(code, what)


# --- callback signatures -----------------------------------------------------------------------
class TlbEntry(ctypes.Structure):
    _fields_ = (("paddr", ctypes.c_uint64), ("perms", ctypes.c_int))


HOOK_INTR = ctypes.CFUNCTYPE(None, _vp, ctypes.c_uint32, _vp)
HOOK_INSN_SYSCALL = ctypes.CFUNCTYPE(None, _vp, _vp)
HOOK_CODE = ctypes.CFUNCTYPE(None, _vp, ctypes.c_uint64, ctypes.c_uint32, _vp)
HOOK_MEM_INVALID = ctypes.CFUNCTYPE(
    ctypes.c_bool, _vp, _int, ctypes.c_uint64, _int, ctypes.c_int64, _vp
)
HOOK_INSN_INVALID = ctypes.CFUNCTYPE(ctypes.c_bool, _vp, _vp)
HOOK_MEM = ctypes.CFUNCTYPE(None, _vp, _int, ctypes.c_uint64, _int, ctypes.c_int64, _vp)
UC_MEM_WRITE = 17  # uc_mem_type of a write access
HOOK_TLB_FILL = ctypes.CFUNCTYPE(
    ctypes.c_bool, _vp, ctypes.c_uint64, _int, ctypes.POINTER(TlbEntry), _vp
)


class RegBatch:
    """A preallocated batch of registers read or written with one C call."""

    __slots__ = ("_count", "_handle", "_ids", "_ptrs", "values")

    def __init__(self, handle: int, reg_ids: Sequence[int]) -> None:
        n = len(reg_ids)
        self._handle = handle
        self._count = n
        self._ids = (ctypes.c_int * n)(*reg_ids)
        self.values = (ctypes.c_uint64 * n)()
        base = ctypes.addressof(self.values)
        self._ptrs = (ctypes.c_void_p * n)(*(base + 8 * i for i in range(n)))

    def read(self) -> list[int]:
        uc_reg_read_batch(self._handle, self._ids, self._ptrs, self._count)
        return self.values[:]


class Uc:
    """One Unicorn engine. Keeps references to every ctypes callback it installs."""

    def __init__(self, arch: int, mode: int, cpu_model: int | None = None) -> None:
        h = _vp()
        check(uc_open(arch, mode, ctypes.byref(h)), "uc_open")
        self.handle: int = h.value or 0
        self._callbacks: list[Any] = []
        self._scratch = ctypes.c_uint64()
        self._scratch_ref = ctypes.byref(self._scratch)
        if cpu_model is not None:
            self.ctl_write(_UC_CTL_CPU_MODEL, _int(cpu_model))

    def close(self) -> None:
        if self.handle:
            uc_close(self.handle)
            self.handle = 0

    # control ---------------------------------------------------------------------------------
    def ctl_write(self, ctl: int, *args: Any) -> None:
        check(uc_ctl(_vp(self.handle), _int(_ctl_code(ctl, _UC_CTL_IO_WRITE, len(args))), *args),
              f"uc_ctl({ctl})")

    def set_page_size(self, size: int) -> None:
        self.ctl_write(_UC_CTL_UC_PAGE_SIZE, ctypes.c_uint32(size))

    def set_tlb_mode(self, mode: int) -> None:
        self.ctl_write(_UC_CTL_TLB_TYPE, _int(mode))

    def set_exits(self, addrs: Sequence[int]) -> None:
        """Addresses where emulation stops (exits mode): translation ends there too."""
        arr = (ctypes.c_uint64 * max(1, len(addrs)))(*addrs)
        self.ctl_write(_UC_CTL_UC_EXITS, arr, ctypes.c_size_t(len(addrs)))

    def flush_tlb(self) -> None:
        self.ctl_write(_UC_CTL_TLB_FLUSH)

    def flush_tb(self) -> None:
        self.ctl_write(_UC_CTL_TB_FLUSH)

    def remove_cache(self, lo: int, hi: int) -> None:
        """Drop translated code for guest addresses [lo, hi)."""
        self.ctl_write(_UC_CTL_TB_REMOVE_CACHE, _u64(lo), _u64(hi))

    # registers ---------------------------------------------------------------------------------
    def reg_read(self, reg: int) -> int:
        self._scratch.value = 0
        uc_reg_read(self.handle, reg, self._scratch_ref)
        return self._scratch.value

    def reg_write(self, reg: int, value: int) -> None:
        self._scratch.value = value & 0xFFFFFFFFFFFFFFFF
        uc_reg_write(self.handle, reg, self._scratch_ref)

    def batch(self, reg_ids: Sequence[int]) -> RegBatch:
        return RegBatch(self.handle, reg_ids)

    # memory ------------------------------------------------------------------------------------
    def mem_read_byte(self, addr: int) -> int:
        """One byte of guest memory as the CPU sees it (0 where it cannot be read)."""
        b = ctypes.c_uint8()
        if uc_mem_read(self.handle, addr, ctypes.byref(b), 1):
            return 0
        return b.value

    def mem_map_ptr(self, addr: int, size: int, perms: int, host_ptr: int) -> None:
        check(uc_mem_map_ptr(self.handle, addr, size, perms, host_ptr),
              f"uc_mem_map_ptr({addr:#x}, {size:#x})")

    def mem_unmap(self, addr: int, size: int) -> None:
        check(uc_mem_unmap(self.handle, addr, size), f"uc_mem_unmap({addr:#x}, {size:#x})")

    def mem_protect(self, addr: int, size: int, perms: int) -> None:
        check(uc_mem_protect(self.handle, addr, size, perms),
              f"uc_mem_protect({addr:#x}, {size:#x})")

    # hooks -------------------------------------------------------------------------------------
    def hook_add(self, htype: int, cfunc: Any, begin: int = 1, end: int = 0,
                 *extra: Any, user_data: int = 0) -> int:
        hh = ctypes.c_size_t()
        check(uc_hook_add(_vp(self.handle), ctypes.byref(hh), _int(htype), cfunc,
                          _vp(user_data), _u64(begin), _u64(end), *extra), "uc_hook_add")
        self._callbacks.append(cfunc)
        return hh.value

    def hook_del(self, hh: int) -> None:
        uc_hook_del(self.handle, hh)

    # execution ---------------------------------------------------------------------------------
    def emu_start(self, begin: int, until: int, count: int = 0) -> int:
        """Run until stopped (or for `count` instructions); returns the raw UC_ERR code (0 on
        a clean stop)."""
        return int(uc_emu_start(self.handle, begin, until, 0, count))

    def emu_stop(self) -> None:
        uc_emu_stop(self.handle)


def raw_function(fn: Any) -> Any:
    """The same C function without argtypes: callers pass prebuilt ctypes objects, which
    skips per-call argument conversion (0.43 vs 0.62 us for uc_reg_write here)."""
    addr = ctypes.cast(fn, ctypes.c_void_p).value
    assert addr is not None
    return ctypes.CFUNCTYPE(fn.restype)(addr)

