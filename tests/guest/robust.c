/*
 * What a program can do to its emulator: no data lost and no internal error.
 *
 * zero_len     zero-length buffers (getrandom, sendto with NULL, read, write) return 0
 * setsid       setsid() returns the new session id; vhangup() returns an int
 * huge_sleep   a sleep of centuries is interrupted by a signal (EINTR), not an overflow
 * pipe_signal  1 MiB writes through a pipe while SIGALRM arrives every millisecond
 *              (no SA_RESTART): what write() reports written is exactly what arrives
 * fs_creds     after setfsuid/setfsgid to nobody, waits, forks, threads and signals work
 * many_fds     with every fd the limit allows taken, waits, forks and signals still work
 * arch_prctl   (i386) the x86_64-only call fails with EINVAL
 * long_shebang a #! line whose interpreter does not fit in 256 bytes is ENOEXEC
 * getrandom    random bytes, a bad flag (EINVAL), a bad buffer (EFAULT), a zero length
 * partial_buf  read, pread and write with a buffer that runs into an unmapped page move the
 *              bytes before it (EFAULT only when there are none)
 *
 * usage: robust [check ...]   (no argument: every check)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guestcheck.h"

static volatile sig_atomic_t alarms;
static void on_alarm(int s) { (void)s; alarms++; }

static void set_handler(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;  /* no SA_RESTART: blocked calls see EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void tick_every_ms(int ms)
{
    struct itimerval it = {{0, ms * 1000}, {0, ms * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void check_zero_len(void)
{
    char buf[16];
    int sv[2];
    CHECK("zero_len", getrandom(buf, 0, 0) == 0);
    CHECK_SYS("zero_len", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    CHECK("zero_len", sendto(sv[0], NULL, 0, 0, NULL, 0) == 0);
    CHECK("zero_len", send(sv[0], buf, 0, 0) == 0);
    CHECK("zero_len", write(sv[0], NULL, 0) == 0);
    CHECK("zero_len", read(sv[1], buf, 0) == 0);
    close(sv[0]);
    close(sv[1]);
    guest_ok("zero_len");
}

static void check_setsid(void)
{
    pid_t child = fork();
    CHECK_SYS("setsid", child);
    if (child == 0) {
        pid_t sid = setsid();
        if (sid != getpid())
            _exit(2);
        long r = syscall(SYS_vhangup);  /* root: 0 (no terminal in a new session); else EPERM */
        _exit(r == 0 || errno == EPERM ? 0 : 3);
    }
    int status;
    CHECK_SYS("setsid", waitpid(child, &status, 0));
    CHECKF("setsid", WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    guest_ok("setsid");
}

static void check_huge_sleep(void)
{
    set_handler(SIGALRM, on_alarm);
    struct itimerval it = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
    struct timespec forever = {(time_t)((~(unsigned long long)0 >> 1) / 2), 999999999};
    if (sizeof(time_t) == 4)
        forever.tv_sec = 0x7fffffff;
    int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &forever, NULL);
    CHECKF("huge_sleep", r == EINTR, "clock_nanosleep returned %d", r);
    setitimer(ITIMER_REAL, &it, NULL);
    EXPECT_ERRNO("huge_sleep", nanosleep(&forever, NULL), EINTR);
    guest_ok("huge_sleep");
}

#define CHUNK (1 << 20)
#define TOTAL (4 << 20)

static void check_pipe_signal(void)
{
    int data[2], result[2];
    CHECK_SYS("pipe_signal", pipe(data));
    CHECK_SYS("pipe_signal", pipe(result));
    pid_t reader = fork();
    CHECK_SYS("pipe_signal", reader);
    if (reader == 0) {
        close(data[1]);
        static unsigned char in[65536];
        unsigned long long got = 0, sum = 0;
        for (;;) {
            ssize_t n = read(data[0], in, sizeof in);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            for (ssize_t i = 0; i < n; i++)
                sum = sum * 31 + in[i];
            got += (unsigned long long)n;
        }
        unsigned long long out[2] = {got, sum};
        write(result[1], out, sizeof out);
        _exit(0);
    }
    close(data[0]);
    close(result[1]);
    unsigned char *buf = malloc(CHUNK);
    CHECK("pipe_signal", buf != NULL);
    set_handler(SIGALRM, on_alarm);
    tick_every_ms(1);
    unsigned long long sent = 0, sum = 0;
    unsigned long pos = 0;
    while (sent < TOTAL) {
        size_t want = CHUNK - (sent % CHUNK);
        for (size_t i = 0; i < want; i++)
            buf[i] = (unsigned char)((pos + i) * 7 + ((pos + i) >> 11));
        ssize_t n = write(data[1], buf, want);
        if (n < 0) {
            CHECKF("pipe_signal", errno == EINTR, "write failed");
            continue;
        }
        for (ssize_t i = 0; i < n; i++)
            sum = sum * 31 + buf[i];
        pos += (unsigned long)n;
        sent += (unsigned long long)n;
    }
    tick_every_ms(0);
    close(data[1]);
    unsigned long long theirs[2] = {0, 0};
    ssize_t n;
    do {
        n = read(result[0], theirs, sizeof theirs);
    } while (n < 0 && errno == EINTR);
    CHECK("pipe_signal", n == sizeof theirs);
    int status;
    while (waitpid(reader, &status, 0) < 0 && errno == EINTR) {
    }
    CHECKF("pipe_signal", theirs[0] == sent && theirs[1] == sum,
           "wrote %llu bytes, the reader got %llu (sums %llx, %llx)", sent, theirs[0], sum,
           theirs[1]);
    free(buf);
    guest_ok("pipe_signal");
}

static void *thread_main(void *arg) { return arg; }

/* The work that needs the emulator's own resources: a wait, a child, a thread, a signal. */
static void exercise(const char *name)
{
    struct timespec ms = {0, 1000000};
    CHECK_SYS(name, nanosleep(&ms, NULL));
    pid_t child = fork();
    CHECK_SYS(name, child);
    if (child == 0)
        _exit(7);
    int status;
    CHECK_SYS(name, waitpid(child, &status, 0));
    CHECK(name, WIFEXITED(status) && WEXITSTATUS(status) == 7);
    pthread_t t;
    void *back = NULL;
    CHECK(name, pthread_create(&t, NULL, thread_main, (void *)name) == 0);
    CHECK(name, pthread_join(t, &back) == 0 && back == name);
    alarms = 0;
    set_handler(SIGALRM, on_alarm);
    raise(SIGALRM);
    CHECK(name, alarms == 1);
}

/* Run `fn` in a child: a process left without fds or credentials cannot take the checks
 * after it along, and a crash becomes a FAIL line. */
static void in_child(const char *name, void (*fn)(void))
{
    pid_t child = fork();
    CHECK_SYS(name, child);
    if (child == 0) {
        fn();
        _exit(0);
    }
    int status;
    CHECK_SYS(name, waitpid(child, &status, 0));
    CHECKF(name, WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    guest_ok(name);
}

static void fs_creds_child(void)
{
    setfsgid(65534);
    setfsuid(65534);
    exercise("fs_creds");
}

static void check_fs_creds(void) { in_child("fs_creds", fs_creds_child); }

static void many_fds_child(void)
{
    struct rlimit old, lim;
    CHECK_SYS("many_fds", getrlimit(RLIMIT_NOFILE, &old));
    lim = old;
    if (lim.rlim_max == RLIM_INFINITY || lim.rlim_max > 20000)
        lim.rlim_cur = 20000;
    else
        lim.rlim_cur = lim.rlim_max;
    CHECK_SYS("many_fds", setrlimit(RLIMIT_NOFILE, &lim));
    int first = -1, last = -1, count = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            CHECKF("many_fds", errno == EMFILE, "open failed with %d after %d", errno, count);
            break;
        }
        if (first < 0)
            first = fd;
        last = fd;
        count++;
    }
    CHECKF("many_fds", count > 100, "only %d fds", count);
    /* every fd is taken: what the program itself asks for fails, the emulator works on */
    int p[2];
    EXPECT_ERRNO("many_fds", pipe(p), EMFILE);
    exercise("many_fds");
    for (int fd = first; fd <= last; fd++)
        close(fd);
    CHECK_SYS("many_fds", setrlimit(RLIMIT_NOFILE, &old));
    int fd = open("/dev/null", O_RDONLY);
    CHECK("many_fds", fd == first);
    close(fd);
}

static void check_many_fds(void) { in_child("many_fds", many_fds_child); }

static void check_arch_prctl(void)
{
#if defined(__i386__)
    unsigned long v;
    EXPECT_ERRNO("arch_prctl", syscall(384, 0x1003, &v), EINVAL);  /* i386 arch_prctl */
#endif
    guest_ok("arch_prctl");
}

static void check_long_shebang(void)
{
    char path[] = "/tmp/usermode-shebang-XXXXXX";
    int fd = mkstemp(path);
    CHECK_SYS("long_shebang", fd);
    char line[400];
    memset(line, 'x', sizeof line);
    memcpy(line, "#!/bin/", 7);
    line[sizeof line - 1] = '\n';
    CHECK("long_shebang", write(fd, line, sizeof line) == (ssize_t)sizeof line);
    close(fd);
    CHECK_SYS("long_shebang", chmod(path, 0755));
    pid_t child = fork();
    CHECK_SYS("long_shebang", child);
    if (child == 0) {
        char *argv[] = {path, NULL};
        char *envp[] = {NULL};
        execve(path, argv, envp);
        _exit(errno);
    }
    int status;
    CHECK_SYS("long_shebang", waitpid(child, &status, 0));
    unlink(path);
    CHECKF("long_shebang", WIFEXITED(status) && WEXITSTATUS(status) == ENOEXEC,
           "status %#x", status);
    guest_ok("long_shebang");
}

static void check_partial_buf(void)
{
    int fd = (int)syscall(SYS_memfd_create, "partial", 0);
    CHECK_SYS("partial_buf", fd);
    static const char text[100] = "0123456789abcdefghijklmnopqrstuvwxyz";
    CHECK("partial_buf", write(fd, text, sizeof text) == (ssize_t)sizeof text);
    long page = sysconf(_SC_PAGESIZE);
    char *two = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("partial_buf", two != MAP_FAILED);
    CHECK_SYS("partial_buf", munmap(two + page, page));
    ssize_t n = pread(fd, two + page - 10, 50, 0);
    CHECKF("partial_buf", n == 10, "pread %zd", n);
    CHECK("partial_buf", memcmp(two + page - 10, "0123456789", 10) == 0);
    CHECK("partial_buf", lseek(fd, 0, SEEK_SET) == 0);
    n = read(fd, two + page - 4, 50);
    CHECKF("partial_buf", n == 4 && lseek(fd, 0, SEEK_CUR) == 4, "read %zd", n);
    n = write(fd, two + page - 3, 50);
    CHECKF("partial_buf", n == 3 && lseek(fd, 0, SEEK_CUR) == 7, "write %zd", n);
    errno = 0;
    CHECK("partial_buf", read(fd, two + page, 8) == -1 && errno == EFAULT);
    munmap(two, page);
    close(fd);
    guest_ok("partial_buf");
}

static void check_getrandom(void)
{
    unsigned char rnd[64] = {0};
    CHECK("getrandom", syscall(SYS_getrandom, rnd, sizeof rnd, 0) == (long)sizeof rnd);
    int nonzero = 0;
    for (size_t i = 0; i < sizeof rnd; i++)
        nonzero += rnd[i] != 0;
    CHECK("getrandom", nonzero > 32);
    errno = 0;
    CHECK("getrandom", syscall(SYS_getrandom, rnd, sizeof rnd, 0x80) == -1 && errno == EINVAL);
    errno = 0;
    CHECK("getrandom", syscall(SYS_getrandom, NULL, 16, 0) == -1 && errno == EFAULT);
    CHECK("getrandom", syscall(SYS_getrandom, rnd, 0, 0) == 0);
    guest_ok("getrandom");
}

static const struct guest_check checks[] = {
    {"zero_len", check_zero_len},   {"setsid", check_setsid},
    {"huge_sleep", check_huge_sleep}, {"pipe_signal", check_pipe_signal},
    {"fs_creds", check_fs_creds},   {"many_fds", check_many_fds},
    {"arch_prctl", check_arch_prctl}, {"long_shebang", check_long_shebang},
    {"getrandom", check_getrandom},   {"partial_buf", check_partial_buf},
};

int main(int argc, char **argv)
{
    return guest_run_checks("robust", checks, sizeof checks / sizeof checks[0], argc, argv);
}
