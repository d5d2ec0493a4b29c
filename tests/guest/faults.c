/*
 * faults MODE
 *
 *   efault  write/read with a bad user pointer fail with EFAULT  -> "efault ok"
 *   enosys  an unknown syscall number fails with ENOSYS           -> "enosys ok"
 *   segv    store through a NULL pointer: dies of SIGSEGV
 *   ill     execute an undefined instruction: dies of SIGILL
 *   catch   SIGSEGV/SIGUSR1 handlers run, siginfo is right, blocked signals
 *           wait until unblocked                                   -> "catch ok"
 *   buserr  a file mapping's pages past the file's end: SIGBUS (BUS_ADRERR, the address)
 *           on access, EFAULT when a syscall is given them         -> "buserr ok"
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guestcheck.h"

/*
 * A syscall number that no supported arch defines: the highest assigned
 * numbers are in the 460s-470s (aarch64, x86_64, riscv64, arm, i386); arm's
 * private calls start at 0xf0000 and mips o32 numbers start at 4000.
 */
#define UNUSED_SYSCALL 999

/* Opaque pointers, so the compiler cannot see (and "optimise") the bad access. */
static void *volatile bad_ptr = (void *)8;
static int *volatile null_ptr = NULL;

static void mode_efault(void)
{
    int p[2];
    CHECK_SYS("efault", pipe(p));
    EXPECT_ERRNO("efault", write(1, bad_ptr, 4), EFAULT);
    EXPECT_ERRNO("efault", write(p[1], bad_ptr, 4), EFAULT);
    CHECK("efault", write(p[1], "abcd", 4) == 4);
    EXPECT_ERRNO("efault", read(p[0], bad_ptr, 4), EFAULT);
    /* Raw pipe2: on MIPS, libc's pipe() gets both fds in registers and stores them itself. */
    EXPECT_ERRNO("efault", syscall(SYS_pipe2, bad_ptr, 0), EFAULT);
    EXPECT_ERRNO("efault", syscall(SYS_getcwd, bad_ptr, 64), EFAULT);
    guest_ok("efault");
}

static void mode_enosys(void)
{
    EXPECT_ERRNO("enosys", syscall(UNUSED_SYSCALL), ENOSYS);
    EXPECT_ERRNO("enosys", syscall(UNUSED_SYSCALL, 1, 2, 3), ENOSYS);
    /* The process is fine afterwards. */
    CHECK("enosys", getpid() > 0);
    guest_ok("enosys");
}

static void mode_segv(void)
{
    puts("storing to NULL");
    fflush(stdout);
    *null_ptr = 42;
    puts("FAIL: segv: store to NULL did not fault");
    exit(1);
}

static void mode_ill(void)
{
    puts("executing an undefined instruction");
    fflush(stdout);
#if defined(__aarch64__)
    __asm__ volatile(".inst 0x00000000"); /* udf #0 */
#elif defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("ud2");
#elif defined(__arm__) && defined(__thumb__)
    __asm__ volatile(".inst.n 0xde00"); /* udf #0 (Thumb) */
#elif defined(__arm__)
    __asm__ volatile(".inst 0xe7f000f0"); /* udf #0 (ARM) */
#elif defined(__riscv)
    __asm__ volatile(".4byte 0x00000000"); /* all-zero: defined illegal */
#elif defined(__mips__)
    __asm__ volatile(".word 0xec000000"); /* opcode 0x3b: reserved before r6 */
#else
#error "no undefined instruction for this architecture"
#endif
    puts("FAIL: ill: undefined instruction did not trap");
    exit(1);
}

static sigjmp_buf jump_back;
static volatile sig_atomic_t got_signo, got_code, usr1_count;
static void *volatile got_addr;

static void on_segv(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    got_signo = sig;
    got_code = si->si_code;
    got_addr = si->si_addr;
    siglongjmp(jump_back, 1);
}

static void on_usr1(int sig)
{
    if (sig == SIGUSR1)
        usr1_count++;
}

static void mode_catch(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK_SYS("catch", sigaction(SIGSEGV, &sa, NULL));

    /* Unmapped address: SEGV_MAPERR with the faulting address. */
    int *volatile target = (int *)16;
    if (sigsetjmp(jump_back, 1) == 0) {
        *target = 1;
        guest_fail("catch", __LINE__, "store to %p did not fault", (void *)target);
    }
    CHECK("catch", got_signo == SIGSEGV);
    CHECKF("catch", got_code == SEGV_MAPERR, "si_code %d", (int)got_code);
    CHECKF("catch", got_addr == (void *)16, "si_addr %p", got_addr);

    /* Read-only page: SEGV_ACCERR. */
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("catch", ro != MAP_FAILED);
    char *volatile rot = ro + 100;
    got_signo = 0;
    if (sigsetjmp(jump_back, 1) == 0) {
        *rot = 1;
        guest_fail("catch", __LINE__, "store to a read-only page did not fault");
    }
    CHECK("catch", got_signo == SIGSEGV);
    CHECKF("catch", got_code == SEGV_ACCERR, "si_code %d", (int)got_code);
    CHECK("catch", got_addr == (void *)(ro + 100));
    /* siglongjmp restored the signal mask: SIGSEGV is not left blocked. */
    sigset_t cur;
    CHECK_SYS("catch", sigprocmask(SIG_SETMASK, NULL, &cur));
    CHECK("catch", !sigismember(&cur, SIGSEGV));
    munmap(ro, 4096);

    /* A plain handler runs on raise(); a blocked signal waits for unblocking. */
    CHECK("catch", signal(SIGUSR1, on_usr1) != SIG_ERR);
    CHECK_SYS("catch", raise(SIGUSR1));
    CHECK("catch", usr1_count == 1);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    CHECK_SYS("catch", sigprocmask(SIG_BLOCK, &block, NULL));
    CHECK_SYS("catch", kill(getpid(), SIGUSR1));
    CHECK("catch", usr1_count == 1);
    sigset_t pending;
    CHECK_SYS("catch", sigpending(&pending));
    CHECK("catch", sigismember(&pending, SIGUSR1));
    CHECK_SYS("catch", sigprocmask(SIG_UNBLOCK, &block, NULL));
    CHECK("catch", usr1_count == 2);
    /* Ignored signals are discarded. */
    CHECK("catch", signal(SIGUSR1, SIG_IGN) == on_usr1);
    CHECK_SYS("catch", raise(SIGUSR1));
    CHECK("catch", usr1_count == 2);
    guest_ok("catch");
}

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_signo, bus_code;
static void *volatile bus_addr;

static void on_bus(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    bus_signo = sig;
    bus_code = si->si_code;
    bus_addr = si->si_addr;
    siglongjmp(bus_jmp, 1);
}

static void mode_buserr(void)
{
    int fd = memfd_create("buserr", 0);
    CHECK_SYS("buserr", fd);
    CHECK_SYS("buserr", ftruncate(fd, 100));
    long page = sysconf(_SC_PAGESIZE);
    volatile char *p = mmap(NULL, 3 * page, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK("buserr", p != MAP_FAILED);
    CHECK("buserr", p[0] == 0 && p[page - 1] == 0); /* the last partial page reads zeros */
    int pipefd[2];
    CHECK_SYS("buserr", pipe(pipefd));
    EXPECT_ERRNO("buserr", write(pipefd[1], (const char *)p + page, 16), EFAULT);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_bus;
    sa.sa_flags = SA_SIGINFO;
    CHECK_SYS("buserr", sigaction(SIGBUS, &sa, NULL));
    for (int i = 1; i < 3; i++) {
        bus_signo = 0;
        if (sigsetjmp(bus_jmp, 1) == 0) {
            char c = p[i * page + 8];
            (void)c;
            guest_fail("buserr", __LINE__, "read past the end of the file did not fault");
        }
        CHECKF("buserr", bus_signo == SIGBUS && bus_code == BUS_ADRERR &&
                             bus_addr == (void *)(p + i * page + 8),
               "signal %d code %d addr %p", (int)bus_signo, (int)bus_code, bus_addr);
    }
    CHECK_SYS("buserr", ftruncate(fd, 2 * page + 100)); /* Linux: now readable; not checked */
    guest_ok("buserr");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "efault") == 0)
        mode_efault();
    else if (strcmp(mode, "enosys") == 0)
        mode_enosys();
    else if (strcmp(mode, "segv") == 0)
        mode_segv();
    else if (strcmp(mode, "ill") == 0)
        mode_ill();
    else if (strcmp(mode, "catch") == 0)
        mode_catch();
    else if (strcmp(mode, "buserr") == 0)
        mode_buserr();
    else {
        fprintf(stderr, "usage: faults efault|enosys|segv|ill|catch|buserr\n");
        return 2;
    }
    return 0;
}
