/* A program for gdb sessions (tests/integration/test_gdb.py), built with -O0 -g.
 *   gdbme basic    calls that gdb breaks in, steps through and finishes; prints what the
 *                  globals hold at the end (gdb's `set var` changes that)
 *   gdbme watch    writes a watched global a few times
 *   gdbme threads  three threads meeting in one function
 *   gdbme segv     a store through a bad pointer
 *   gdbme spin     loops until gdb changes `spinning` (gdb's Ctrl-C stops it)
 *   gdbme fork     a child that runs on its own, then the parent calls add
 *   gdbme exec     execs itself in basic mode
 *   gdbme usr1     sends itself SIGUSR1, which a handler counts
 *   gdbme pause    waits for a signal (gdb's Ctrl-C stops it there)
 * On arm, thumb_add is Thumb code (the rest is ARM).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int global_value = 7;
volatile int watched = 0;
volatile int thread_hits = 0;
volatile int spinning = 1;
pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
pthread_barrier_t barrier;

volatile int usr1_seen = 0;

static void on_usr1(int sig)
{
    usr1_seen += sig == SIGUSR1;
}

__attribute__((noinline)) int add(int a, int b)
{
    int sum = a + b;
    return sum;
}

__attribute__((noinline)) int twice(int x)
{
    int r = add(x, x);
    return r;
}

#ifdef __arm__
__attribute__((noinline, target("thumb"))) int thumb_add(int a, int b)
#else
__attribute__((noinline)) int thumb_add(int a, int b)
#endif
{
    int sum = a + b + 1;
    return sum;
}

__attribute__((noinline)) void meet(long id)
{
    pthread_mutex_lock(&lock);
    thread_hits += (int)id;
    pthread_mutex_unlock(&lock);
}

static void *worker(void *arg)
{
    pthread_barrier_wait(&barrier);
    meet((long)arg);
    pthread_barrier_wait(&barrier);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "basic";
    if (!strcmp(mode, "basic")) {
        int r = twice(21);
        int t = thumb_add(r, 1);
        printf("twice %d thumb %d global %d\n", r, t, global_value);
        return 0;
    }
    if (!strcmp(mode, "watch")) {
        for (int i = 1; i <= 3; i++)
            watched = watched + 10 * i;
        printf("watched %d\n", watched);
        return 0;
    }
    if (!strcmp(mode, "threads")) {
        pthread_t t[2];
        pthread_barrier_init(&barrier, NULL, 3);
        for (long i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, worker, (void *)(i + 1));
        pthread_barrier_wait(&barrier);
        meet(10);
        pthread_barrier_wait(&barrier);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        printf("hits %d\n", thread_hits);
        return 0;
    }
    if (!strcmp(mode, "fork")) {
        pid_t pid = fork();
        if (pid == 0) {
            printf("child %d\n", add(1, 2));
            return 0;
        }
        int status = 0;
        waitpid(pid, &status, 0);
        printf("parent %d child status %d\n", add(20, 22), WEXITSTATUS(status));
        return 0;
    }
    if (!strcmp(mode, "exec")) {
        execl("/proc/self/exe", argv[0], "basic", (char *)NULL);
        perror("execl");
        return 1;
    }
    if (!strcmp(mode, "usr1")) {
        signal(SIGUSR1, on_usr1);
        kill(getpid(), SIGUSR1);
        kill(getpid(), SIGUSR1);
        printf("usr1 seen %d\n", usr1_seen);
        return 0;
    }
    if (!strcmp(mode, "pause")) {
        pause();
        return 3;
    }
    if (!strcmp(mode, "spin")) {
        long n = 0;
        while (spinning)
            n++;
        printf("spun\n");
        return n > 0 ? 0 : 1;
    }
    if (!strcmp(mode, "segv")) {
        volatile int *bad = (int *)16;
        *bad = 1;
        return 0;
    }
    return 2;
}
