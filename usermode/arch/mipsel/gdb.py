"""mipsel (o32) as gdb sees it: the target description's features and the Unicorn id behind
each register. Data only (the schema is usermode/gdb/target.py's)."""

ARCHITECTURE = "mips"

TYPES = ""

# (feature, registers); a register is (name, bits, type, Unicorn id or None for one that
# reads as zero, gdb regnum or None for the next one). gdb's mips numbering interleaves the
# features: r0-r31 0-31, status 32, lo 33, hi 34, badvaddr 35, cause 36, pc 37, f0-f31
# 38-69, fcsr 70, fir 71, restart 72.
FEATURES = (
    ("org.gnu.gdb.mips.cpu", (
        *((f"r{i}", 32, "int", 2 + i, i) for i in range(32)),
        ("lo", 32, "int", 130, 33),
        ("hi", 32, "int", 129, 34),
        ("pc", 32, "int", 1, 37),
    )),
    ("org.gnu.gdb.mips.cp0", (
        ("status", 32, "int", 139, 32),
        ("badvaddr", 32, "int", None, 35),
        ("cause", 32, "int", None, 36),
    )),
    ("org.gnu.gdb.mips.fpu", (
        *((f"f{i}", 32, "ieee_single", 57 + i, 38 + i) for i in range(32)),
        ("fcsr", 32, "int", None, 70),
        ("fir", 32, "int", 140, 71),
    )),
    ("org.gnu.gdb.mips.linux", (
        ("restart", 32, "int", None, 72),
    )),
)
