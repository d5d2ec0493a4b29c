"""qemu's -d log items: which exist, and the ones with work of their own here.

`in_asm` prints each guest block with capstone the first time it runs (debug only: it
installs a per-block hook, which a normal run never has); `page` prints the guest's memory
map once the program is loaded. `unimp` and `trace` are flags read elsewhere, and `strace`
is -strace.
"""

from __future__ import annotations

import os

from usermode.engine import capi

TYPE_CHECKING = False

if TYPE_CHECKING:
    from usermode.kernel.process import Process



ITEMS = {
    "unimp": "warn once about each unsupported syscall",
    "in_asm": "disassemble each translated block the first time it runs",
    "page": "print the guest's memory map after loading the program",
    "strace": "print each syscall, as -strace does",
    "trace": "a traceback with our internal errors (usermode's own)",
}
# qemu's other items: accepted with a warning, so scripts written for qemu still run
QEMU_ONLY = frozenset({"out_asm", "op", "op_opt", "op_ind", "op_plugin", "int", "exec", "cpu",
                       "fpu", "mmu", "pcall", "cpu_reset", "guest_errors", "nochain", "plugin",
                       "tid", "invalid_mem", "vpu", "strace_json"})


def help_text() -> str:
    lines = ["Log items (comma separated):"]
    lines += [f"{name:<8} {what}" for name, what in ITEMS.items()]
    lines.append("qemu's " + ", ".join(sorted(QEMU_ONLY)) + " are accepted and ignored")
    return "\n".join(lines) + "\n"


def check_items(items: set[str]) -> str | None:
    """An error for an item neither we nor qemu know; warns once about qemu-only ones."""
    import sys

    unknown = sorted(i for i in items if i not in ITEMS and i not in QEMU_ONLY
                     and not i.startswith("trace:"))
    if unknown:
        return f"unknown -d item {unknown[0]!r} (see -d help)"
    ignored = sorted(i for i in items if i in QEMU_ONLY or i.startswith("trace:"))
    if ignored:
        sys.stderr.write(f"usermode: -d {','.join(ignored)}: not supported, ignored\n")
    return None


def print_page_map(proc: Process, log_fd: int) -> None:
    """`-d page`: the guest's mappings as /proc/self/maps shows them, after loading."""
    from usermode.kernel.procfs import maps

    os.write(log_fd, b"guest memory map (start-end perms offset dev inode path):\n" + maps(proc))


def install_in_asm(proc: Process, log_fd: int) -> None:
    import capstone

    arch, mode = proc.arch.CS_ARCH, proc.arch.CS_MODE
    md = capstone.Cs(arch, mode)
    md_thumb = capstone.Cs(arch, capstone.CS_MODE_THUMB) if proc.arch.THUMB_CPSR_BIT else md
    seen: set[tuple[int, bool]] = set()

    def on_block(_h: int, addr: int, size: int, _u: int) -> None:
        thumb = proc.engine.thumb()
        if (addr, thumb) in seen:
            return
        seen.add((addr, thumb))
        try:
            code = proc.mem.read_for_debug(addr, size)
        except Exception:  # Errno(EFAULT): not readable any more
            return
        lines = ["IN: \n"] + [f"0x{i.address:016x}:  {i.mnemonic} {i.op_str}\n"
                               for i in (md_thumb if thumb else md).disasm(code, addr)]
        os.write(log_fd, ("".join(lines) + "\n").encode())

    cb = capi.HOOK_CODE(proc.engine.guarded(on_block))
    proc.engine.uc.hook_add(capi.UC_HOOK_BLOCK, cb)
    proc.api_hooks.append(cb)  # keep the ctypes callback alive as long as the process
