"""aarch64 as gdb sees it: the target description's features and the Unicorn id behind each
register. Data only (the schema is usermode/gdb/target.py's)."""

ARCHITECTURE = "aarch64"

TYPES = """
<vector id="v2d" type="ieee_double" count="2"/>
<vector id="v2u" type="uint64" count="2"/>
<vector id="v2i" type="int64" count="2"/>
<vector id="v4f" type="ieee_single" count="4"/>
<vector id="v4u" type="uint32" count="4"/>
<vector id="v4i" type="int32" count="4"/>
<vector id="v8u" type="uint16" count="8"/>
<vector id="v8i" type="int16" count="8"/>
<vector id="v16u" type="uint8" count="16"/>
<vector id="v16i" type="int8" count="16"/>
<union id="vnd"><field name="f" type="v2d"/><field name="u" type="v2u"/>
  <field name="s" type="v2i"/></union>
<union id="vns"><field name="f" type="v4f"/><field name="u" type="v4u"/>
  <field name="s" type="v4i"/></union>
<union id="vnh"><field name="u" type="v8u"/><field name="s" type="v8i"/></union>
<union id="vnb"><field name="u" type="v16u"/><field name="s" type="v16i"/></union>
<union id="vnq"><field name="u" type="uint128"/><field name="s" type="int128"/></union>
<union id="aarch64v"><field name="d" type="vnd"/><field name="s" type="vns"/>
  <field name="h" type="vnh"/><field name="b" type="vnb"/><field name="q" type="vnq"/></union>
"""

# (feature, registers); a register is (name, bits, type, Unicorn id or None for one that
# reads as zero, gdb regnum or None for the next one)
FEATURES = (
    ("org.gnu.gdb.aarch64.core", (
        *((f"x{i}", 64, "int", 199 + i, None) for i in range(29)),
        ("x29", 64, "int", 1, None),
        ("x30", 64, "int", 2, None),
        ("sp", 64, "data_ptr", 4, None),
        ("pc", 64, "code_ptr", 260, None),
        ("cpsr", 32, "int", 3, None),  # NZCV: the flags are all EL0 can see of PSTATE
    )),
    ("org.gnu.gdb.aarch64.fpu", (
        *((f"v{i}", 128, "aarch64v", 228 + i, None) for i in range(32)),
        ("fpsr", 32, "int", 292, None),
        ("fpcr", 32, "int", 291, None),
    )),
)
