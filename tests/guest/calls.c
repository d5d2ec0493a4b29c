/*
 * calls SCRATCH_DIR [check ...]
 *
 * Less common calls that real programs make: whole-file locks, space and cache hints,
 * in-kernel copies (sendfile, copy_file_range), memfd, the set*id family, scheduling
 * priority and policy, and the 32-bit ABIs' waitpid.  One "<check> ok" line per check.
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guestcheck.h"

static const char *dir;

static int scratch(const char *name, int flags)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return open(path, flags | O_CREAT, 0644);
}

static void check_flock(void)
{
    int fd = scratch("locked", O_RDWR);
    CHECK("flock", fd >= 0);
    CHECK_SYS("flock", flock(fd, LOCK_EX));
    int go[2], done[2];
    CHECK("flock", pipe(go) == 0 && pipe(done) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        int mine = scratch("locked", O_RDWR); /* its own open file: its own lock */
        if (flock(mine, LOCK_EX | LOCK_NB) != -1 || errno != EWOULDBLOCK)
            _exit(1);
        if (write(go[1], "g", 1) != 1)
            _exit(2);
        if (flock(mine, LOCK_EX) != 0) /* waits for the parent's unlock */
            _exit(3);
        _exit(write(done[1], "d", 1) == 1 ? 0 : 4);
    }
    char c;
    CHECK("flock", read(go[0], &c, 1) == 1);
    usleep(20000);
    CHECK_SYS("flock", flock(fd, LOCK_UN));
    CHECK("flock", read(done[0], &c, 1) == 1 && c == 'd');
    int st;
    CHECK("flock", waitpid(pid, &st, 0) == pid);
    CHECKF("flock", WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    EXPECT_ERRNO("flock", flock(fd, 0), EINVAL);
    EXPECT_ERRNO("flock", flock(-1, LOCK_SH), EBADF);
    close(fd);
    guest_ok("flock");
}

static void check_space(void)
{
    int fd = scratch("space", O_RDWR | O_TRUNC);
    CHECK("space", fd >= 0);
    int r = fallocate(fd, 0, 0, 1 << 20);
    CHECK("space", r == 0 || errno == EOPNOTSUPP);
    if (r == 0) {
        struct stat st;
        CHECK("space", fstat(fd, &st) == 0 && st.st_size == 1 << 20);
    }
    CHECK("space", posix_fallocate(fd, 0, 3 << 20) == 0);
    struct stat st;
    CHECK("space", fstat(fd, &st) == 0 && st.st_size == 3 << 20);
    CHECK("space", posix_fadvise(fd, 0, 4096, POSIX_FADV_SEQUENTIAL) == 0);
    CHECK_SYS("space", readahead(fd, 0, 65536));
    CHECK_SYS("space", fdatasync(fd));
    sync();
    CHECK_SYS("space", syncfs(fd));
    CHECK_SYS("space", sync_file_range(fd, 0, 4096, SYNC_FILE_RANGE_WRITE));
    close(fd);
    guest_ok("space");
}

static void check_copies(void)
{
    int src = scratch("src", O_RDWR | O_TRUNC);
    CHECK("copies", src >= 0 && write(src, "0123456789abcdef", 16) == 16);
    int p[2];
    CHECK("copies", pipe(p) == 0);
    off_t off = 4;
    CHECK("copies", sendfile(p[1], src, &off, 6) == 6 && off == 10);
    char buf[32] = {0};
    CHECK("copies", read(p[0], buf, sizeof buf) == 6 && memcmp(buf, "456789", 6) == 0);
    CHECK("copies", lseek(src, 12, SEEK_SET) == 12);
    CHECK("copies", sendfile(p[1], src, NULL, 100) == 4 && lseek(src, 0, SEEK_CUR) == 16);
    CHECK("copies", read(p[0], buf, sizeof buf) == 4 && memcmp(buf, "cdef", 4) == 0);
    int dst = scratch("dst", O_RDWR | O_TRUNC);
    CHECK("copies", dst >= 0);
    loff_t in = 2, out = 5;
    ssize_t n = copy_file_range(src, &in, dst, &out, 8, 0);
    CHECKF("copies", n == 8 && in == 10 && out == 13, "n %zd", n);
    CHECK("copies", pread(dst, buf, 8, 5) == 8 && memcmp(buf, "23456789", 8) == 0);
    EXPECT_ERRNO("copies", copy_file_range(src, &in, dst, &out, 8, 1), EINVAL);
    close(src);
    close(dst);
    close(p[0]);
    close(p[1]);
    guest_ok("copies");
}

static void check_memfd(void)
{
    int fd = memfd_create("usermode-test", MFD_CLOEXEC);
    CHECK("memfd", fd >= 0);
    CHECK("memfd", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK("memfd", write(fd, "hello", 5) == 5 && ftruncate(fd, 8192) == 0);
    char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK("memfd", m != MAP_FAILED && memcmp(m, "hello", 5) == 0);
    m[4096] = 'x';
    char c;
    CHECK("memfd", pread(fd, &c, 1, 4096) == 1 && c == 'x');
    munmap(m, 8192);
    close(fd);
    EXPECT_ERRNO("memfd", memfd_create("x", 0x1000), EINVAL);
    guest_ok("memfd");
}

static void check_ids(void)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    CHECK_SYS("ids", setresuid(-1, -1, -1));
    CHECK_SYS("ids", setresgid(-1, -1, -1));
    CHECK_SYS("ids", setreuid(uid, -1));
    CHECK_SYS("ids", setregid(gid, -1));
    CHECK_SYS("ids", setuid(uid));
    CHECK_SYS("ids", setgid(gid));
    CHECK("ids", getuid() == uid && geteuid() == uid && getgid() == gid);
    gid_t groups[64];
    int n = getgroups(64, groups);
    CHECK("ids", n >= 0);
    int r = setgroups(n, groups); /* unchanged: allowed for root, EPERM otherwise */
    CHECK("ids", r == 0 || errno == EPERM);
    CHECK("ids", getgroups(0, NULL) == n);
    guest_ok("ids");
}

static void check_sched(void)
{
    errno = 0;
    int nice0 = getpriority(PRIO_PROCESS, 0);
    CHECK("sched", errno == 0);
    CHECK_SYS("sched", setpriority(PRIO_PROCESS, 0, nice0 + 1));
    CHECKF("sched", getpriority(PRIO_PROCESS, getpid()) == nice0 + 1, "nice %d",
           getpriority(PRIO_PROCESS, 0));
    /* raw calls: musl's wrappers for the policy calls always say ENOSYS */
    CHECK("sched", syscall(SYS_sched_getscheduler, 0) == SCHED_OTHER);
    CHECK("sched", sched_get_priority_max(SCHED_FIFO) == 99);
    CHECK("sched", sched_get_priority_min(SCHED_FIFO) == 1);
    CHECK("sched", sched_get_priority_max(SCHED_OTHER) == 0);
    struct sched_param sp = {.sched_priority = 7};
    CHECK_SYS("sched", syscall(SYS_sched_getparam, 0, &sp));
    CHECK("sched", sp.sched_priority == 0);
    EXPECT_ERRNO("sched", syscall(SYS_sched_getscheduler, -1), EINVAL);
    CHECK_SYS("sched", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp));
    struct timespec ts;
    CHECK_SYS("sched", sched_rr_get_interval(0, &ts));
    CHECK("sched", ts.tv_sec >= 0 && ts.tv_nsec >= 0);
    guest_ok("sched");
}

static void check_waitpid(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(7);
    int st = 0;
#ifdef SYS_waitpid
    CHECK("waitpid", syscall(SYS_waitpid, pid, &st, 0) == pid);
#else
    CHECK("waitpid", waitpid(pid, &st, 0) == pid);
#endif
    CHECK("waitpid", WIFEXITED(st) && WEXITSTATUS(st) == 7);
    guest_ok("waitpid");
}

static const struct guest_check checks[] = {
    {"flock", check_flock}, {"space", check_space}, {"copies", check_copies},
    {"memfd", check_memfd}, {"ids", check_ids},     {"sched", check_sched},
    {"waitpid", check_waitpid},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: calls SCRATCH_DIR [check ...]\n");
        return 2;
    }
    dir = argv[1];
    return guest_run_checks("calls", checks, sizeof checks / sizeof checks[0], argc - 1,
                            argv + 1);
}
