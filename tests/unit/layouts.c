/* Kernel uapi struct sizes and offsets, read back from the compiler's assembly by
 * tests/unit/test_abi_compiled.py. Each value is stored plus 1000000 so that none lands
 * in .bss (a zero would be emitted as .zero, not as a number). */
#include <stddef.h>
#include <asm/stat.h>
#include <asm/termbits.h>
#include <asm/termios.h>
#include <linux/eventpoll.h>
#include <linux/resource.h>
#include <linux/sched.h>
#include <linux/sysinfo.h>
#include <linux/time_types.h>
#include <linux/times.h>
#include <linux/uio.h>

#define V(name, expr) int v_##name = (int)(expr) + 1000000;
#if __SIZEOF_POINTER__ == 4
#define STAT struct stat64 /* what fstat64/fstatat64 fill on 32-bit ABIs */
#else
#define STAT struct stat
#endif

V(stat_size, sizeof(STAT))
V(stat_st_ino, offsetof(STAT, st_ino))
V(stat_st_mode, offsetof(STAT, st_mode))
V(stat_st_nlink, offsetof(STAT, st_nlink))
V(stat_st_rdev, offsetof(STAT, st_rdev))
V(stat_st_size, offsetof(STAT, st_size))
V(stat_st_blksize, offsetof(STAT, st_blksize))
V(stat_st_blocks, offsetof(STAT, st_blocks))
V(stat_st_mtime, offsetof(STAT, st_mtime))
V(stat_st_ctime, offsetof(STAT, st_ctime))
V(timespec64_size, sizeof(struct __kernel_timespec))
V(iovec_size, sizeof(struct iovec))
V(winsize_size, sizeof(struct winsize))
V(sysinfo_size, sizeof(struct sysinfo))
V(sysinfo_procs, offsetof(struct sysinfo, procs))
V(sysinfo_mem_unit, offsetof(struct sysinfo, mem_unit))
V(tms_size, sizeof(struct tms))
V(clone_args_size, sizeof(struct clone_args))
V(rlimit_size, sizeof(struct rlimit))
V(rlimit64_size, sizeof(struct rlimit64))
V(epoll_event_size, sizeof(struct epoll_event))
V(epoll_event_data, offsetof(struct epoll_event, data))
