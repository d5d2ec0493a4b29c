/*
 * Guest threads: creation and join, thread ids, TLS, futex operations, pthread
 * mutexes/condition variables, robust mutexes, pipes between threads, a spin-wait
 * that only finishes if the spinning thread is preempted, and timed waits.
 *
 * usage: threads [check ...]   (no argument: every check)
 * Every check prints "<name> ok"; the output is the same on every arch and libc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "guestcheck.h"

static long futex(atomic_int *uaddr, int op, int val, const struct timespec *ts,
                  atomic_int *uaddr2, int val3)
{
#if defined(SYS_futex_time64) && SYS_futex_time64 != SYS_futex
    /* 32-bit arches: a 64-bit tv_sec (musl, glibc with _TIME_BITS=64) only the time64 call
     * reads; glibc's default 32-bit timespec goes to the old call */
    if (sizeof(ts->tv_sec) == 8)
        return syscall(SYS_futex_time64, uaddr, op, val, ts, uaddr2, val3);
#endif
    return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

static int64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- create, join, ids, TLS ------------------------------------------------ */

static __thread int tls_a = 11;
static __thread long tls_b[4] = {1, 2, 3, 4};

struct ident { int index; pid_t tid; int tls_ok; };

static void *ident_main(void *arg)
{
    struct ident *id = arg;
    id->tid = (pid_t)syscall(SYS_gettid);
    tls_a += id->index;
    tls_b[3] = id->index * 100;
    id->tls_ok = tls_a == 11 + id->index && tls_b[0] == 1 && tls_b[3] == id->index * 100;
    return (void *)(intptr_t)(id->index * 7);
}

static void check_create(void)
{
    enum { N = 8 };
    pthread_t th[N];
    struct ident ids[N];
    for (int i = 0; i < N; i++) {
        ids[i].index = i + 1;
        CHECK("create", pthread_create(&th[i], NULL, ident_main, &ids[i]) == 0);
    }
    for (int i = 0; i < N; i++) {
        void *ret;
        CHECK("create", pthread_join(th[i], &ret) == 0);
        CHECK("create", (intptr_t)ret == (i + 1) * 7);
    }
    pid_t me = (pid_t)syscall(SYS_gettid);
    CHECK("create", me == getpid());
    for (int i = 0; i < N; i++) {
        CHECK("create", ids[i].tls_ok);
        CHECK("create", ids[i].tid > 0 && ids[i].tid != me);
        for (int j = 0; j < i; j++)
            CHECK("create", ids[i].tid != ids[j].tid);
    }
    CHECK("create", tls_a == 11 && tls_b[3] == 4);
    guest_ok("create");
}

/* ---- futex ping-pong ---------------------------------------------------------- */

static atomic_int turn;
enum { PINGS = 20000 };

static void *pong_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < PINGS; i++) {
        while (atomic_load(&turn) != 1)
            futex(&turn, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
        atomic_store(&turn, 0);
        futex(&turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
    return NULL;
}

static void check_futex_pingpong(void)
{
    pthread_t th;
    atomic_store(&turn, 0);
    CHECK("futex_pingpong", pthread_create(&th, NULL, pong_main, NULL) == 0);
    for (int i = 0; i < PINGS; i++) {
        atomic_store(&turn, 1);
        futex(&turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        while (atomic_load(&turn) != 0)
            futex(&turn, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
    }
    CHECK("futex_pingpong", pthread_join(th, NULL) == 0);
    guest_ok("futex_pingpong");
}

/* ---- futex semantics: EAGAIN, timeouts, bitsets, requeue, wake-op -------------- */

static atomic_int fw, fw2, woke_count;

static void *waiter_main(void *arg)
{
    int bitset = (int)(intptr_t)arg;
    long r = futex(&fw, FUTEX_WAIT_BITSET_PRIVATE, 0, NULL, NULL, bitset);
    if (r == 0)
        atomic_fetch_add(&woke_count, 1);
    return NULL;
}

static void let_waiters_queue(void)
{
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL); /* the two waiters are idle threads: they queue meanwhile */
}

static void check_futex_ops(void)
{
    struct timespec rel = {0, 20 * 1000 * 1000};
    atomic_store(&fw, 5);
    errno = 0;
    CHECK("futex_ops", futex(&fw, FUTEX_WAIT_PRIVATE, 4, NULL, NULL, 0) == -1 && errno == EAGAIN);
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    errno = 0;
    CHECK("futex_ops", futex(&fw, FUTEX_WAIT_PRIVATE, 5, &rel, NULL, 0) == -1 && errno == ETIMEDOUT);
    CHECK("futex_ops", now_ns(CLOCK_MONOTONIC) - t0 >= 20 * 1000 * 1000);
    /* absolute deadlines on both clocks */
    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_nsec += 10 * 1000 * 1000;
    if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
    errno = 0;
    CHECK("futex_ops", futex(&fw, FUTEX_WAIT_BITSET_PRIVATE, 5, &abs, NULL, -1) == -1 &&
                           errno == ETIMEDOUT);
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_nsec += 10 * 1000 * 1000;
    if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
    errno = 0;
    CHECK("futex_ops", futex(&fw, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 5, &abs,
                             NULL, -1) == -1 && errno == ETIMEDOUT);
    errno = 0;
    CHECK("futex_ops", futex(&fw, FUTEX_WAIT_BITSET_PRIVATE, 5, NULL, NULL, 0) == -1 &&
                           errno == EINVAL);
    CHECK("futex_ops", futex(&fw, FUTEX_WAKE_PRIVATE, 10, NULL, NULL, 0) == 0);

    /* bitsets: two waiters on bits 1 and 2; waking bit 2 wakes exactly one */
    pthread_t a, b;
    atomic_store(&fw, 0);
    atomic_store(&woke_count, 0);
    CHECK("futex_ops", pthread_create(&a, NULL, waiter_main, (void *)(intptr_t)1) == 0);
    CHECK("futex_ops", pthread_create(&b, NULL, waiter_main, (void *)(intptr_t)2) == 0);
    let_waiters_queue();
    CHECK("futex_ops", futex(&fw, FUTEX_WAKE_BITSET_PRIVATE, 10, NULL, NULL, 2) == 1);
    CHECK("futex_ops", pthread_join(b, NULL) == 0);
    CHECK("futex_ops", atomic_load(&woke_count) == 1);
    /* requeue the other one to fw2, then wake it there */
    errno = 0;
    CHECK("futex_ops", futex(&fw, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)(intptr_t)1, &fw2, 99)
                           == -1 && errno == EAGAIN);
    CHECK("futex_ops", futex(&fw, FUTEX_CMP_REQUEUE_PRIVATE, 0, (void *)(intptr_t)1, &fw2, 0)
                           == 1);
    CHECK("futex_ops", futex(&fw, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0);
    CHECK("futex_ops", futex(&fw2, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 1);
    CHECK("futex_ops", pthread_join(a, NULL) == 0);
    CHECK("futex_ops", atomic_load(&woke_count) == 2);

    /* wake-op: fw2 = fw2 + 3, wake on fw2 if the old value was 10 */
    atomic_store(&fw2, 10);
    int op = FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 10);
    CHECK("futex_ops", futex(&fw, FUTEX_WAKE_OP_PRIVATE, 1, (void *)(intptr_t)1, &fw2, op) == 0);
    CHECK("futex_ops", atomic_load(&fw2) == 13);
    op = FUTEX_OP(FUTEX_OP_OR, 4, FUTEX_OP_CMP_GT, 100);  /* with oparg shift: 1 << 4 */
    op |= FUTEX_OP_OPARG_SHIFT << 28;
    CHECK("futex_ops", futex(&fw, FUTEX_WAKE_OP_PRIVATE, 1, (void *)(intptr_t)1, &fw2, op) == 0);
    CHECK("futex_ops", atomic_load(&fw2) == (13 | 16));
    errno = 0;
    CHECK("futex_ops", futex((atomic_int *)((char *)&fw + 1), FUTEX_WAKE_PRIVATE, 1, NULL,
                             NULL, 0) == -1 && errno == EINVAL);
    guest_ok("futex_ops");
}

/* ---- atomics from several threads ------------------------------------------------ */

static long counter;
enum { ADDS = 100000 };

static void *adder_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < ADDS; i++)
        __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void check_atomics(void)
{
    pthread_t th[4];
    counter = 0;
    for (int i = 0; i < 4; i++)
        CHECK("atomics", pthread_create(&th[i], NULL, adder_main, NULL) == 0);
    for (int i = 0; i < 4; i++)
        CHECK("atomics", pthread_join(th[i], NULL) == 0);
    CHECK("atomics", counter == 4L * ADDS);
    guest_ok("atomics");
}

/* ---- spin-wait: needs preemption ---------------------------------------------------- */

static atomic_int flag, flag_seen;

static void *setter_main(void *arg)
{
    (void)arg;
    atomic_store(&flag, 1);
    while (!atomic_load(&flag_seen))
        ; /* spins too, without a syscall, until the main thread answers */
    return NULL;
}

static void check_spin(void)
{
    pthread_t th;
    atomic_store(&flag, 0);
    atomic_store(&flag_seen, 0);
    CHECK("spin", pthread_create(&th, NULL, setter_main, NULL) == 0);
    while (!atomic_load(&flag))
        ; /* no syscall here: only preemption lets the setter run */
    atomic_store(&flag_seen, 1);
    CHECK("spin", pthread_join(th, NULL) == 0);
    guest_ok("spin");
}

/* ---- a token ring passed by spinning: every hand-off needs a preemption ------------- */

enum { RING = 4, LAPS = 15 };
static atomic_long token;

struct ringer { int index; long sum; };

static void *ring_main(void *arg)
{
    struct ringer *r = arg;
    for (int lap = 0; lap < LAPS; lap++) {
        long want = (long)lap * RING + r->index;
        long spins = 0;
        while (atomic_load(&token) != want)
            spins++; /* registers live across preemptions: the sum below checks them */
        r->sum += want * 3 + (spins >= 0);
        atomic_store(&token, want + 1);
    }
    return NULL;
}

static void check_ring(void)
{
    pthread_t th[RING];
    struct ringer rs[RING];
    atomic_store(&token, 0);
    for (int i = 0; i < RING; i++) {
        rs[i].index = i;
        rs[i].sum = 0;
        CHECK("ring", pthread_create(&th[i], NULL, ring_main, &rs[i]) == 0);
    }
    for (int i = 0; i < RING; i++)
        CHECK("ring", pthread_join(th[i], NULL) == 0);
    CHECK("ring", atomic_load(&token) == (long)RING * LAPS);
    for (int i = 0; i < RING; i++) {
        long expect = 0;
        for (int lap = 0; lap < LAPS; lap++)
            expect += ((long)lap * RING + i) * 3 + 1;
        CHECK("ring", rs[i].sum == expect);
    }
    guest_ok("ring");
}

/* ---- pipe ping-pong between threads -------------------------------------------------- */

static int ping[2], pong[2];
enum { ROUNDS = 5000 };

static void *echo_main(void *arg)
{
    (void)arg;
    char c;
    for (int i = 0; i < ROUNDS; i++) {
        if (read(ping[0], &c, 1) != 1)
            return (void *)1;
        c++;
        if (write(pong[1], &c, 1) != 1)
            return (void *)1;
    }
    return NULL;
}

static void check_pipe_pingpong(void)
{
    pthread_t th;
    CHECK("pipe_pingpong", pipe(ping) == 0 && pipe(pong) == 0);
    CHECK("pipe_pingpong", pthread_create(&th, NULL, echo_main, NULL) == 0);
    char c = 0;
    for (int i = 0; i < ROUNDS; i++) {
        char d = c;
        CHECK("pipe_pingpong", write(ping[1], &d, 1) == 1);
        CHECK("pipe_pingpong", read(pong[0], &d, 1) == 1);
        CHECK("pipe_pingpong", d == (char)(c + 1));
        c = d;
    }
    void *ret;
    CHECK("pipe_pingpong", pthread_join(th, &ret) == 0 && ret == NULL);
    close(ping[0]);
    close(ping[1]);
    close(pong[0]);
    close(pong[1]);
    guest_ok("pipe_pingpong");
}

struct bigpipe { int fd; long got; };

static void *drain_main(void *arg)
{
    struct bigpipe *bp = arg;
    char buf[65536];
    long n;
    while ((n = read(bp->fd, buf, sizeof buf)) > 0)
        bp->got += n;
    return NULL;
}

static void check_big_write(void)
{
    int fds[2];
    CHECK("big_write", pipe(fds) == 0);
    struct bigpipe bp = {fds[0], 0};
    pthread_t th;
    CHECK("big_write", pthread_create(&th, NULL, drain_main, &bp) == 0);
    size_t size = 1 << 20;
    char *buf = malloc(size);
    memset(buf, 'y', size);
    CHECK("big_write", write(fds[1], buf, size) == (ssize_t)size);
    close(fds[1]);
    CHECK("big_write", pthread_join(th, NULL) == 0);
    CHECK("big_write", bp.got == (long)size);
    close(fds[0]);
    free(buf);
    guest_ok("big_write");
}

/* ---- condition variable producer/consumer --------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static int queue[8], qhead, qlen;
enum { ITEMS = 20000 };

static void *producer_main(void *arg)
{
    (void)arg;
    for (int i = 1; i <= ITEMS; i++) {
        pthread_mutex_lock(&mu);
        while (qlen == 8)
            pthread_cond_wait(&not_full, &mu);
        queue[(qhead + qlen++) % 8] = i;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static void check_condvar(void)
{
    pthread_t prod[2];
    for (int i = 0; i < 2; i++)
        CHECK("condvar", pthread_create(&prod[i], NULL, producer_main, NULL) == 0);
    long sum = 0;
    for (int n = 0; n < 2 * ITEMS; n++) {
        pthread_mutex_lock(&mu);
        while (qlen == 0)
            pthread_cond_wait(&not_empty, &mu);
        sum += queue[qhead];
        qhead = (qhead + 1) % 8;
        qlen--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&mu);
    }
    for (int i = 0; i < 2; i++)
        CHECK("condvar", pthread_join(prod[i], NULL) == 0);
    CHECK("condvar", sum == 2L * ITEMS * (ITEMS + 1) / 2);
    /* a timed wait with nobody signalling times out */
    struct timespec abs;
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_nsec += 5 * 1000 * 1000;
    if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
    pthread_mutex_lock(&mu);
    CHECK("condvar", pthread_cond_timedwait(&not_empty, &mu, &abs) == ETIMEDOUT);
    pthread_mutex_unlock(&mu);
    guest_ok("condvar");
}

/* ---- robust mutex: the owner dies holding it ------------------------------------------ */

static pthread_mutex_t robust;

static void *die_holding(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&robust);
    return NULL; /* exits with the lock held */
}

static void check_robust(void)
{
    pthread_mutexattr_t at;
    pthread_mutexattr_init(&at);
    pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
    CHECK("robust", pthread_mutex_init(&robust, &at) == 0);
    pthread_t th;
    CHECK("robust", pthread_create(&th, NULL, die_holding, NULL) == 0);
    CHECK("robust", pthread_join(th, NULL) == 0);
    CHECK("robust", pthread_mutex_lock(&robust) == EOWNERDEAD);
    CHECK("robust", pthread_mutex_consistent(&robust) == 0);
    CHECK("robust", pthread_mutex_unlock(&robust) == 0);
    CHECK("robust", pthread_mutex_lock(&robust) == 0);
    CHECK("robust", pthread_mutex_unlock(&robust) == 0);
    guest_ok("robust");
}

/* ---- sleeping threads overlap ----------------------------------------------------------- */

static void *sleeper_main(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return NULL;
}

static void check_sleep(void)
{
    struct timespec ts = {0, 200 * 1000};
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    CHECK("sleep", nanosleep(&ts, NULL) == 0);
    CHECK("sleep", now_ns(CLOCK_MONOTONIC) - t0 >= 200 * 1000);
    /* four threads sleeping 50 ms each take about 50 ms together, not 200 */
    pthread_t th[4];
    t0 = now_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < 4; i++)
        CHECK("sleep", pthread_create(&th[i], NULL, sleeper_main, NULL) == 0);
    for (int i = 0; i < 4; i++)
        CHECK("sleep", pthread_join(th[i], NULL) == 0);
    int64_t took = now_ns(CLOCK_MONOTONIC) - t0;
    CHECK("sleep", took >= 50 * 1000 * 1000 && took < 190 * 1000 * 1000);
    guest_ok("sleep");
}

/* Thread names: PR_SET_NAME names the calling thread, seen in its /proc task's comm, while
 * the process keeps the main thread's; the timer slack reads back. */
static int read_name(const char *path, char *out, size_t n)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t r = read(fd, out, n - 1);
    close(fd);
    if (r <= 0)
        return -1;
    out[r] = 0;
    if (out[r - 1] == '\n')
        out[r - 1] = 0;
    return 0;
}

static volatile long worker_tid;
static volatile int worker_named, main_checked;

static void *named_worker(void *arg)
{
    (void)arg;
    worker_tid = syscall(SYS_gettid);
    CHECK_SYS("names", prctl(PR_SET_NAME, "worker-one", 0, 0, 0));
    char got[32];
    CHECK("names", read_name("/proc/thread-self/comm", got, sizeof got) == 0);
    CHECKF("names", strcmp(got, "worker-one") == 0, "thread-self comm %s", got);
    CHECK_SYS("names", prctl(PR_GET_NAME, got, 0, 0, 0));
    CHECKF("names", strcmp(got, "worker-one") == 0, "PR_GET_NAME %s", got);
    worker_named = 1;
    while (!main_checked)
        sched_yield();
    return NULL;
}

static void check_names(void)
{
    char mine[32], before[32], got[64], path[64];
    CHECK_SYS("names", prctl(PR_GET_NAME, mine, 0, 0, 0));
    CHECK("names", read_name("/proc/self/comm", before, sizeof before) == 0);
    CHECKF("names", strcmp(before, mine) == 0, "comm %s name %s", before, mine);
    pthread_t t;
    CHECK("names", pthread_create(&t, NULL, named_worker, NULL) == 0);
    while (!worker_named)
        sched_yield();
    snprintf(path, sizeof path, "/proc/self/task/%ld/comm", (long)worker_tid);
    CHECK("names", read_name(path, got, sizeof got) == 0);
    CHECKF("names", strcmp(got, "worker-one") == 0, "task comm %s", got);
    CHECK("names", read_name("/proc/self/comm", got, sizeof got) == 0);
    CHECKF("names", strcmp(got, mine) == 0, "process comm %s, was %s", got, mine);
    /* /proc/self/task lists both threads; the worker's stat line names it */
    DIR *d = opendir("/proc/self/task");
    CHECK("names", d != NULL);
    int saw_me = 0, saw_worker = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        long id = atol(e->d_name);
        saw_me += id == (long)syscall(SYS_gettid);
        saw_worker += id == worker_tid;
    }
    if (d)
        closedir(d);
    CHECKF("names", saw_me == 1 && saw_worker == 1, "task dir: me %d worker %d", saw_me,
           saw_worker);
    snprintf(path, sizeof path, "/proc/self/task/%ld/stat", (long)worker_tid);
    FILE *f = fopen(path, "r");
    long id = 0;
    char stat_name[32] = "";
    CHECK("names", f && fscanf(f, "%ld (%31[^)])", &id, stat_name) == 2);
    if (f)
        fclose(f);
    CHECKF("names", id == worker_tid && strcmp(stat_name, "worker-one") == 0,
           "task stat %ld (%s)", id, stat_name);
    CHECK_SYS("names", prctl(PR_GET_NAME, got, 0, 0, 0));
    CHECKF("names", strcmp(got, mine) == 0, "main PR_GET_NAME %s", got);
    main_checked = 1;
    CHECK("names", pthread_join(t, NULL) == 0);
    CHECK_SYS("names", prctl(PR_SET_TIMERSLACK, 12345, 0, 0, 0));
    CHECK("names", prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == 12345);
    guest_ok("names");
}

static const struct guest_check checks[] = {
    {"create", check_create},       {"futex_pingpong", check_futex_pingpong},
    {"futex_ops", check_futex_ops}, {"atomics", check_atomics},
    {"spin", check_spin},           {"ring", check_ring},
    {"pipe_pingpong", check_pipe_pingpong},
    {"big_write", check_big_write}, {"condvar", check_condvar},
    {"robust", check_robust},       {"sleep", check_sleep},
    {"names", check_names},
};

int main(int argc, char **argv)
{
    return guest_run_checks("threads", checks, sizeof checks / sizeof checks[0], argc, argv);
}
