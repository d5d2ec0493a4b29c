/*
 * Signal delivery: SIGALRM interrupting a blocked read (EINTR) and restarting it under
 * SA_RESTART, a spinning loop interrupted by a timer, a SA_SIGINFO handler that changes a
 * register through the ucontext, a stack-overflow handler on sigaltstack, sigsuspend, and
 * SIGPIPE (ignored: EPIPE; default: the process dies of it - last, as "pipe_dies"), signalfd,
 * sigqueue of real-time signals, and blocked default-action signals staying pending.
 *
 * usage: sigs [check ...]   (no argument: every check but pipe_dies and wait_usr1)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "guestcheck.h"

static volatile sig_atomic_t got;
static void on_sig(int s) { got = s; }

static void set_handler(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void arm_timer_ms(int ms)
{
    struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void check_eintr(void)
{
    int p[2];
    CHECK("eintr", pipe(p) == 0);
    set_handler(SIGALRM, on_sig, 0);
    got = 0;
    arm_timer_ms(30);
    char c;
    errno = 0;
    CHECK("eintr", read(p[0], &c, 1) == -1 && errno == EINTR && got == SIGALRM);
    /* SA_RESTART: the read goes on after the handler and gets the byte written later */
    set_handler(SIGALRM, on_sig, SA_RESTART);
    got = 0;
    arm_timer_ms(20);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(150 * 1000);
        write(p[1], "z", 1);
        _exit(0);
    }
    CHECK("eintr", read(p[0], &c, 1) == 1 && c == 'z' && got == SIGALRM);
    close(p[0]);
    close(p[1]);
    guest_ok("eintr");
}

static void check_spin(void)
{
    set_handler(SIGALRM, on_sig, 0);
    got = 0;
    arm_timer_ms(30);
    volatile unsigned long n = 0;
    while (!got)
        n++; /* no syscall: the timer's signal must still get in */
    CHECK("spin", got == SIGALRM && n > 0);
    guest_ok("spin");
}

static volatile uintptr_t seen_pc;

static void on_usr1_info(int sig, siginfo_t *si, void *uc_)
{
    ucontext_t *uc = uc_;
    if (sig != SIGUSR1 || si->si_signo != SIGUSR1 || si->si_pid != getpid())
        return;
#if defined(__aarch64__)
    seen_pc = uc->uc_mcontext.pc;
    uc->uc_mcontext.regs[0] = 12345; /* becomes raise()'s syscall result register */
#elif defined(__x86_64__)
    seen_pc = uc->uc_mcontext.gregs[REG_RIP];
    uc->uc_mcontext.gregs[REG_RAX] = 12345;
#else
    (void)uc; /* other arches: only that the handler ran with the right siginfo */
    seen_pc = 1;
#endif
}

#if defined(__aarch64__) || defined(__x86_64__)
#define CHANGED_RESULT 12345
#else
#define CHANGED_RESULT 0
#endif

static void check_ucontext(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1_info;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    seen_pc = 0;
    long r = syscall(SYS_kill, getpid(), SIGUSR1);
    CHECK("ucontext", seen_pc != 0);
    CHECKF("ucontext", r == CHANGED_RESULT, "kill returned %ld", r);
    guest_ok("ucontext");
}

static sigjmp_buf overflow_jump;
static volatile int on_alt;
static char altstack[64 * 1024];

static void on_overflow(int sig)
{
    int local;
    on_alt = (char *)&local >= altstack && (char *)&local < altstack + sizeof altstack;
    siglongjmp(overflow_jump, sig);
}

static int recurse(int n)
{
    volatile char pad[4096];
    pad[0] = (char)n;
    return recurse(n + 1) + pad[0];
}

static void check_altstack(void)
{
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    CHECK("altstack", sigaltstack(&ss, NULL) == 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_overflow;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    if (sigsetjmp(overflow_jump, 1) == 0)
        recurse(0);
    CHECK("altstack", on_alt);
    signal(SIGSEGV, SIG_DFL);
    guest_ok("altstack");
}

static void check_sigsuspend(void)
{
    set_handler(SIGUSR2, on_sig, 0);
    sigset_t block, old, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, &old);
    got = 0;
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50 * 1000);
        kill(getppid(), SIGUSR2);
        _exit(0);
    }
    sigemptyset(&wait_mask);
    errno = 0;
    CHECK("sigsuspend", sigsuspend(&wait_mask) == -1 && errno == EINTR && got == SIGUSR2);
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    CHECK("sigsuspend", sigismember(&now, SIGUSR2)); /* the caller's mask is back */
    sigprocmask(SIG_SETMASK, &old, NULL);
    guest_ok("sigsuspend");
}

static void check_sigwait(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(30 * 1000);
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    siginfo_t si;
    struct timespec ts = {5, 0};
    CHECK("sigwait", sigtimedwait(&set, &si, &ts) == SIGUSR1 && si.si_code == SI_USER);
    struct timespec short_ts = {0, 10 * 1000 * 1000};
    errno = 0;
    CHECK("sigwait", sigtimedwait(&set, &si, &short_ts) == -1 && errno == EAGAIN);
    waitpid(pid, NULL, 0);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    guest_ok("sigwait");
}

static void check_pipe_ignored(void)
{
    int p[2];
    CHECK("pipe_ignored", pipe(p) == 0);
    signal(SIGPIPE, SIG_IGN);
    close(p[0]);
    errno = 0;
    CHECK("pipe_ignored", write(p[1], "x", 1) == -1 && errno == EPIPE);
    signal(SIGPIPE, SIG_DFL);
    close(p[1]);
    guest_ok("pipe_ignored");
}

static void pipe_dies(void)
{
    int p[2];
    setvbuf(stdout, NULL, _IONBF, 0); /* the line must be out before the signal kills us */
    CHECK("pipe_dies", pipe(p) == 0);
    close(p[0]);
    printf("writing to a closed pipe\n");
    write(p[1], "x", 1);
    printf("FAIL: pipe_dies: still alive\n");
    exit(1);
}

static void check_signalfd(void)
{
    /* blocked signals become readable records; poll sees the fd ready */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    CHECK("signalfd", fd >= 0);
    struct signalfd_siginfo rec[4];
    errno = 0;
    CHECK("signalfd", read(fd, rec, sizeof rec) == -1 && errno == EAGAIN);
    struct pollfd pfd = {fd, POLLIN, 0};
    CHECK("signalfd", poll(&pfd, 1, 0) == 0);
    kill(getpid(), SIGUSR2);
    raise(SIGUSR1);
    CHECK("signalfd", poll(&pfd, 1, 1000) == 1 && (pfd.revents & POLLIN));
    ssize_t n = read(fd, rec, sizeof rec);
    CHECKF("signalfd", n == 2 * (ssize_t)sizeof rec[0], "read %zd", n);
    CHECK("signalfd", rec[0].ssi_signo == SIGUSR1 && rec[1].ssi_signo == SIGUSR2);
    CHECK("signalfd", rec[1].ssi_code == SI_USER && rec[1].ssi_pid == (uint32_t)getpid());
    CHECK("signalfd", rec[1].ssi_uid == getuid());
    CHECK("signalfd", poll(&pfd, 1, 0) == 0);
    /* a blocking read waits for a signal another process sends */
    int flags = fcntl(fd, F_GETFL);
    CHECK("signalfd", fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(50 * 1000);
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    CHECK("signalfd", read(fd, rec, sizeof rec) == sizeof rec[0]);
    CHECK("signalfd", rec[0].ssi_signo == SIGUSR1);
    waitpid(pid, NULL, 0);
    close(fd);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    guest_ok("signalfd");
}

static volatile int rt_values[4];
static volatile int rt_count;
static void on_rt(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    if (rt_count < 4 && si->si_code == SI_QUEUE)
        rt_values[rt_count++] = si->si_value.sival_int;
}

static void check_sigqueue(void)
{
    /* real-time signals queue every instance, with their values, in order */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_rt;
    sa.sa_flags = SA_SIGINFO;
    CHECK("sigqueue", sigaction(SIGRTMIN + 1, &sa, NULL) == 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (int i = 0; i < 3; i++) {
        union sigval v = {.sival_int = 100 + i};
        CHECK("sigqueue", sigqueue(getpid(), SIGRTMIN + 1, v) == 0);
    }
    sigset_t pend;
    CHECK("sigqueue", sigpending(&pend) == 0 && sigismember(&pend, SIGRTMIN + 1));
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    CHECK("sigqueue", rt_count == 3);
    CHECK("sigqueue", rt_values[0] == 100 && rt_values[1] == 101 && rt_values[2] == 102);
    signal(SIGRTMIN + 1, SIG_DFL);
    guest_ok("sigqueue");
}

static void check_blocked_default(void)
{
    /* a blocked signal left at its default action stays pending, even when another process
     * sends it (it must not kill us), and so does the SIGPIPE of a write to a closed pipe */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &set, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        kill(getppid(), SIGTERM);
        _exit(0);
    }
    CHECK("blocked_default", waitpid(pid, NULL, 0) == pid);
    sigset_t pend;
    for (int i = 0; i < 100; i++) {
        sigpending(&pend);
        if (sigismember(&pend, SIGTERM))
            break;
        usleep(10 * 1000);
    }
    CHECK("blocked_default", sigismember(&pend, SIGTERM));
    int p[2];
    CHECK("blocked_default", pipe(p) == 0);
    close(p[0]);
    errno = 0;
    CHECK("blocked_default", write(p[1], "x", 1) == -1 && errno == EPIPE);
    close(p[1]);
    CHECK("blocked_default", sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE));
    struct timespec ts = {1, 0};
    CHECK("blocked_default", sigtimedwait(&set, NULL, &ts) == SIGPIPE); /* lowest first */
    CHECK("blocked_default", sigtimedwait(&set, NULL, &ts) == SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    guest_ok("blocked_default");
}

static const struct guest_check checks[] = {
    {"eintr", check_eintr},         {"spin", check_spin},
    {"ucontext", check_ucontext},   {"altstack", check_altstack},
    {"sigsuspend", check_sigsuspend}, {"sigwait", check_sigwait},
    {"pipe_ignored", check_pipe_ignored}, {"signalfd", check_signalfd},
    {"sigqueue", check_sigqueue},   {"blocked_default", check_blocked_default},
};

static volatile sig_atomic_t usr1_code, usr1_pid, usr1_seen; /* wait_usr1 */

static void on_usr1_waited(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    usr1_code = si->si_code;
    usr1_pid = si->si_pid;
    usr1_seen = 1;
}

static void wait_usr1(void)
{
    /* for a test that sends SIGUSR1 from outside (to our main thread alone, with tgkill) */
    struct sigaction sa = {.sa_sigaction = on_usr1_waited, .sa_flags = SA_SIGINFO};
    CHECK("wait_usr1", sigaction(SIGUSR1, &sa, NULL) == 0);
    printf("ready\n");
    fflush(stdout);
    while (!usr1_seen)
        pause();
    printf("usr1 code=%d pid=%d\n", (int)usr1_code, (int)usr1_pid);
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "pipe_dies") == 0)
        pipe_dies();
    if (argc > 1 && strcmp(argv[1], "wait_usr1") == 0)
        wait_usr1();
    return guest_run_checks("sigs", checks, sizeof checks / sizeof checks[0], argc, argv);
}
