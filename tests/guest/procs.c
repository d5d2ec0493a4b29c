/*
 * Processes: fork and wait statuses, a pipe between parent and child, posix_spawn, execve
 * of ourselves (via /proc/self/exe) and of a #! script, close-on-exec across execve, vfork
 * suspending the parent, signals interrupting or restarting a wait, stop and continue.
 *
 * usage: procs [check ...]   (no argument: every check)
 *        procs exec-child FD   (internal: the program execve'd by the "exec" check)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guestcheck.h"

extern char **environ;

static void check_fork_status(void)
{
    for (int code = 0; code < 3; code++) {
        pid_t pid = fork();
        CHECK("fork_status", pid >= 0);
        if (pid == 0)
            _exit(code * 40 + 1);
        int st;
        CHECK("fork_status", waitpid(pid, &st, 0) == pid);
        CHECK("fork_status", WIFEXITED(st) && WEXITSTATUS(st) == code * 40 + 1);
    }
    /* a child killed by a signal */
    pid_t pid = fork();
    if (pid == 0) {
        kill(getpid(), SIGTERM);
        _exit(99);
    }
    int st;
    struct rusage ru;
    CHECK("fork_status", wait4(pid, &st, 0, &ru) == pid);
    CHECK("fork_status", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    /* WNOHANG with a child still running, then ECHILD once all are reaped */
    int p[2];
    CHECK("fork_status", pipe(p) == 0);
    pid = fork();
    if (pid == 0) {
        char c;
        close(p[1]);
        read(p[0], &c, 1);
        _exit(5);
    }
    close(p[0]);
    CHECK("fork_status", waitpid(pid, &st, WNOHANG) == 0);
    close(p[1]); /* EOF lets the child go */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    CHECK("fork_status", waitid(P_PID, pid, &si, WEXITED) == 0);
    CHECK("fork_status", si.si_pid == pid && si.si_code == CLD_EXITED && si.si_status == 5);
    errno = 0;
    CHECK("fork_status", waitpid(-1, &st, 0) == -1 && errno == ECHILD);
    guest_ok("fork_status");
}

static void check_fork_memory(void)
{
    static int shared_value = 1;
    int p[2];
    CHECK("fork_memory", pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        shared_value = 2; /* the child's copy only */
        char msg[32];
        int n = snprintf(msg, sizeof msg, "child sees %d", shared_value);
        write(p[1], msg, n);
        _exit(0);
    }
    close(p[1]);
    char buf[32] = {0};
    CHECK("fork_memory", read(p[0], buf, sizeof buf - 1) > 0);
    CHECK("fork_memory", strcmp(buf, "child sees 2") == 0);
    int st;
    CHECK("fork_memory", waitpid(pid, &st, 0) == pid && WIFEXITED(st));
    CHECK("fork_memory", shared_value == 1);
    close(p[0]);
    guest_ok("fork_memory");
}

static void check_exec(void)
{
    /* an fd without CLOEXEC survives execve, one with it does not */
    int keep = open("/dev/null", O_RDONLY);
    int gone = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK("exec", keep >= 0 && gone >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        char a[16], b[16];
        snprintf(a, sizeof a, "%d", keep);
        snprintf(b, sizeof b, "%d", gone);
        char *argv[] = {(char *)"procs", (char *)"exec-child", a, b, NULL};
        char *envp[] = {(char *)"PROCS_MARK=exec'd", NULL};
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    int st;
    CHECK("exec", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 42);
    /* errors */
    char *argv[] = {(char *)"x", NULL};
    errno = 0;
    CHECK("exec", execve("/nonexistent/program", argv, environ) == -1 && errno == ENOENT);
    errno = 0;
    CHECK("exec", execve("/", argv, environ) == -1 && errno == EACCES);
    guest_ok("exec");
}

static int exec_child(int argc, char **argv)
{
    if (argc < 4)
        return 1;
    int keep = atoi(argv[2]), gone = atoi(argv[3]);
    const char *mark = getenv("PROCS_MARK");
    int ok = fcntl(keep, F_GETFD) >= 0 && fcntl(gone, F_GETFD) == -1 && errno == EBADF &&
             mark && strcmp(mark, "exec'd") == 0 && strcmp(argv[0], "procs") == 0;
    return ok ? 42 : 3;
}

static void check_script(void)
{
    char dir[] = "/tmp/usermode-procs-XXXXXX";
    CHECK("script", mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/s.sh", dir);
    FILE *f = fopen(path, "w");
    CHECK("script", f != NULL);
    fprintf(f, "#!/bin/sh\necho \"script got $1\"\nexit 7\n");
    fclose(f);
    CHECK("script", chmod(path, 0755) == 0);
    int p[2];
    CHECK("script", pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        char *argv[] = {path, (char *)"arg1", NULL};
        execve(path, argv, environ);
        _exit(127);
    }
    close(p[1]);
    char buf[64] = {0};
    int n = 0, r;
    while ((r = read(p[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += r;
    int st;
    CHECK("script", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7);
    CHECK("script", strcmp(buf, "script got arg1\n") == 0);
    unlink(path);
    rmdir(dir);
    guest_ok("script");
}

static void check_spawn(void)
{
    pid_t pid;
    char *argv[] = {(char *)"procs", (char *)"exec-child", (char *)"0", (char *)"99", NULL};
    char *envp[] = {(char *)"PROCS_MARK=exec'd", NULL};
    CHECK("spawn", posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, envp) == 0);
    int st;
    CHECK("spawn", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 42);
    guest_ok("spawn");
}

static void check_resources(void)
{
    struct rusage ru;
    CHECK("resources", getrusage(RUSAGE_SELF, &ru) == 0);
    struct tms t;
    CHECK("resources", times(&t) != (clock_t)-1);
    int sig = -1;
    CHECK("resources", prctl(PR_SET_PDEATHSIG, SIGTERM) == 0);
    CHECK("resources", prctl(PR_GET_PDEATHSIG, &sig) == 0 && sig == SIGTERM);
    prctl(PR_SET_PDEATHSIG, 0);
    pid_t pid = fork();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    CHECK("resources", fd >= 0);
    CHECK("resources", syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0);
    int st = 0;
    pid_t got = waitpid(pid, &st, 0);
    CHECKF("resources", got == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
           "waitpid %d/%d status %#x", (int)got, (int)pid, st);
    close(fd);
    guest_ok("resources");
}

static void check_vfork(void)
{
    /* the parent sleeps until the child exits (or execs): the child's byte comes first */
    int p[2];
    CHECK("vfork", pipe(p) == 0);
    pid_t pid = vfork();
    if (pid == 0) {
        usleep(100 * 1000);
        write(p[1], "c", 1);
        _exit(7);
    }
    CHECK("vfork", pid > 0);
    write(p[1], "p", 1);
    char buf[3] = {0};
#if defined(__mips__) && !defined(__GLIBC__)
    /* musl has no mips vfork of its own: it forks, and the parent does not wait */
    CHECK("vfork", read(p[0], buf, 1) == 1 && read(p[0], buf + 1, 1) == 1 &&
                   (strcmp(buf, "cp") == 0 || strcmp(buf, "pc") == 0));
#else
    CHECK("vfork", read(p[0], buf, 2) == 2 && strcmp(buf, "cp") == 0);
#endif
    int st;
    CHECK("vfork", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7);
    close(p[0]);
    close(p[1]);
    guest_ok("vfork");
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

static void check_wait_signals(void)
{
    /* a signal without SA_RESTART ends a blocked waitpid with EINTR, one with it restarts */
    for (int restart = 0; restart < 2; restart++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sa.sa_flags = restart ? SA_RESTART : 0;
        CHECK("wait_signals", sigaction(SIGALRM, &sa, NULL) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            usleep(400 * 1000);
            _exit(3);
        }
        alarms = 0;
        struct itimerval it = {{0, 0}, {0, 100 * 1000}};
        CHECK("wait_signals", setitimer(ITIMER_REAL, &it, NULL) == 0);
        int st = 0;
        errno = 0;
        pid_t r = waitpid(pid, &st, 0);
        CHECK("wait_signals", alarms == 1);
        if (restart) {
            CHECK("wait_signals", r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 3);
        } else {
            CHECK("wait_signals", r == -1 && errno == EINTR);
            CHECK("wait_signals", waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 3);
        }
    }
    signal(SIGALRM, SIG_DFL);
    guest_ok("wait_signals");
}

static void check_stop_continue(void)
{
    /* a child stops itself (SIGSTOP, then SIGTSTP in its own process group): the parent
     * sees each stop with WUNTRACED and the continue with WCONTINUED */
    int p[2];
    CHECK("stop_continue", pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(p[1]);
        setpgid(0, 0);
        raise(SIGSTOP);
        read(p[0], &c, 1); /* each stop waits until the parent saw the previous continue */
        raise(SIGTSTP);
        read(p[0], &c, 1); /* end of file: the parent saw the second continue */
        _exit(9);
    }
    close(p[0]);
    int st;
    CHECK("stop_continue", waitpid(pid, &st, WUNTRACED) == pid);
    CHECKF("stop_continue", WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP, "status %#x", st);
    CHECK("stop_continue", kill(pid, SIGCONT) == 0);
    CHECK("stop_continue", waitpid(pid, &st, WCONTINUED) == pid && WIFCONTINUED(st));
    CHECK("stop_continue", write(p[1], "g", 1) == 1);
    CHECK("stop_continue", waitpid(pid, &st, WUNTRACED) == pid);
    CHECKF("stop_continue", WIFSTOPPED(st) && WSTOPSIG(st) == SIGTSTP, "status %#x", st);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    CHECK("stop_continue", kill(pid, SIGCONT) == 0);
    CHECK("stop_continue", waitid(P_PID, pid, &si, WCONTINUED) == 0);
    CHECK("stop_continue", si.si_code == CLD_CONTINUED && si.si_status == SIGCONT);
    close(p[1]);
    CHECK("stop_continue", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 9);
    guest_ok("stop_continue");
}

static volatile sig_atomic_t chld_count;
static volatile pid_t chld_pid;
static volatile int chld_code, chld_status;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    chld_count++;
    chld_pid = si->si_pid;
    chld_code = si->si_code;
    chld_status = si->si_status;
}

static void check_sigchld_info(void)
{
    /* an SA_SIGINFO handler learns which child exited and how; with SA_NOCLDSTOP a child's
     * stop and continue send no SIGCHLD, though waitpid still reports them */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    CHECK("sigchld_info", sigprocmask(SIG_BLOCK, &block, &old) == 0);
    struct sigaction sa = {.sa_sigaction = on_chld, .sa_flags = SA_SIGINFO | SA_NOCLDSTOP};
    struct sigaction prev;
    CHECK("sigchld_info", sigaction(SIGCHLD, &sa, &prev) == 0);
    chld_count = 0;
    pid_t pid = fork();
    if (pid == 0)
        _exit(7);
    sigsuspend(&old); /* returns once the handler ran */
    CHECKF("sigchld_info", chld_count == 1 && chld_pid == pid, "count %d pid %d/%d",
           (int)chld_count, (int)chld_pid, (int)pid);
    CHECKF("sigchld_info", chld_code == CLD_EXITED && chld_status == 7, "code %d status %d",
           chld_code, chld_status);
    int st;
    CHECK("sigchld_info", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7);
    chld_count = 0;
    int go[2];
    CHECK("sigchld_info", pipe(go) == 0);
    pid = fork();
    if (pid == 0) {
        char c;
        close(go[1]);
        raise(SIGSTOP);
        read(go[0], &c, 1); /* exits once the parent saw the continue */
        _exit(8);
    }
    close(go[0]);
    CHECK("sigchld_info", waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st));
    CHECK("sigchld_info", kill(pid, SIGCONT) == 0);
    CHECK("sigchld_info", waitpid(pid, &st, WCONTINUED) == pid && WIFCONTINUED(st));
    close(go[1]);
    CHECK("sigchld_info", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 8);
    sigsuspend(&old); /* the exit's SIGCHLD: the only one */
    CHECKF("sigchld_info", chld_count == 1 && chld_code == CLD_EXITED && chld_pid == pid,
           "count %d code %d", (int)chld_count, chld_code);
    CHECK("sigchld_info", sigaction(SIGCHLD, &prev, NULL) == 0);
    CHECK("sigchld_info", sigprocmask(SIG_SETMASK, &old, NULL) == 0);
    guest_ok("sigchld_info");
}

static volatile sig_atomic_t usr_count;
static volatile int usr_pid, usr_uid, usr_code;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    usr_count++;
    usr_pid = si->si_pid;
    usr_uid = si->si_uid;
    usr_code = si->si_code;
}

static void check_sender_info(void)
{
    /* a signal from another process carries its sender: an SA_SIGINFO handler sees the
     * child's pid and uid; sigqueue's values arrive in order with SI_QUEUE, each real-time
     * instance queued while blocked */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGRTMIN + 2);
    CHECK("sender_info", sigprocmask(SIG_BLOCK, &block, &old) == 0);
    struct sigaction sa = {.sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO};
    struct sigaction prev;
    CHECK("sender_info", sigaction(SIGUSR1, &sa, &prev) == 0);
    usr_count = 0;
    pid_t pid = fork();
    if (pid == 0) {
        union sigval v;
        int bad = kill(getppid(), SIGUSR1) != 0;
        for (int i = 0; i < 3; i++) {
            v.sival_int = 40 + i;
            bad |= sigqueue(getppid(), SIGRTMIN + 2, v) != 0;
        }
        _exit(bad);
    }
    int st;
    CHECK("sender_info", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sigset_t wait_usr1 = block; /* the real-time ones stay blocked for sigtimedwait */
    sigdelset(&wait_usr1, SIGUSR1);
    while (usr_count == 0)
        sigsuspend(&wait_usr1);
    CHECKF("sender_info", usr_count == 1 && usr_pid == pid && usr_uid == (int)getuid(),
           "count %d pid %d/%d uid %d", (int)usr_count, usr_pid, (int)pid, usr_uid);
    CHECKF("sender_info", usr_code == SI_USER, "code %d", usr_code);
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN + 2);
    for (int i = 0; i < 3; i++) {
        siginfo_t si;
        struct timespec ts = {5, 0};
        int s = sigtimedwait(&rt, &si, &ts);
        CHECKF("sender_info", s == SIGRTMIN + 2 && si.si_code == SI_QUEUE && si.si_pid == pid
               && si.si_value.sival_int == 40 + i, "sig %d code %d pid %d value %d", s,
               si.si_code, (int)si.si_pid, si.si_value.sival_int);
    }
    /* a bad info pointer, and a claim of a kernel code for another process */
    CHECK("sender_info", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, (void *)8) == -1
          && errno == EFAULT);
    siginfo_t forged;
    memset(&forged, 0, sizeof forged);
    forged.si_code = SI_USER;
    CHECK("sender_info", syscall(SYS_rt_sigqueueinfo, getppid(), SIGUSR1, &forged) == -1
          && errno == EPERM);
    CHECK("sender_info", sigaction(SIGUSR1, &prev, NULL) == 0);
    CHECK("sender_info", sigprocmask(SIG_SETMASK, &old, NULL) == 0);
    guest_ok("sender_info");
}

static void check_shared_futex(void)
{
    /* a process-shared semaphore and a raw (non-private) futex in MAP_SHARED memory: each
     * process sleeps until the other posts or wakes */
    struct shm { sem_t sem; int word; int seen; } *m;
    m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK("shared_futex", m != MAP_FAILED);
    CHECK("shared_futex", sem_init(&m->sem, 1, 0) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* child: wait for the parent's post, then wake the parent's raw futex wait */
        if (sem_wait(&m->sem) != 0)
            _exit(1);
        m->seen = 1;
        usleep(50 * 1000);
        __atomic_store_n(&m->word, 1, __ATOMIC_SEQ_CST);
        syscall(SYS_futex, &m->word, FUTEX_WAKE, 1, NULL, NULL, 0);
        _exit(0);
    }
    usleep(50 * 1000);
    CHECK("shared_futex", m->seen == 0);
    CHECK("shared_futex", sem_post(&m->sem) == 0);
    while (__atomic_load_n(&m->word, __ATOMIC_SEQ_CST) == 0) {
        long r = syscall(SYS_futex, &m->word, FUTEX_WAIT, 0, NULL, NULL, 0);
        CHECK("shared_futex", r == 0 || errno == EAGAIN || errno == EINTR);
    }
    CHECK("shared_futex", m->seen == 1);
    int st;
    CHECK("shared_futex", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sem_destroy(&m->sem);
    munmap(m, sizeof *m);
    guest_ok("shared_futex");
}

static const struct guest_check checks[] = {
    {"fork_status", check_fork_status}, {"fork_memory", check_fork_memory},
    {"exec", check_exec},               {"script", check_script},
    {"spawn", check_spawn},             {"resources", check_resources},
    {"vfork", check_vfork},             {"wait_signals", check_wait_signals},
    {"stop_continue", check_stop_continue}, {"shared_futex", check_shared_futex},
    {"sender_info", check_sender_info},
    {"sigchld_info", check_sigchld_info},
};

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0)
        return exec_child(argc, argv);
    return guest_run_checks("procs", checks, sizeof checks / sizeof checks[0], argc, argv);
}
