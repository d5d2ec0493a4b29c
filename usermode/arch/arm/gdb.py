"""arm (and armel) as gdb sees it: the target description's features and the Unicorn id
behind each register. Data only (the schema is usermode/gdb/target.py's)."""

ARCHITECTURE = "arm"

TYPES = ""

# (feature, registers); a register is (name, bits, type, Unicorn id or None for one that
# reads as zero, gdb regnum or None for the next one)
FEATURES = (
    ("org.gnu.gdb.arm.core", (
        *((f"r{i}", 32, "uint32", 66 + i, None) for i in range(13)),
        ("sp", 32, "data_ptr", 12, None),
        ("lr", 32, "int", 10, None),
        ("pc", 32, "code_ptr", 11, None),
        ("cpsr", 32, "int", 3, 25),  # gdb's number: 16-24 were the FPA registers
    )),
    ("org.gnu.gdb.arm.vfp", (
        *((f"d{i}", 64, "ieee_double", 14 + i, None) for i in range(32)),
        ("fpscr", 32, "int", 6, None),
    )),
)
