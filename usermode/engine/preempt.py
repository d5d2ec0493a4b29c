"""A native block hook that stops the engine on request: preemption with an exact PC.

Stopping Unicorn 2.1.4 from another host thread (`uc_emu_stop` while it runs, which is also
how its `timeout` works) is not safe: guest state was corrupted in CPython runs with 1-ms
slices, while the same stops made synchronously from a block hook never were. A Python
block hook costs about a microsecond per block, so the hook is a few bytes of x86_64
machine code instead:

    mov eax, [rcx]          ; rcx = user_data: the request flag
    test eax, eax
    jnz stop
    ret
  stop:
    mov dword [rcx], 0
    mov rax, uc_emu_stop
    jmp rax                 ; rdi still holds the engine

The watchdog only sets the flag; the engine stops itself at the start of the next block,
where the block-hook helper has just synced the PC. The hook is installed when a second
guest thread appears (translated code is flushed so every block calls it).
"""

from __future__ import annotations

import ctypes
import mmap
import struct

from usermode.engine import capi


class BlockStopper:
    def __init__(self) -> None:
        stop_addr = ctypes.cast(capi.uc_emu_stop, ctypes.c_void_p).value
        assert stop_addr is not None
        code = (b"\x8b\x01"  # mov eax, [rcx]
                b"\x85\xc0"  # test eax, eax
                b"\x75\x01"  # jnz +1
                b"\xc3"  # ret
                b"\xc7\x01\x00\x00\x00\x00"  # mov dword [rcx], 0
                b"\x48\xb8" + struct.pack("<Q", stop_addr) +  # mov rax, imm64
                b"\xff\xe0")  # jmp rax
        self._page = mmap.mmap(-1, mmap.PAGESIZE,
                               prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self._page.write(code)
        base = ctypes.addressof(ctypes.c_char.from_buffer(self._page))
        self.callback = capi.HOOK_CODE(base)
        self.flag = ctypes.c_int(0)
        self.flag_ptr = ctypes.addressof(self.flag)

    def request(self) -> None:
        """Ask for a stop at the next block (any thread; no GIL needed by the engine)."""
        self.flag.value = 1

    def clear(self) -> None:
        self.flag.value = 0
