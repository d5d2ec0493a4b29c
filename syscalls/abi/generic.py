"""Constants shared by most ABIs (the x86_64 values; arch modules override). Data only."""

# open(2) flags that differ between ABIs (docs/abi.md §4.1); all other O_* bits are identical.
O_DIRECT = 0x4000
O_LARGEFILE = 0x8000
O_DIRECTORY = 0x10000
O_NOFOLLOW = 0x20000
OPEN_FLAGS = {"O_DIRECT": O_DIRECT, "O_LARGEFILE": O_LARGEFILE, "O_DIRECTORY": O_DIRECTORY,
              "O_NOFOLLOW": O_NOFOLLOW, "O_CREAT": 0x40, "O_EXCL": 0x80, "O_NOCTTY": 0x100,
              "O_TRUNC": 0x200, "O_APPEND": 0x400, "O_NONBLOCK": 0x800, "O_DSYNC": 0x1000,
              "FASYNC": 0x2000, "__O_SYNC": 0x100000}
