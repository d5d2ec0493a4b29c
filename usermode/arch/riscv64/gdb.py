"""riscv64 as gdb sees it: the target description's features and the Unicorn id behind
each register. Data only (the schema is usermode/gdb/target.py's)."""

ARCHITECTURE = "riscv:rv64"

TYPES = """
<union id="riscv_double"><field name="float" type="ieee_single"/>
  <field name="double" type="ieee_double"/></union>
"""

_X = ("zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3",
      "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
      "t3", "t4", "t5", "t6")
_F = ("ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1",
      "fa2", "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7",
      "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10", "ft11")

# (feature, registers); a register is (name, bits, type, Unicorn id or None for one that
# reads as zero, gdb regnum or None for the next one)
FEATURES = (
    ("org.gnu.gdb.riscv.cpu", (
        *((name, 64, "data_ptr" if name in ("sp", "gp", "tp", "fp") else
           "code_ptr" if name == "ra" else "int", 1 + i, None) for i, name in enumerate(_X)),
        ("pc", 64, "code_ptr", 190, None),
    )),
    ("org.gnu.gdb.riscv.fpu", (
        *((name, 64, "riscv_double", 158 + i, None) for i, name in enumerate(_F)),
        ("fflags", 32, "int", 41, 66),  # gdb numbers CSRs from 65 up: fflags is CSR 1
        ("frm", 32, "int", 42, 67),
        ("fcsr", 32, "int", 43, 68),
    )),
)
