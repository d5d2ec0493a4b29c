/* Kernel uapi struct sizes and offsets, read back from the compiler's assembly by
 * tests/unit/test_abi_compiled.py. Each value is stored plus 1000000 so that none lands
 * in .bss (a zero would be emitted as .zero, not as a number). */
#include <stddef.h>
#include <asm/ipcbuf.h>
#include <asm/msgbuf.h>
#include <asm/sembuf.h>
#include <asm/shmbuf.h>
#include <asm/stat.h>
#include <asm/statfs.h>
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
#if __SIZEOF_POINTER__ == 4
V(oldstat_size, sizeof(struct stat)) /* the old stat/lstat/fstat calls */
V(oldstat_st_size, offsetof(struct stat, st_size))
V(oldstat_st_blocks, offsetof(struct stat, st_blocks))
#endif
V(statfs_size, sizeof(struct statfs))
V(statfs_f_blocks, offsetof(struct statfs, f_blocks))
V(statfs_f_bavail, offsetof(struct statfs, f_bavail))
V(statfs_f_fsid, offsetof(struct statfs, f_fsid))
V(statfs_f_namelen, offsetof(struct statfs, f_namelen))
V(statfs_f_flags, offsetof(struct statfs, f_flags))
V(statfs64_size, sizeof(struct statfs64))
V(statfs64_f_bavail, offsetof(struct statfs64, f_bavail))
V(statfs64_f_fsid, offsetof(struct statfs64, f_fsid))
V(statfs64_f_flags, offsetof(struct statfs64, f_flags))
V(termios_size, sizeof(struct termios))
V(termios_c_cc, offsetof(struct termios, c_cc))
V(termios2_size, sizeof(struct termios2))
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
V(ipc64_perm_size, sizeof(struct ipc64_perm))
V(ipc64_perm_seq, offsetof(struct ipc64_perm, seq))
V(shmid64_size, sizeof(struct shmid64_ds))
V(shmid64_segsz, offsetof(struct shmid64_ds, shm_segsz))
V(shmid64_ctime, offsetof(struct shmid64_ds, shm_ctime))
V(shmid64_cpid, offsetof(struct shmid64_ds, shm_cpid))
V(shmid64_nattch, offsetof(struct shmid64_ds, shm_nattch))
V(semid64_size, sizeof(struct semid64_ds))
V(semid64_otime, offsetof(struct semid64_ds, sem_otime))
V(semid64_ctime, offsetof(struct semid64_ds, sem_ctime))
V(semid64_nsems, offsetof(struct semid64_ds, sem_nsems))
V(msqid64_size, sizeof(struct msqid64_ds))
V(msqid64_ctime, offsetof(struct msqid64_ds, msg_ctime))
V(msqid64_qnum, offsetof(struct msqid64_ds, msg_qnum))
V(msqid64_qbytes, offsetof(struct msqid64_ds, msg_qbytes))
V(msqid64_lrpid, offsetof(struct msqid64_ds, msg_lrpid))
