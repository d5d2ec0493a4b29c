"""s390x ABI data (64-bit, big-endian): its own struct stat and statfs, clone with the stack
pointer first. Layouts checked against s390x-linux-gnu-gcc's (see tests/unit)."""

from syscalls.abi import generic
from syscalls.abi.schema import AbiData
from syscalls.abi.structs import Field

# arch/s390/include/uapi/asm/stat.h (144 bytes): the times before st_blksize and st_blocks
STAT_S390X: list[Field] = [
    ("st_dev", "u64"), ("st_ino", "u64"), ("st_nlink", "u64"), ("st_mode", "u32"),
    ("st_uid", "u32"), ("st_gid", "u32"), ("pad:4", "pad:4"), ("st_rdev", "u64"),
    ("st_size", "s64"), ("st_atime", "u64"), ("st_atime_nsec", "u64"), ("st_mtime", "u64"),
    ("st_mtime_nsec", "u64"), ("st_ctime", "u64"), ("st_ctime_nsec", "u64"),
    ("st_blksize", "s64"), ("st_blocks", "s64"), ("pad:24", "pad:24"),
]
# arch/s390/include/uapi/asm/statfs.h (88 bytes): 32-bit type, block size, name length,
# fragment size and flags around 64-bit counts
STATFS_S390X: list[Field] = [
    ("f_type", "u32"), ("f_bsize", "u32"), ("f_blocks", "u64"), ("f_bfree", "u64"),
    ("f_bavail", "u64"), ("f_files", "u64"), ("f_ffree", "u64"), ("f_fsid0", "s32"),
    ("f_fsid1", "s32"), ("f_namelen", "u32"), ("f_frsize", "u32"), ("f_flags", "u32"),
    ("pad:20", "pad:20"),
]


class S390xAbi(AbiData):
    ALIGN64 = 8
    STAT = STAT_S390X
    STATFS = STATFS_S390X
    STATFS64 = STATFS_S390X
    OPEN_FLAGS = generic.OPEN_FLAGS
    CLONE_BACKWARDS = False  # clone(newsp, flags, ptid, ctid, tls): CLONE_SP_FIRST
    CLONE_SP_FIRST = True
    IPC_FIVE_ARGS = True
    EPOLL_PACKED = False


DATA = S390xAbi()
