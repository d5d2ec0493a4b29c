"""x86_64 as gdb sees it: the target description's features and the Unicorn id behind each
register. Data only (the schema is usermode/gdb/target.py's)."""

from usermode.arch.i386.gdb import FLAGS_SEGMENTS_X87
from usermode.arch.i386.gdb import TYPES as I386_TYPES

ARCHITECTURE = "i386:x86-64"

TYPES = I386_TYPES  # the same vector union and flags

_GPRS = (("rax", 35), ("rbx", 37), ("rcx", 38), ("rdx", 40), ("rsi", 43), ("rdi", 39),
         ("rbp", 36), ("rsp", 44), *((f"r{i}", 98 + i) for i in range(8, 16)))

# (feature, registers); a register is (name, bits, type, Unicorn id or None for one that
# reads as zero, gdb regnum or None for the next one)
FEATURES = (
    ("org.gnu.gdb.i386.core", (
        *((name, 64, "data_ptr" if name in ("rbp", "rsp") else "int64", uc, None)
          for name, uc in _GPRS),
        ("rip", 64, "code_ptr", 41, None),
        *FLAGS_SEGMENTS_X87,
    )),
    ("org.gnu.gdb.i386.sse", (
        *((f"xmm{i}", 128, "vec128", 122 + i, None) for i in range(16)),
        ("mxcsr", 32, "int", 249, None),
    )),
    ("org.gnu.gdb.i386.linux", (
        ("orig_rax", 64, "int", None, None),
    )),
    ("org.gnu.gdb.i386.segments", (
        ("fs_base", 64, "int", 250, None),
        ("gs_base", 64, "int", 251, None),
    )),
)
