"""The ELF header fields binfmt_misc matches, as qemu-binfmt-conf.sh writes them: class,
byte order, version and type (executable or shared object, hence the 0xfe in the mask),
then each arch's e_machine (usermode/arch/<name>/__init__.py: BINFMT_MAGIC/BINFMT_MASK)."""

_HEAD32 = b"\x7fELF\x01\x01\x01" + bytes(9) + b"\x02\x00"
_HEAD64 = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00"
_MASK = b"\xff" * 7 + b"\x00" + b"\xff" * 8 + b"\xfe\xff\xff\xff"
_MASK_X86 = b"\xff" * 5 + b"\xfe\xfe\x00" + b"\xff" * 8 + b"\xfe\xff\xff\xff"
