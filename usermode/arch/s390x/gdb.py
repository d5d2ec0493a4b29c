"""s390x as gdb sees it: the target description's features and the Unicorn id behind each
register. Data only (the schema is usermode/gdb/target.py's)."""

ARCHITECTURE = "s390:64-bit"

TYPES = ""

# (feature, registers); a register is (name, bits, type, Unicorn id or None for one that
# reads as zero, gdb regnum or None for the next one)
FEATURES = (
    ("org.gnu.gdb.s390.core", (
        ("pswm", 64, "uint64", 66, None),
        ("pswa", 64, "code_ptr", 65, None),
        *((f"r{i}", 64, "uint64", 1 + i, None) for i in range(16)),
    )),
    ("org.gnu.gdb.s390.acr", (
        *((f"acr{i}", 32, "uint32", 49 + i, None) for i in range(16)),
    )),
    ("org.gnu.gdb.s390.fpr", (
        ("fpc", 32, "uint32", None, None),
        *((f"f{i}", 64, "ieee_double", 17 + i, None) for i in range(16)),
    )),
    ("org.gnu.gdb.s390.linux", (
        ("orig_r2", 64, "uint64", None, None),
        ("last_break", 64, "code_ptr", None, None),
        ("system_call", 32, "uint32", None, None),
    )),
)
