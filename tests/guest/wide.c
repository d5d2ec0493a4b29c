/*
 * 64-bit values through every ABI, the 32-bit ones especially: file offsets above 4 GiB
 * (ftruncate, pwrite/pread, lseek, fstat of a sparse file, record locks), times after 2038
 * (utimensat and statx), thread-local variables read from a second thread, the kernel's
 * struct statfs per ABI (statfs, statfs64 through statvfs) and the narrow struct stat of
 * the old stat calls on 32-bit ABIs (EOVERFLOW for a file above 2 GiB).
 *
 * usage: wide SCRATCH_DIR [check ...]
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#define _TIME_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guestcheck.h"

static const char *dir;
static const int64_t BIG = (int64_t)5 << 30; /* 5 GiB: needs the upper word */

static int scratch(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
}

static void check_offsets(void)
{
    int fd = scratch("sparse");
    CHECK("offsets", fd >= 0);
    CHECK("offsets", ftruncate(fd, BIG + 100) == 0);
    struct stat st;
    CHECK("offsets", fstat(fd, &st) == 0 && st.st_size == BIG + 100);
    CHECK("offsets", pwrite(fd, "far", 3, BIG + 7) == 3);
    char buf[4] = {0};
    CHECK("offsets", pread(fd, buf, 3, BIG + 7) == 3 && memcmp(buf, "far", 3) == 0);
    CHECK("offsets", lseek(fd, BIG + 8, SEEK_SET) == BIG + 8);
    CHECK("offsets", read(fd, buf, 2) == 2 && memcmp(buf, "ar", 2) == 0);
    CHECK("offsets", lseek(fd, 0, SEEK_CUR) == BIG + 10);
    CHECK("offsets", lseek(fd, -1, SEEK_END) == BIG + 99);
    close(fd);
    guest_ok("offsets");
}

static void check_locks(void)
{
    /* a record lock above 4 GiB, seen and refused by another process */
    int fd = scratch("locked");
    CHECK("locks", fd >= 0 && ftruncate(fd, BIG + 100) == 0);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = BIG + 1, .l_len = 10};
    CHECK("locks", fcntl(fd, F_SETLK, &fl) == 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = BIG + 5,
                          .l_len = 1};
        if (fcntl(fd, F_GETLK, &q) != 0 || q.l_type != F_WRLCK || q.l_start != BIG + 1 ||
            q.l_len != 10 || q.l_pid != parent)
            _exit(1);
        q.l_start = BIG + 5;
        if (fcntl(fd, F_SETLK, &q) != -1 || (errno != EAGAIN && errno != EACCES))
            _exit(2);
        q.l_start = BIG + 20; /* past the parent's range: free */
        _exit(fcntl(fd, F_SETLK, &q) == 0 ? 0 : 3);
    }
    int st;
    CHECK("locks", waitpid(pid, &st, 0) == pid);
    CHECKF("locks", WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
    close(fd);
    guest_ok("locks");
}

static void check_y2038(void)
{
    /* 2040-01-01T00:00:00Z, beyond a 32-bit time_t */
    const int64_t when = 2208988800LL;
    int fd = scratch("future");
    CHECK("y2038", fd >= 0);
    struct timespec ts[2] = {{when, 5}, {when + 1, 6}};
    CHECK("y2038", futimens(fd, ts) == 0);
    struct statx sx;
    CHECK("y2038", statx(fd, "", AT_EMPTY_PATH, STATX_ATIME | STATX_MTIME, &sx) == 0);
    CHECKF("y2038", sx.stx_atime.tv_sec == when && sx.stx_mtime.tv_sec == when + 1,
           "atime %lld mtime %lld", (long long)sx.stx_atime.tv_sec,
           (long long)sx.stx_mtime.tv_sec);
    CHECK("y2038", sx.stx_mtime.tv_nsec == 6);
    struct timespec now;
    CHECK("y2038", clock_gettime(CLOCK_REALTIME, &now) == 0 && now.tv_sec > 1600000000);
    close(fd);
    guest_ok("y2038");
}

/* The kernel's struct statfs read as words: f_bsize, f_blocks, f_namelen, and the first
 * word past its end */
#if defined(__s390x__) /* 32-bit type, bsize and namelen around 64-bit counts (88 bytes) */
#define FS_BSIZE(w) (((unsigned *)(w))[1])
#define FS_BLOCKS(w) ((w)[1])
#define FS_NAMELEN(w) (((unsigned *)(w))[14])
enum { FS_WORDS = 11 };
#else
#if defined(__mips__)
enum { FS_BSIZE_I = 1, FS_BLOCKS_I = 3, FS_NAMELEN_I = 10, FS_WORDS = 17 };
#elif __SIZEOF_POINTER__ == 4
enum { FS_BSIZE_I = 1, FS_BLOCKS_I = 2, FS_NAMELEN_I = 9, FS_WORDS = 16 };
#else
enum { FS_BSIZE_I = 1, FS_BLOCKS_I = 2, FS_NAMELEN_I = 8, FS_WORDS = 15 };
#endif
#define FS_BSIZE(w) ((w)[FS_BSIZE_I])
#define FS_BLOCKS(w) ((w)[FS_BLOCKS_I])
#define FS_NAMELEN(w) ((w)[FS_NAMELEN_I])
#endif
#define FILL 0xa5a5a5a5u

static void check_statfs(void)
{
    struct statvfs a, b;
    CHECK_SYS("statfs", statvfs(dir, &a));
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK("statfs", fd >= 0);
    CHECK_SYS("statfs", fstatvfs(fd, &b));
    CHECK("statfs", a.f_bsize > 0 && a.f_bsize == b.f_bsize && a.f_blocks > 0);
    CHECK("statfs", a.f_blocks == b.f_blocks && a.f_namemax == b.f_namemax && a.f_fsid == b.f_fsid);
    CHECK("statfs", a.f_bavail <= a.f_bfree && a.f_bfree <= a.f_blocks);
    /* the plain call fills the kernel's struct statfs in the ABI's field order, no more */
    unsigned long w[40];
    memset(w, 0xa5, sizeof w);
    CHECK_SYS("statfs", syscall(SYS_statfs, dir, w));
    CHECKF("statfs", FS_BSIZE(w) == a.f_bsize && FS_NAMELEN(w) == a.f_namemax,
           "bsize %lu namelen %lu", (unsigned long)FS_BSIZE(w), (unsigned long)FS_NAMELEN(w));
    CHECK("statfs", FS_BLOCKS(w) == a.f_blocks);
    CHECK("statfs", (unsigned)w[FS_WORDS] == FILL);
    memset(w, 0xa5, sizeof w);
    CHECK_SYS("statfs", syscall(SYS_fstatfs, fd, w));
    CHECK("statfs", FS_NAMELEN(w) == a.f_namemax && (unsigned)w[FS_WORDS] == FILL);
    close(fd);
    EXPECT_ERRNO("statfs", statvfs("/nonexistent/x", &a), ENOENT);
    guest_ok("statfs");
}

static void check_oldstat(void)
{
#if __SIZEOF_POINTER__ == 4 && defined(SYS_stat) && defined(SYS_fstat)
#if defined(__mips__)
    enum { ST_SIZE = 12, ST_WORDS = 36 };
#else
    enum { ST_SIZE = 5, ST_WORDS = 16 };
#endif
    char path[512];
    snprintf(path, sizeof path, "%s/small", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK("oldstat", fd >= 0 && write(fd, "12345", 5) == 5);
    uint32_t w[48];
    memset(w, 0xa5, sizeof w);
    long r = syscall(SYS_stat, path, w);
    if (r == 0) { /* EOVERFLOW where the file system's device number needs more than 16 bits */
        CHECKF("oldstat", w[ST_SIZE] == 5, "size word %u", (unsigned)w[ST_SIZE]);
        CHECK("oldstat", w[ST_WORDS] == FILL);
        memset(w, 0xa5, sizeof w);
        CHECK_SYS("oldstat", syscall(SYS_fstat, fd, w));
        CHECK("oldstat", w[ST_SIZE] == 5 && w[ST_WORDS] == FILL);
    } else {
        CHECK("oldstat", errno == EOVERFLOW);
    }
    CHECK("oldstat", ftruncate(fd, BIG) == 0);
    EXPECT_ERRNO("oldstat", syscall(SYS_fstat, fd, w), EOVERFLOW);
    struct stat st; /* stat64 has room for it */
    CHECK("oldstat", fstat(fd, &st) == 0 && st.st_size == BIG);
    close(fd);
#endif
    guest_ok("oldstat");
}

static __thread int tls_a = 11;
static __thread long long tls_b = 0x1122334455667788LL;

static void *tls_thread(void *arg)
{
    (void)arg;
    int ok = tls_a == 11 && tls_b == 0x1122334455667788LL;
    tls_a = 22;
    tls_b = -1;
    return (void *)(intptr_t)ok;
}

static void check_tls(void)
{
    tls_a = 33;
    pthread_t t;
    void *ok = NULL;
    CHECK("tls", pthread_create(&t, NULL, tls_thread, NULL) == 0);
    CHECK("tls", pthread_join(t, &ok) == 0 && ok == (void *)1);
    CHECK("tls", tls_a == 33 && tls_b == 0x1122334455667788LL);
    guest_ok("tls");
}

static const struct guest_check checks[] = {
    {"offsets", check_offsets}, {"locks", check_locks}, {"y2038", check_y2038},
    {"tls", check_tls}, {"statfs", check_statfs}, {"oldstat", check_oldstat},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: wide SCRATCH_DIR [check ...]\n");
        return 2;
    }
    dir = argv[1];
    return guest_run_checks("wide", checks, sizeof checks / sizeof checks[0], argc - 1,
                            argv + 1);
}
