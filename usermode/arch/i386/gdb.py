"""i386 as gdb sees it: the target description's features and the Unicorn id behind each
register. Data only (the schema is usermode/gdb/target.py's)."""

ARCHITECTURE = "i386"

TYPES = """
<vector id="v4f" type="ieee_single" count="4"/>
<vector id="v2d" type="ieee_double" count="2"/>
<vector id="v16i8" type="int8" count="16"/>
<vector id="v8i16" type="int16" count="8"/>
<vector id="v4i32" type="int32" count="4"/>
<vector id="v2i64" type="int64" count="2"/>
<union id="vec128"><field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>
  <field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/>
  <field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/>
  <field name="uint128" type="uint128"/></union>
<flags id="i386_eflags" size="4"><field name="CF" start="0" end="0"/>
  <field name="PF" start="2" end="2"/><field name="AF" start="4" end="4"/>
  <field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
  <field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/>
  <field name="DF" start="10" end="10"/><field name="OF" start="11" end="11"/></flags>
"""

# what follows the instruction pointer in i386.core, on x86_64 too: eflags, the segment
# selectors, the x87 stack and its control words
FLAGS_SEGMENTS_X87 = (
    ("eflags", 32, "i386_eflags", 25, None),
    ("cs", 32, "int32", 11, None),
    ("ss", 32, "int32", 49, None),
    ("ds", 32, "int32", 17, None),
    ("es", 32, "int32", 28, None),
    ("fs", 32, "int32", 32, None),
    ("gs", 32, "int32", 33, None),
    *((f"st{i}", 80, "i387_ext", 114 + i, None) for i in range(8)),
    ("fctrl", 32, "int", 246, None),
    ("fstat", 32, "int", 31, None),
    ("ftag", 32, "int", 247, None),
    ("fiseg", 32, "int", 255, None),
    ("fioff", 32, "int", 254, None),
    ("foseg", 32, "int", 257, None),
    ("fooff", 32, "int", 256, None),
    ("fop", 32, "int", 258, None),
)

_GPRS = (("eax", 19), ("ecx", 22), ("edx", 24), ("ebx", 21), ("esp", 30), ("ebp", 20),
         ("esi", 29), ("edi", 23))

# (feature, registers); a register is (name, bits, type, Unicorn id or None for one that
# reads as zero, gdb regnum or None for the next one)
FEATURES = (
    ("org.gnu.gdb.i386.core", (
        *((name, 32, "data_ptr" if name in ("ebp", "esp") else "int32", uc, None)
          for name, uc in _GPRS),
        ("eip", 32, "code_ptr", 26, None),
        *FLAGS_SEGMENTS_X87,
    )),
    ("org.gnu.gdb.i386.sse", (
        *((f"xmm{i}", 128, "vec128", 122 + i, None) for i in range(8)),
        ("mxcsr", 32, "int", 249, None),
    )),
    ("org.gnu.gdb.i386.linux", (
        ("orig_eax", 32, "int", None, None),
    )),
)
