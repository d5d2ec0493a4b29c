/*
 * 64-bit values through every ABI, the 32-bit ones especially: file offsets above 4 GiB
 * (ftruncate, pwrite/pread, lseek, fstat of a sparse file, record locks), times after 2038
 * (utimensat and statx), and thread-local variables read from a second thread.
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
    {"tls", check_tls},
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
