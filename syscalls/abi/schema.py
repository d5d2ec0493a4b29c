"""The schema of an ABI's data: every fact the ABI layer reads from a per-arch data module
(`syscalls/abi/<arch>.py`), declared once with its type and default. Each data module
subclasses `AbiData` with data only and exposes one instance as `DATA`. Tables that renumber
map host (x86_64) values to guest values; empty means the guest uses the host's numbers."""

from __future__ import annotations

from syscalls.abi.structs import Field


class AbiData:
    ALIGN64: int  # alignment of 64-bit scalars in structs
    STAT: list[Field]  # the struct the stat family fills (stat64 on 32-bit ABIs)
    OPEN_FLAGS: dict[str, int]  # the O_* values that differ between ABIs (generic.py)
    CLONE_BACKWARDS: bool  # clone(flags, newsp, ptid, tls, ctid) rather than (.., ctid, tls)
    CLONE_SP_FIRST = False  # s390: clone(newsp, flags, ...) (CONFIG_CLONE_BACKWARDS2)
    IPC_FIVE_ARGS = False  # s390: ipc() has five arguments; SEMTIMEDOP's timeout is the third
    EPOLL_PACKED: bool  # struct epoll_event is 12 bytes
    PAIR_ALIGN = False  # 64-bit arguments start at an even register (or stack slot)
    STACK_ARGS: int | None = None  # mips o32: arguments 5.. are on the stack at sp + this
    # structs laid out the arch's own way (None: the generic layout in structs.py)
    STAT_OLD: list[Field] | None = None  # 32-bit ABIs' struct stat of the old calls
    STATFS: list[Field] | None = None
    STATFS64: list[Field] | None = None
    STATFS64_ALIGN64: int | None = None  # statfs64 packed tighter than ALIGN64
    SHMID64: list[Field] | None = None
    SEMID64: list[Field] | None = None
    FLOCK: list[Field] | None = None
    SIGACTION: list[Field] | None = None
    STACK_T: list[Field] | None = None
    SHMLBA = 4096  # shmat's address alignment
    # numbering (host value -> guest value)
    ERRNO: dict[int, int] = {}
    SIGNALS: dict[int, int] = {}
    NSIG = 64
    SIG_HOW: dict[int, int] = {}
    SA_FLAGS: dict[int, int] = {}
    SIGINFO_CODE_ERRNO = (8, 4)  # offsets of si_code and si_errno (swapped on mips)
    SI_CODES: dict[int, int] = {}  # the user si_codes that differ (mips: SI_TIMER -3...)
    MAP_FLAGS: dict[int, int] = {}
    POLL_EVENTS: dict[int, int] = {}
    POLL_EVENTS_IN: dict[int, int] = {}  # where the guest-to-host direction differs
    SOL_SOCKET = 1
    SOCKOPTS: dict[int, int] = {}
    SOCK_TYPES: dict[int, int] = {}
    RLIMITS: dict[int, int] = {}
    RLIM_INFINITY: int | None = None  # in the word-sized struct rlimit (None: all ones)
    OLD_RLIM_INFINITY: int | None = None  # what the old getrlimit clamps to (None: the same)
    FCNTL_CMDS: dict[int, int] = {}
    IOCTLS: dict[int, int] = {}
    NCCS = 19  # struct termios's c_cc length
    TERMIOS_CC: dict[int, int] = {}  # host c_cc index -> guest index
    TERMIOS_LFLAG: dict[int, int] = {}
