/*
 * Process, identity, time and terminal queries.
 *
 * Printed values that are the same for two runs by the same user on the same
 * host: uname sysname/machine (machine differs per guest arch), the uid/gid
 * values and the group count.  Everything else is asserted, not printed.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "guestcheck.h"

static int64_t ns_of(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    CHECK_SYS("clock", clock_gettime(CLOCK_MONOTONIC, &ts));
    return ns_of(&ts);
}

static void check_identity(void)
{
    struct utsname u;
    CHECK_SYS("uname", uname(&u));
    CHECK("uname", u.sysname[0] != 0 && u.machine[0] != 0 && u.release[0] != 0);
    printf("sysname=%s\n", u.sysname);
    printf("machine=%s\n", u.machine);
    printf("release=%s\n", u.release);
    CHECK("uname", strcmp(u.sysname, "Linux") == 0);
    guest_ok("uname");

    pid_t pid = getpid();
    CHECK("pids", pid > 0);
    CHECK("pids", getppid() > 0);
    CHECK("pids", getppid() != pid);
    CHECK("pids", (pid_t)syscall(SYS_gettid) == pid);
    /* 0 when the leader lives in an ancestor pid namespace (containers). */
    CHECK("pids", getpgrp() >= 0);
    CHECK("pids", getsid(0) >= 0);
    guest_ok("pids");

    uid_t uid = getuid(), euid = geteuid();
    gid_t gid = getgid(), egid = getegid();
    printf("uid=%u euid=%u gid=%u egid=%u\n", (unsigned)uid, (unsigned)euid, (unsigned)gid,
           (unsigned)egid);
    uid_t r, e, s;
    CHECK_SYS("ids", getresuid(&r, &e, &s));
    CHECK("ids", r == uid && e == euid);
    gid_t gr, ge, gs;
    CHECK_SYS("ids", getresgid(&gr, &ge, &gs));
    CHECK("ids", gr == gid && ge == egid);
    int ngroups = getgroups(0, NULL);
    CHECK("ids", ngroups >= 0);
    gid_t groups[256];
    if (ngroups <= 256)
        CHECK("ids", getgroups(256, groups) == ngroups);
    printf("ngroups=%d\n", ngroups);
    guest_ok("ids");
}

static void check_resources(void)
{
    struct sysinfo si;
    CHECK_SYS("sysinfo", sysinfo(&si));
    CHECK("sysinfo", si.uptime > 0);
    CHECK("sysinfo", si.mem_unit > 0);
    CHECK("sysinfo", si.totalram > 0);
    CHECK("sysinfo", si.freeram <= si.totalram);
    CHECK("sysinfo", si.procs > 0);
    guest_ok("sysinfo");

    struct rlimit rl, rl2;
    CHECK_SYS("rlimit", getrlimit(RLIMIT_NOFILE, &rl));
    CHECK("rlimit", rl.rlim_cur <= rl.rlim_max);
    CHECK("rlimit", rl.rlim_cur >= 64);
    CHECK_SYS("rlimit", getrlimit(RLIMIT_STACK, &rl2));
    CHECK("rlimit", rl2.rlim_cur > 0 && rl2.rlim_cur <= rl2.rlim_max);
    CHECK_SYS("rlimit", prlimit(0, RLIMIT_NOFILE, NULL, &rl2));
    CHECK("rlimit", rl2.rlim_cur == rl.rlim_cur && rl2.rlim_max == rl.rlim_max);
    CHECK_SYS("rlimit", prlimit(getpid(), RLIMIT_NOFILE, NULL, &rl2));
    CHECK("rlimit", rl2.rlim_cur == rl.rlim_cur);
    /* Lower the soft limit and read it back, then restore it. */
    struct rlimit lower = {64, rl.rlim_max};
    CHECK_SYS("rlimit", setrlimit(RLIMIT_NOFILE, &lower));
    CHECK_SYS("rlimit", getrlimit(RLIMIT_NOFILE, &rl2));
    CHECK("rlimit", rl2.rlim_cur == 64 && rl2.rlim_max == rl.rlim_max);
    CHECK_SYS("rlimit", setrlimit(RLIMIT_NOFILE, &rl));
    guest_ok("rlimit");

    unsigned char rnd[16], rnd2[16];
    memset(rnd, 0, sizeof rnd);
    CHECK("getrandom", getrandom(rnd, sizeof rnd, 0) == (ssize_t)sizeof rnd);
    CHECK("getrandom", getrandom(rnd2, sizeof rnd2, GRND_NONBLOCK) == (ssize_t)sizeof rnd2);
    unsigned acc = 0;
    for (size_t i = 0; i < sizeof rnd; i++)
        acc |= rnd[i];
    CHECK("getrandom", acc != 0);
    CHECK("getrandom", memcmp(rnd, rnd2, sizeof rnd) != 0);
    guest_ok("getrandom");
}

static void check_time(void)
{
    struct timespec a, b, res;
    CHECK_SYS("clock_gettime", clock_gettime(CLOCK_MONOTONIC, &a));
    for (volatile int i = 0; i < 100000; i++) {
    }
    CHECK_SYS("clock_gettime", clock_gettime(CLOCK_MONOTONIC, &b));
    CHECK("clock_gettime", ns_of(&b) >= ns_of(&a));
    CHECK("clock_gettime", a.tv_nsec >= 0 && a.tv_nsec < 1000000000);
    int64_t prev = mono_ns();
    for (int i = 0; i < 100; i++) {
        int64_t now = mono_ns();
        CHECK("clock_gettime", now >= prev);
        prev = now;
    }
    struct timespec rt;
    CHECK_SYS("clock_gettime", clock_gettime(CLOCK_REALTIME, &rt));
    time_t t = time(NULL);
    CHECKF("clock_gettime", llabs((long long)rt.tv_sec - (long long)t) <= 2,
           "realtime %lld vs time %lld", (long long)rt.tv_sec, (long long)t);
    CHECK("clock_gettime", t > 1600000000);
    CHECK_SYS("clock_gettime", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a));
    CHECK_SYS("clock_gettime", clock_gettime(CLOCK_BOOTTIME, &a));
    CHECK("clock_gettime", a.tv_sec > 0 || a.tv_nsec > 0);
    guest_ok("clock_gettime");

    CHECK_SYS("clock_getres", clock_getres(CLOCK_MONOTONIC, &res));
    CHECK("clock_getres", res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 1000000);
    CHECK_SYS("clock_getres", clock_getres(CLOCK_REALTIME, &res));
    CHECK("clock_getres", res.tv_sec == 0 && res.tv_nsec > 0);
    guest_ok("clock_getres");

    struct timeval tv;
    CHECK_SYS("gettimeofday", gettimeofday(&tv, NULL));
    CHECK("gettimeofday", tv.tv_usec >= 0 && tv.tv_usec < 1000000);
    CHECK("gettimeofday", llabs((long long)tv.tv_sec - (long long)time(NULL)) <= 2);
    guest_ok("gettimeofday");

    int64_t start = mono_ns();
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    CHECK_SYS("nanosleep", nanosleep(&ten_ms, NULL));
    int64_t slept = mono_ns() - start;
    CHECKF("nanosleep", slept >= 10 * 1000 * 1000, "slept %lld ns", (long long)slept);
    CHECKF("nanosleep", slept < 5LL * 1000 * 1000 * 1000, "slept %lld ns", (long long)slept);
    guest_ok("nanosleep");

    start = mono_ns();
    CHECK("clock_nanosleep", clock_nanosleep(CLOCK_MONOTONIC, 0, &ten_ms, NULL) == 0);
    CHECK("clock_nanosleep", mono_ns() - start >= 10 * 1000 * 1000);
    struct timespec deadline;
    CHECK_SYS("clock_nanosleep", clock_gettime(CLOCK_MONOTONIC, &deadline));
    deadline.tv_nsec += 5 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_nsec -= 1000000000;
        deadline.tv_sec++;
    }
    CHECK("clock_nanosleep",
          clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == 0);
    CHECK("clock_nanosleep", mono_ns() >= ns_of(&deadline));
    guest_ok("clock_nanosleep");
}

static void check_sched_tty(void)
{
    CHECK("sched_yield", sched_yield() == 0);
    guest_ok("sched_yield");

    cpu_set_t set;
    CPU_ZERO(&set);
    CHECK_SYS("sched_getaffinity", sched_getaffinity(0, sizeof set, &set));
    CHECKF("sched_getaffinity", CPU_COUNT(&set) > 0, "count %d", CPU_COUNT(&set));
    CHECK("sched_getaffinity", sysconf(_SC_NPROCESSORS_ONLN) > 0);
    guest_ok("sched_getaffinity");

    int p[2];
    CHECK_SYS("ioctl", pipe(p));
    struct winsize ws;
    EXPECT_ERRNO("ioctl", ioctl(p[0], TIOCGWINSZ, &ws), ENOTTY);
    CHECK("ioctl", write(p[1], "12345", 5) == 5);
    int avail = -1;
    CHECK_SYS("ioctl", ioctl(p[0], FIONREAD, &avail));
    CHECKF("ioctl", avail == 5, "FIONREAD gave %d", avail);
    EXPECT_ERRNO("ioctl", ioctl(1000, FIONREAD, &avail), EBADF);
    struct termios tio;
    EXPECT_ERRNO("ioctl", tcgetattr(p[0], &tio), ENOTTY);
    guest_ok("ioctl");

    errno = 0;
    CHECK("isatty", isatty(p[0]) == 0);
    CHECK("isatty", errno == ENOTTY);
    CHECK("isatty", isatty(p[1]) == 0);
    close(p[0]);
    close(p[1]);
    guest_ok("isatty");
}

/* A pty's line discipline settings through tcgetattr/tcsetattr: the defaults a new pty
 * has, control characters in their ABI's slots, lflag bits and the output speed. */
static void check_pty(void)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK("pty", m >= 0);
    CHECK("pty", grantpt(m) == 0 && unlockpt(m) == 0);
    int s = open(ptsname(m), O_RDWR | O_NOCTTY);
    CHECK("pty", s >= 0);
    CHECK("pty", isatty(s) == 1);
    struct termios t, u;
    CHECK_SYS("pty", tcgetattr(s, &t));
    CHECKF("pty", t.c_cc[VEOF] == 4 && t.c_cc[VMIN] == 1 && t.c_cc[VINTR] == 3 &&
                      t.c_cc[VERASE] == 0x7f && t.c_cc[VSUSP] == 26,
           "eof %d min %d intr %d erase %d", t.c_cc[VEOF], t.c_cc[VMIN], t.c_cc[VINTR],
           t.c_cc[VERASE]);
    CHECKF("pty", (t.c_lflag & (ICANON | ECHO | ISIG | IEXTEN)) == (ICANON | ECHO | ISIG | IEXTEN),
           "lflag %#x", (unsigned)t.c_lflag);
    CHECK("pty", !(t.c_lflag & TOSTOP));
    t.c_cc[VEOL] = 'x';
    t.c_cc[VEOL2] = 'y';
    t.c_cc[VTIME] = 7;
    t.c_lflag |= TOSTOP;
    t.c_lflag &= ~(IEXTEN | ECHO);
    CHECK("pty", cfsetospeed(&t, B9600) == 0);
    CHECK_SYS("pty", tcsetattr(s, TCSANOW, &t));
    memset(&u, 0, sizeof u);
    CHECK_SYS("pty", tcgetattr(m, &u));
    CHECKF("pty", u.c_cc[VEOL] == 'x' && u.c_cc[VEOL2] == 'y' && u.c_cc[VTIME] == 7 &&
                      u.c_cc[VEOF] == 4 && u.c_cc[VMIN] == 1,
           "eol %d eol2 %d time %d eof %d", u.c_cc[VEOL], u.c_cc[VEOL2], u.c_cc[VTIME],
           u.c_cc[VEOF]);
    CHECKF("pty", (u.c_lflag & (TOSTOP | IEXTEN | ECHO | ICANON)) == (TOSTOP | ICANON),
           "lflag %#x", (unsigned)u.c_lflag);
    CHECK("pty", cfgetospeed(&u) == B9600);
    /* canonical input: a line is readable once its end (here the VEOL character) arrives */
    CHECK("pty", write(m, "abx", 3) == 3);
    char buf[8];
    CHECK("pty", read(s, buf, sizeof buf) == 3 && memcmp(buf, "abx", 3) == 0);
    struct winsize ws = {.ws_row = 33, .ws_col = 101}, ws2;
    CHECK_SYS("pty", ioctl(m, TIOCSWINSZ, &ws));
    CHECK_SYS("pty", ioctl(s, TIOCGWINSZ, &ws2));
    CHECK("pty", ws2.ws_row == 33 && ws2.ws_col == 101);
    close(s);
    close(m);
    guest_ok("pty");
}

/* The word-sized struct rlimit of the older calls on 32-bit ABIs: RLIM_INFINITY is
 * 0xffffffff in ugetrlimit, 0x7fffffff in i386's old getrlimit and in mips's. */
static void check_rlimit_words(void)
{
#if __SIZEOF_POINTER__ == 4
    struct rlimit rl, as;
    CHECK_SYS("rlimit_words", getrlimit(RLIMIT_NOFILE, &rl));
    CHECK_SYS("rlimit_words", getrlimit(RLIMIT_AS, &as));
    uint32_t w[2];
#ifdef SYS_ugetrlimit
    CHECK_SYS("rlimit_words", syscall(SYS_ugetrlimit, RLIMIT_NOFILE, w));
    CHECK("rlimit_words", w[0] == rl.rlim_cur && w[1] == (uint32_t)rl.rlim_max);
    CHECK_SYS("rlimit_words", syscall(SYS_ugetrlimit, RLIMIT_AS, w));
    CHECKF("rlimit_words", as.rlim_cur != RLIM_INFINITY || w[0] == 0xffffffffu, "as %#x", w[0]);
#endif
#ifdef SYS_getrlimit
    CHECK_SYS("rlimit_words", syscall(SYS_getrlimit, RLIMIT_NOFILE, w));
    CHECK("rlimit_words", w[0] == rl.rlim_cur);
    CHECK_SYS("rlimit_words", syscall(SYS_getrlimit, RLIMIT_AS, w));
    CHECKF("rlimit_words", as.rlim_cur != RLIM_INFINITY || w[0] == 0x7fffffffu, "as %#x", w[0]);
#endif
#endif
    guest_ok("rlimit_words");
}

int main(void)
{
    check_identity();
    check_resources();
    check_time();
    check_sched_tty();
    check_pty();
    check_rlimit_words();
    puts("sysinfo done");
    return 0;
}
