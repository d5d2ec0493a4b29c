"""Initial process stack, laid out exactly as Linux's ``create_elf_tables``.

From high to low addresses (docs/abi.md §5.1)::

    stack_top
      8 zero bytes                  (fs/exec.c: bprm->p = vm_end - sizeof(void *))
      execfn string                 (AT_EXECFN points here)
      envp strings                  (envp[0] lowest)
      argv strings                  (argv[0] lowest)
      <align down to 16>            (arch_align_stack)
      platform string               (AT_PLATFORM, optional)
      16 random bytes               (AT_RANDOM)
      <padding>                     (STACK_ROUND: final sp 16-byte aligned)
      auxv pairs ..., AT_NULL, 0
      NULL
      envp[] pointers
      NULL
      argv[] pointers
      argc                          <- sp

Pure function: no guest memory is touched; the caller writes ``blob`` at ``sp``.
"""

from __future__ import annotations

import struct

__all__ = [
    "AT_BASE",
    "AT_CLKTCK",
    "AT_EGID",
    "AT_ENTRY",
    "AT_EUID",
    "AT_EXECFN",
    "AT_FLAGS",
    "AT_GID",
    "AT_HWCAP",
    "AT_HWCAP2",
    "AT_MINSIGSTKSZ",
    "AT_NULL",
    "AT_PAGESZ",
    "AT_PHDR",
    "AT_PHENT",
    "AT_PHNUM",
    "AT_PLATFORM",
    "AT_RANDOM",
    "AT_SECURE",
    "AT_UID",
    "build_initial_stack",
]

AT_NULL = 0
AT_PHDR = 3
AT_PHENT = 4
AT_PHNUM = 5
AT_PAGESZ = 6
AT_BASE = 7
AT_FLAGS = 8
AT_ENTRY = 9
AT_UID = 11
AT_EUID = 12
AT_GID = 13
AT_EGID = 14
AT_PLATFORM = 15
AT_HWCAP = 16
AT_CLKTCK = 17
AT_SECURE = 23
AT_RANDOM = 25
AT_HWCAP2 = 26
AT_EXECFN = 31
AT_MINSIGSTKSZ = 51

_TOP_GAP = 8  # zero bytes between stack_top and the execfn string
_STACK_ALIGN = 16


def _cstr(s: bytes, what: str) -> bytes:
    if b"\0" in s:
        raise ValueError(f"{what} contains a NUL byte")
    return s + b"\0"


def build_initial_stack(
    stack_top: int,
    *,
    wordsize: int,
    little_endian: bool,
    argv: list[bytes],
    envp: list[bytes],
    auxv: list[tuple[int, int]],
    execfn: bytes,
    platform: bytes | None,
    random16: bytes,
) -> tuple[int, bytes]:
    """Build the initial stack image; return ``(sp, blob)`` with ``blob`` covering
    guest addresses ``[sp, stack_top)``.

    ``auxv`` holds the caller's entries (without AT_NULL); AT_RANDOM, AT_EXECFN and,
    when ``platform`` is not None, AT_PLATFORM are appended in that order, then
    AT_NULL.  Negative auxv values are stored two's-complement.  Raises ValueError for
    a bad word size, a ``random16`` that is not 16 bytes, strings containing NUL, or a
    stack that does not fit below ``stack_top``.
    """
    if wordsize not in (4, 8):
        raise ValueError(f"wordsize must be 4 or 8, not {wordsize}")
    if len(random16) != 16:
        raise ValueError("random16 must be exactly 16 bytes")
    mask = (1 << (8 * wordsize)) - 1
    if not 0 < stack_top <= mask + 1:
        raise ValueError(f"stack_top {stack_top:#x} outside the {8 * wordsize}-bit space")

    # --- strings, from the top down (fs/exec.c copy_string_kernel / copy_strings) ---
    p = stack_top - _TOP_GAP
    execfn_z = _cstr(execfn, "execfn")
    p -= len(execfn_z)
    execfn_addr = p

    env_z = [_cstr(s, "envp string") for s in envp]
    arg_z = [_cstr(s, "argv string") for s in argv]
    strings_size = sum(map(len, env_z)) + sum(map(len, arg_z))
    p -= strings_size
    strings_addr = p  # argv[0] starts here, envp strings follow the argv strings
    argv_addrs: list[int] = []
    q = strings_addr
    for s in arg_z:
        argv_addrs.append(q)
        q += len(s)
    envp_addrs: list[int] = []
    for s in env_z:
        envp_addrs.append(q)
        q += len(s)

    # --- create_elf_tables ---
    p &= ~(_STACK_ALIGN - 1)  # arch_align_stack (without randomisation)
    platform_addr: int | None = None
    platform_z = b""
    if platform is not None:
        platform_z = _cstr(platform, "platform")
        p -= len(platform_z)
        platform_addr = p
    p -= 16
    random_addr = p

    full_auxv = list(auxv)
    full_auxv.append((AT_RANDOM, random_addr))
    full_auxv.append((AT_EXECFN, execfn_addr))
    if platform_addr is not None:
        full_auxv.append((AT_PLATFORM, platform_addr))
    full_auxv.append((AT_NULL, 0))

    items = (len(argv) + 1) + (len(envp) + 1) + 1  # argv+NULL, envp+NULL, argc
    sp = p - 2 * len(full_auxv) * wordsize
    sp = (sp - items * wordsize) & ~(_STACK_ALIGN - 1)  # STACK_ROUND
    if sp < 0:
        raise ValueError("initial stack does not fit below stack_top")

    words: list[int] = [len(argv), *argv_addrs, 0, *envp_addrs, 0]
    for key, value in full_auxv:
        words.append(key)
        words.append(value)
    for i, w in enumerate(words):
        if not -(mask + 1) // 2 <= w <= mask:
            raise ValueError(f"value {w:#x} does not fit in a {wordsize}-byte word")
        words[i] = w & mask

    fmt = ("<" if little_endian else ">") + ("I" if wordsize == 4 else "Q") * len(words)
    blob = bytearray(stack_top - sp)
    struct.pack_into(fmt, blob, 0, *words)

    def put(addr: int, data: bytes) -> None:
        off = addr - sp
        blob[off : off + len(data)] = data

    put(random_addr, random16)
    if platform_addr is not None:
        put(platform_addr, platform_z)
    put(strings_addr, b"".join(arg_z) + b"".join(env_z))
    put(execfn_addr, execfn_z)
    return sp, bytes(blob)
