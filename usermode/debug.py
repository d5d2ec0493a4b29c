"""`-d in_asm`: print each guest block with capstone the first time it runs.

Debug only: it installs a per-block hook, which a normal run never has.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from usermode.engine import capi

if TYPE_CHECKING:
    from usermode.process import Process



def install_in_asm(proc: Process, log_fd: int) -> None:
    import capstone

    arch, mode = proc.arch.CS_ARCH, proc.arch.CS_MODE
    md = capstone.Cs(arch, mode)
    seen: set[int] = set()

    def on_block(_h: int, addr: int, size: int, _u: int) -> None:
        if addr in seen:
            return
        seen.add(addr)
        try:
            code = proc.mem.read_for_debug(addr, size)
        except Exception:  # Errno(EFAULT): not readable any more
            return
        lines = ["IN: \n"] + [f"0x{i.address:016x}:  {i.mnemonic} {i.op_str}\n"
                               for i in md.disasm(code, addr)]
        os.write(log_fd, ("".join(lines) + "\n").encode())

    proc.engine.uc.hook_add(capi.UC_HOOK_BLOCK, capi.HOOK_CODE(on_block))
