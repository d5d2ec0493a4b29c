"""mipsel o32 ABI data: 32-bit words, 64-bit scalars 8-aligned, and MIPS's own numbers for
almost everything (docs/abi.md §4; values from the kernel's arch/mips uapi headers, checked by
tests/unit/test_abi_compiled.py against the compiler). Tables map host (x86_64) values to
guest values; what is not listed is the same on both."""

from syscalls.abi import generic
from syscalls.abi.schema import AbiData
from syscalls.abi.structs import SEMID64_MIPS32, SHMID64_MIPS32, Field


class MipselAbi(AbiData):
    ALIGN64 = 8
    CLONE_BACKWARDS = True  # clone(flags, newsp, ptid, tls, ctid)
    EPOLL_PACKED = False
    PAIR_ALIGN = True  # 64-bit arguments start at an even argument slot (a0/a2, or the stack)
    STACK_ARGS = 16  # arguments 5..8 are read from the guest stack at sp+16

    # struct stat64 (104 bytes): 32-bit st_dev/st_rdev, times before st_blksize.
    STAT: list[Field] = [
        ("st_dev", "u32"), ("pad:12", "pad:12"), ("st_ino", "u64"), ("st_mode", "u32"),
        ("st_nlink", "u32"), ("st_uid", "u32"), ("st_gid", "u32"), ("st_rdev", "u32"),
        ("pad:12b", "pad:12"), ("st_size", "s64"), ("st_atime", "s32"), ("st_atime_nsec", "u32"),
        ("st_mtime", "s32"), ("st_mtime_nsec", "u32"), ("st_ctime", "s32"),
        ("st_ctime_nsec", "u32"), ("st_blksize", "u32"), ("pad:4", "pad:4"), ("st_blocks", "s64"),
    ]
    # struct stat of the old stat/lstat/fstat calls (144 bytes): 32-bit words, padding after
    STAT_OLD: list[Field] = [
        ("st_dev", "u32"), ("pad:12", "pad:12"), ("st_ino", "u32"), ("st_mode", "u32"),
        ("st_nlink", "u32"), ("st_uid", "u32"), ("st_gid", "u32"), ("st_rdev", "u32"),
        ("pad:8", "pad:8"), ("st_size", "s32"), ("pad:4", "pad:4"), ("st_atime", "s32"),
        ("st_atime_nsec", "u32"), ("st_mtime", "s32"), ("st_mtime_nsec", "u32"),
        ("st_ctime", "s32"), ("st_ctime_nsec", "u32"), ("st_blksize", "u32"),
        ("st_blocks", "u32"), ("pad:56", "pad:56"),
    ]
    # struct statfs and statfs64: f_frsize third, f_files and f_ffree before f_bavail, f_spare[5]
    SHMID64 = SHMID64_MIPS32  # the times' high halves at the end
    SEMID64 = SEMID64_MIPS32
    STATFS: list[Field] = [
        ("f_type", "u32"), ("f_bsize", "u32"), ("f_frsize", "u32"), ("f_blocks", "u32"),
        ("f_bfree", "u32"), ("f_files", "u32"), ("f_ffree", "u32"), ("f_bavail", "u32"),
        ("f_fsid0", "s32"), ("f_fsid1", "s32"), ("f_namelen", "u32"), ("f_flags", "u32"),
        ("pad:20", "pad:20"),
    ]
    STATFS64: list[Field] = [
        ("f_type", "u32"), ("f_bsize", "u32"), ("f_frsize", "u32"), ("pad:4", "pad:4"),
        ("f_blocks", "u64"), ("f_bfree", "u64"), ("f_files", "u64"), ("f_ffree", "u64"),
        ("f_bavail", "u64"), ("f_fsid0", "s32"), ("f_fsid1", "s32"), ("f_namelen", "u32"),
        ("f_flags", "u32"), ("pad:20", "pad:20"),
    ]
    # struct flock: l_pid then l_sysid and four pad words (36 bytes)
    FLOCK: list[Field] = [("l_type", "s16"), ("l_whence", "s16"), ("l_start", "s32"),
                          ("l_len", "s32"), ("l_sysid", "s32"), ("l_pid", "s32"),
                          ("pad:16", "pad:16")]

    OPEN_FLAGS = generic.OPEN_FLAGS | {
        "O_APPEND": 0x8, "O_DSYNC": 0x10, "O_NONBLOCK": 0x80, "O_CREAT": 0x100, "O_TRUNC": 0x200,
        "O_EXCL": 0x400, "O_NOCTTY": 0x800, "FASYNC": 0x1000, "O_LARGEFILE": 0x2000,
        "__O_SYNC": 0x4000, "O_DIRECT": 0x8000}

    # host errno -> guest errno (1..34 agree; asm/errno.h)
    ERRNO = {
        35: 45, 36: 78, 37: 46, 38: 89, 39: 93, 40: 90, 42: 35, 43: 36, 44: 37, 45: 38, 46: 39,
        47: 40, 48: 41, 49: 42, 50: 43, 51: 44, 52: 50, 53: 51, 54: 52, 55: 53, 56: 54, 57: 55,
        72: 74, 74: 77, 75: 79, 76: 80, 77: 81, 78: 82, 79: 83, 80: 84, 81: 85, 82: 86, 83: 87,
        84: 88, 85: 91, 86: 92, 87: 94, 88: 95, 89: 96, 90: 97, 91: 98, 92: 99, 93: 120, 94: 121,
        95: 122, 96: 123, 97: 124, 98: 125, 99: 126, 100: 127, 101: 128, 102: 129, 103: 130,
        104: 131, 105: 132, 106: 133, 107: 134, 108: 143, 109: 144, 110: 145, 111: 146, 112: 147,
        113: 148, 114: 149, 115: 150, 116: 151, 117: 135, 118: 137, 119: 138, 120: 139, 121: 140,
        122: 1133, 123: 159, 124: 160, 125: 158, 126: 161, 127: 162, 128: 163, 129: 164, 130: 165,
        131: 166, 132: 167, 133: 168,
    }

    # host signal -> guest signal (asm/signal.h). SIGSTKFLT and SIGEMT stand in for each other;
    # 32..64 agree, and the guest's 65..127 have no host counterpart.
    SIGNALS = {
        7: 10, 10: 16, 12: 17, 16: 7, 17: 18, 18: 25, 19: 23, 20: 24, 21: 26, 22: 27, 23: 21,
        24: 30, 25: 31, 26: 28, 27: 29, 28: 20, 29: 22, 30: 19, 31: 12,
    }
    NSIG = 128  # sigset_t is 16 bytes
    SIG_HOW = {0: 1, 1: 2, 2: 3}  # SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK
    # struct sigaction: flags first, no restorer
    SIGACTION: list[Field] = [("sa_flags", "u32"), ("sa_handler", "ptr"), ("sa_mask", "bytes:16")]
    SA_FLAGS = {0x4: 0x8, 0x2: 0x10000}  # SA_SIGINFO, SA_NOCLDWAIT
    SIGINFO_CODE_ERRNO = (4, 8)  # si_code before si_errno
    # host SI_ASYNCIO -4, SI_TIMER -2, SI_MESGQ -3 (asm-generic) are -2, -3, -4 on mips
    SI_CODES = {-4: -2, -2: -3, -3: -4}
    STACK_T: list[Field] = [("ss_sp", "ptr"), ("ss_size", "ulong"), ("ss_flags", "s32")]

    MAP_FLAGS = {0x20: 0x800, 0x4000: 0x400, 0x100: 0x1000, 0x800: 0x2000, 0x1000: 0x4000,
                 0x2000: 0x8000, 0x8000: 0x10000, 0x10000: 0x20000, 0x20000: 0x40000,
                 0x40000: 0x80000}  # ANONYMOUS NORESERVE GROWSDOWN DENYWRITE ... HUGETLB
    SOCK_TYPES = {1: 2, 2: 1}  # SOCK_STREAM, SOCK_DGRAM
    SOL_SOCKET = 0xFFFF
    SOCKOPTS = {2: 4, 3: 0x1008, 4: 0x1007, 5: 0x10, 6: 0x20, 7: 0x1001, 8: 0x1002, 9: 8,
                10: 0x100, 13: 0x80, 15: 0x200, 16: 17, 17: 18, 18: 0x1004, 19: 0x1003,
                20: 0x1006, 21: 0x1005, 30: 0x1009, 31: 30, 32: 31, 38: 0x1028, 39: 0x1029}
    RLIMITS = {5: 7, 6: 8, 7: 5, 8: 9, 9: 6}  # RSS NPROC NOFILE MEMLOCK AS
    RLIM_INFINITY = 0x7FFFFFFF  # in the 32-bit struct rlimit of getrlimit
    POLL_EVENTS = {0x100: 0x4, 0x200: 0x100}  # POLLWRNORM (= POLLOUT), POLLWRBAND
    POLL_EVENTS_IN = {0x200: 0x100}  # a guest POLLOUT asks the host for POLLOUT only
    FCNTL_CMDS = {5: 14, 8: 24, 9: 23, 12: 33, 13: 34, 14: 35}  # GETLK SETOWN GETOWN *LK64
    # host (asm-generic) ioctl request -> guest request (asm/ioctls.h): MIPS numbers most tty
    # requests anew and encodes _IOR/_IOW with three direction bits (READ 2, WRITE 4, NONE 1)
    IOCTLS = {
        0x5401: 0x540D, 0x5402: 0x540E, 0x5403: 0x540F, 0x5404: 0x5410, 0x5405: 0x5401,
        0x5406: 0x5402, 0x5407: 0x5403, 0x5408: 0x5404, 0x5409: 0x5405, 0x540A: 0x5406,
        0x540B: 0x5407, 0x540C: 0x740D, 0x540D: 0x740E, 0x540E: 0x5480, 0x540F: 0x40047477,
        0x5410: 0x80047476, 0x5411: 0x7472, 0x5412: 0x5472, 0x5413: 0x40087468,
        0x5414: 0x80087467, 0x5415: 0x741D, 0x5416: 0x741B, 0x5417: 0x741C, 0x5418: 0x741A,
        0x5419: 0x5481, 0x541A: 0x5482, 0x541B: 0x467F, 0x541C: 0x5483, 0x541D: 0x80047478,
        0x541E: 0x5484, 0x541F: 0x5485, 0x5420: 0x5470, 0x5421: 0x667E, 0x5422: 0x5471,
        0x5423: 0x7401, 0x5424: 0x7400, 0x5425: 0x5486, 0x5429: 0x7416,
        0x802C542A: 0x4030542A, 0x402C542B: 0x8030542B, 0x402C542C: 0x8030542C,
        0x402C542D: 0x8030542D, 0x80045430: 0x40045430, 0x40045431: 0x80045431,
        0x80045432: 0x40045432, 0x40045436: 0x80045436, 0x80045438: 0x40045438,
        0x80045439: 0x40045439, 0x80045440: 0x40045440, 0x5441: 0x20005441, 0x5450: 0x6602,
        0x5451: 0x6601, 0x5452: 0x667D, 0x5456: 0x548B, 0x5457: 0x548C, 0x5460: 0x667F,
    }
    # termios: NCCS 23 (struct termios is 40 bytes, termios2 48), other c_cc slots, and the
    # lflag bits TOSTOP, IEXTEN and FLUSHO moved
    NCCS = 23
    TERMIOS_CC = {4: 16, 6: 4, 11: 17, 16: 6}  # host index -> guest index (VEOF VMIN VEOL VEOL2)
    TERMIOS_LFLAG = {0x100: 0x8000, 0x8000: 0x100, 0x1000: 0x2000}  # TOSTOP IEXTEN FLUSHO
    SHMLBA = 0x40000  # shmat's address alignment: 256 KiB (cache aliasing)


DATA = MipselAbi()
