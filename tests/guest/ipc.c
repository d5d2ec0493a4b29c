/* System V IPC: shared memory between processes, semaphores (with waits another process
 * ends), message queues (typed receive, waits), and each object's ctl struct. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guestcheck.h"

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void check_shm(void)
{
    int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
    CHECK("shm", id >= 0);
    char *a = shmat(id, NULL, 0);
    CHECK("shm", a != (void *)-1);
    strcpy(a, "parent");
    strcpy(a + 9000, "far end");
    pid_t pid = fork();
    if (pid == 0) {
        /* the child's attachment is inherited, and a second one sees the same memory */
        char *b = shmat(id, NULL, SHM_RDONLY);
        int bad = b == (void *)-1 || strcmp(b, "parent") != 0 || strcmp(b + 9000, "far end");
        strcpy(a, "child");
        bad |= strcmp(b, "child") != 0 || shmdt(b) != 0;
        _exit(bad);
    }
    int st;
    CHECK("shm", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK("shm", strcmp(a, "child") == 0);
    struct shmid_ds ds;
    CHECK("shm", shmctl(id, IPC_STAT, &ds) == 0);
    CHECKF("shm", ds.shm_segsz == 10000 && ds.shm_nattch == 1 && ds.shm_cpid == getpid()
           && ds.shm_lpid == pid && (ds.shm_perm.mode & 0777) == 0600
           && ds.shm_perm.uid == getuid() && ds.shm_atime >= time(NULL) - 60,
           "segsz %lu nattch %lu cpid %d lpid %d/%d mode %o", (unsigned long)ds.shm_segsz,
           (unsigned long)ds.shm_nattch, (int)ds.shm_cpid, (int)ds.shm_lpid, (int)pid,
           (unsigned)ds.shm_perm.mode);
    ds.shm_perm.mode = 0640;
    CHECK("shm", shmctl(id, IPC_SET, &ds) == 0);
    CHECK("shm", shmctl(id, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & 0777) == 0640);
    /* two more attachments side by side over a reserved range (SHM_REMAP; 256 KiB apart,
     * MIPS's SHMLBA): each detaches on its own, and a read-only one cannot be made
     * writable */
    const uintptr_t lba = 0x40000;
    char *area = mmap(NULL, 3 * lba, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("shm", area != MAP_FAILED);
    char *b = (char *)(((uintptr_t)area + lba - 1) & ~(lba - 1));
    CHECK("shm", shmat(id, b, SHM_REMAP) == b && shmat(id, b + lba, SHM_RDONLY | SHM_REMAP)
          == b + lba && strcmp(b + lba, "child") == 0);
    CHECK("shm", mprotect(b + lba, 4096, PROT_READ | PROT_WRITE) == -1 && errno == EACCES);
    CHECK("shm", shmdt(a) == 0 && shmdt(b) == 0);
    CHECK("shm", shmdt(a) == -1 && errno == EINVAL);
    CHECK("shm", strcmp(b + lba + 9000, "far end") == 0 && shmdt(b + lba) == 0);
    munmap(area, 3 * lba);
    CHECK("shm", shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 0);
    CHECK("shm", shmctl(id, IPC_RMID, NULL) == 0);
    CHECK("shm", shmat(id, NULL, 0) == (void *)-1 && (errno == EINVAL || errno == EIDRM));
    guest_ok("shm");
}

static void check_sem(void)
{
    int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    CHECK("sem", id >= 0);
    unsigned short init[2] = {3, 0}, got[2] = {9, 9};
    CHECK("sem", semctl(id, 0, SETALL, (union semun){.array = init}) == 0);
    CHECK("sem", semctl(id, 0, GETALL, (union semun){.array = got}) == 0 && got[0] == 3
          && got[1] == 0);
    CHECK("sem", semctl(id, 1, SETVAL, (union semun){.val = 1}) == 0);
    CHECK("sem", semctl(id, 1, GETVAL) == 1);
    struct sembuf take = {0, -2, 0};
    CHECK("sem", semop(id, &take, 1) == 0 && semctl(id, 0, GETVAL) == 1);
    struct sembuf too_many = {0, -5, IPC_NOWAIT};
    CHECK("sem", semop(id, &too_many, 1) == -1 && errno == EAGAIN);
    struct timespec short_wait = {0, 30 * 1000000L};
    too_many.sem_flg = 0;
    CHECK("sem", semtimedop(id, &too_many, 1, &short_wait) == -1 && errno == EAGAIN);
    /* a wait that another process ends */
    pid_t pid = fork();
    if (pid == 0) {
        nap_ms(50);
        struct sembuf give = {0, 4, 0};
        _exit(semop(id, &give, 1) != 0);
    }
    struct sembuf wait5 = {0, -5, 0};
    CHECK("sem", semop(id, &wait5, 1) == 0);
    CHECK("sem", semctl(id, 0, GETVAL) == 0 && semctl(id, 0, GETPID) == getpid());
    int st;
    CHECK("sem", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    struct semid_ds ds;
    CHECK("sem", semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}) == 0);
    CHECKF("sem", ds.sem_nsems == 2 && (ds.sem_perm.mode & 0777) == 0600
           && ds.sem_otime >= time(NULL) - 60, "nsems %lu mode %o",
           (unsigned long)ds.sem_nsems, (unsigned)ds.sem_perm.mode);
    CHECK("sem", semctl(id, 0, IPC_RMID) == 0);
    CHECK("sem", semop(id, &take, 1) == -1 && (errno == EINVAL || errno == EIDRM));
    guest_ok("sem");
}

struct message {
    long mtype;
    char mtext[32];
};

static void check_msg(void)
{
    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    CHECK("msg", id >= 0);
    struct message m = {2, "two"};
    CHECK("msg", msgsnd(id, &m, 4, 0) == 0);
    m.mtype = 1;
    strcpy(m.mtext, "one!");
    CHECK("msg", msgsnd(id, &m, 5, 0) == 0);
    struct msqid_ds ds;
    CHECK("msg", msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 2 && ds.msg_cbytes == 9
          && ds.msg_lspid == getpid());
    memset(&m, 0, sizeof m);
    CHECK("msg", msgrcv(id, &m, sizeof m.mtext, 1, 0) == 5 && m.mtype == 1
          && strcmp(m.mtext, "one!") == 0);
    CHECK("msg", msgrcv(id, &m, sizeof m.mtext, 0, 0) == 4 && m.mtype == 2
          && strcmp(m.mtext, "two") == 0);
    CHECK("msg", msgrcv(id, &m, sizeof m.mtext, 0, IPC_NOWAIT) == -1 && errno == ENOMSG);
    pid_t pid = fork();
    if (pid == 0) {
        nap_ms(50);
        struct message c = {7, "from the child"};
        _exit(msgsnd(id, &c, 15, 0) != 0);
    }
    CHECK("msg", msgrcv(id, &m, sizeof m.mtext, -10, 0) == 15 && m.mtype == 7
          && strcmp(m.mtext, "from the child") == 0);
    int st;
    CHECK("msg", waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK("msg", msgctl(id, IPC_STAT, &ds) == 0);
    CHECKF("msg", ds.msg_qnum == 0 && ds.msg_lrpid == getpid() && ds.msg_lspid == pid,
           "qnum %lu lrpid %d lspid %d/%d", (unsigned long)ds.msg_qnum, (int)ds.msg_lrpid,
           (int)ds.msg_lspid, (int)pid);
    CHECK("msg", msgctl(id, IPC_RMID, NULL) == 0);
    CHECK("msg", msgsnd(id, &m, 4, 0) == -1 && (errno == EINVAL || errno == EIDRM));
    guest_ok("msg");
}

static volatile sig_atomic_t alarmed;
static void on_alarm(int sig)
{
    (void)sig;
    alarmed = 1;
}

static void check_eintr(void)
{
    /* a signal ends a semaphore wait with EINTR even under SA_RESTART, as Linux does */
    int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    CHECK("eintr", id >= 0);
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    CHECK("eintr", sigaction(SIGALRM, &sa, NULL) == 0);
    struct itimerval it = {{0, 0}, {0, 50000}};
    CHECK("eintr", setitimer(ITIMER_REAL, &it, NULL) == 0);
    struct sembuf take = {0, -1, 0};
    CHECK("eintr", semop(id, &take, 1) == -1 && errno == EINTR && alarmed);
    CHECK("eintr", semctl(id, 0, IPC_RMID) == 0);
    guest_ok("eintr");
}

static const struct guest_check checks[] = {
    {"shm", check_shm}, {"sem", check_sem}, {"msg", check_msg}, {"eintr", check_eintr},
};

int main(int argc, char **argv)
{
    return guest_run_checks("ipc", checks, sizeof checks / sizeof checks[0], argc, argv);
}
