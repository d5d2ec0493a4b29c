/*
 * fuzzcalls SEED COUNT: COUNT system calls with hostile arguments, chosen by a PRNG from SEED.
 *
 * Pointers are NULL, tiny, unmapped, in the kernel's half, read-only, misaligned or valid;
 * lengths are 0, small, a page, huge or negative; fds are bad, closed, or our own file, pipe,
 * socket, directory and epoll fd (all non-blocking, so nothing can wait for ever). For every
 * call one line: "<i> <call> ok" or "<i> <call> <ERRNO NAME>". Only calls that cannot hurt the
 * program itself are made (no signals, no unmapping, no process changes), so the output is
 * the same on every arch and kernel run; the real kernel (x86_64, natively) is the oracle.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* 32-bit musl keeps only the 64-bit-time calls under their own names */
#if !defined(SYS_clock_gettime) && defined(SYS_clock_gettime64)
#define SYS_clock_gettime SYS_clock_gettime64
#endif
#if !defined(SYS_ppoll) && defined(SYS_ppoll_time64)
#define SYS_ppoll SYS_ppoll_time64
#endif

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

static uint32_t pick(uint32_t n) { return rnd() % n; }

/* what each argument was, in words the same on every arch: "fd:pipe_r,ptr:null,len:huge" */
static char desc[256];
static size_t desc_len;

static void note(const char *what)
{
    size_t n = strlen(what);
    if (desc_len + n + 2 < sizeof desc) {
        if (desc_len)
            desc[desc_len++] = ',';
        memcpy(desc + desc_len, what, n + 1);
        desc_len += n;
    }
}

static char *big;       /* 64 KiB, read-write, followed by an unmapped page */
static char *readonly;  /* one read-only page */
static char *unmapped;  /* a page that was unmapped */
static int fds[8];
static int nfds;

static long ptr_arg(void)
{
    switch (pick(9)) {
    case 0: note("null"); return 0;
    case 1: note("tiny"); return 16;
    case 2: note("unmapped"); return (long)unmapped;
    case 3: note("kernel"); return (long)(sizeof(long) == 8 ? 0xffff800000001000UL : 0xc0001000UL);
    case 4: note("readonly"); return (long)readonly;
    case 5: note("odd"); return (long)(big + 1);
    case 6: note("edge"); return (long)(big + 65536 - 8); /* 8 bytes before the unmapped page */
    default: note("buf"); return (long)big;
    }
}

static long len_arg(void)
{
    static const long lens[] = {0, 1, 7, 4096, 65536, 1 << 20, -1, 0x7fffffff};
    static const char *names[] = {"0", "1", "7", "4k", "64k", "1m", "-1", "2g"};
    uint32_t i = pick(8);
    note(names[i]);
    return lens[i];
}

static const char *fd_names[] = {"file", "pipe_r", "pipe_w", "sock", "dir", "epoll", "null"};

static long fd_arg(void)
{
    switch (pick(6)) {
    case 0: note("fd-1"); return -1;
    case 1: note("fd999"); return 999;
    case 2: note("fdmax"); return 0x7fffffff;
    default: {
        uint32_t i = pick((uint32_t)nfds);
        note(fd_names[i]);
        return fds[i];
    }
    }
}

static long flags_arg(void)
{
    switch (pick(4)) {
    case 0: note("f0"); return 0;
    case 1: note("f-1"); return -1;
    case 2: {
        long bit = 1L << pick(31);
        char b[24];
        snprintf(b, sizeof b, "f%#lx", bit);
        note(b);
        return bit;
    }
    default: {
        long v = (long)rnd();
        char b[24];
        snprintf(b, sizeof b, "f%#lx", v);
        note(b);
        return v;
    }
    }
}

/* a path: a valid one, or a hostile pointer */
static long path_arg(void)
{
    switch (pick(4)) {
    case 0: note("\".\""); return (long)".";
    case 1: note("\"nofile\""); return (long)"no/such/file";
    case 2: note("\"\""); return (long)"";
    default: return ptr_arg();
    }
}

static const char *errname(int e)
{
    switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ESPIPE: return "ESPIPE";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case ELOOP: return "ELOOP";
    case ENODATA: return "ENODATA";
    case ENOTSOCK: return "ENOTSOCK";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case EMSGSIZE: return "EMSGSIZE";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EISCONN: return "EISCONN";
    case ENOTCONN: return "ENOTCONN";
    case ECHILD: return "ECHILD";
    case EOVERFLOW: return "EOVERFLOW";
    case ESRCH: return "ESRCH";
    case EPIPE: return "EPIPE";
    case EXDEV: return "EXDEV";
    case ENOTEMPTY: return "ENOTEMPTY";
    case EROFS: return "EROFS";
    default: return "E?";
    }
}

/* A successful call that made an fd: close it (the fds must not run out). */
static void close_new(long r, int made_fd)
{
    if (made_fd && r > 2 && r < 100000) {
        int keep = 0;
        for (int i = 0; i < nfds; i++)
            keep |= fds[i] == r;
        if (!keep)
            close((int)r);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fuzzcalls SEED COUNT\n");
        return 2;
    }
    rng_state = strtoull(argv[1], NULL, 0) * 2654435761ULL + 1;
    long count = strtol(argv[2], NULL, 0);
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);

    long page = sysconf(_SC_PAGESIZE);
    big = mmap(NULL, 65536 + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    readonly = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unmapped = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (big == MAP_FAILED || readonly == MAP_FAILED || unmapped == MAP_FAILED)
        return 3;
    munmap(big + 65536, page);
    munmap(unmapped, page);
    memset(big, 'x', 65536);

    char name[] = "/tmp/fuzzcalls-XXXXXX";
    int file = mkostemp(name, O_CLOEXEC);
    if (file < 0)
        return 3;
    unlink(name);
    if (write(file, big, 5000) != 5000)
        return 3;
    int p[2], sv[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) || socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv))
        return 3;
    fds[nfds++] = file;
    fds[nfds++] = p[0];
    fds[nfds++] = p[1];
    fds[nfds++] = sv[0];
    fds[nfds++] = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    fds[nfds++] = epoll_create1(EPOLL_CLOEXEC);
    fds[nfds++] = open("/dev/null", O_RDWR | O_CLOEXEC);

    for (long i = 0; i < count; i++) {
        const char *call;
        long r;
        int made_fd = 0;
        desc_len = 0;
        desc[0] = 0;
        errno = 0;
        long x0, x1, x2, x3; /* arguments drawn one by one: C leaves the order of a call's
                                argument expressions open, and every arch must draw alike */
        switch (pick(34)) {
        case 0: call = "read"; x0 = fd_arg(); x1 = ptr_arg(); x2 = len_arg();
            r = syscall(SYS_read, x0, x1, x2); break;
        case 1: call = "write"; x0 = fd_arg(); x1 = ptr_arg(); x2 = len_arg();
            r = syscall(SYS_write, x0, x1, x2); break;
        case 2: call = "readv"; x0 = fd_arg(); x1 = ptr_arg(); x2 = len_arg();
            r = syscall(SYS_readv, x0, x1, x2); break;
        case 3: call = "writev"; x0 = fd_arg(); x1 = ptr_arg(); x2 = len_arg();
            r = syscall(SYS_writev, x0, x1, x2); break;
        case 4: call = "lseek"; x0 = fd_arg(); x1 = pick(6);
            r = syscall(SYS_lseek, x0, 0, x1); break;
        case 5: call = "getdents64"; x0 = fd_arg(); x1 = ptr_arg(); x2 = len_arg();
            r = syscall(SYS_getdents64, x0, x1, x2); break;
        case 6: call = "statx";
            x0 = pick(2) ? AT_FDCWD : fd_arg(); x1 = path_arg(); x2 = pick(2) ? 0 : flags_arg();
            x3 = pick(2) ? 0x7ff : flags_arg();
            r = syscall(SYS_statx, x0, x1, x2, x3, ptr_arg()); break;
        case 7: call = "openat"; made_fd = 1; x0 = path_arg();
            x1 = pick(2) ? O_RDONLY : flags_arg() & ~(O_CREAT | O_TMPFILE | O_TRUNC);
            r = syscall(SYS_openat, AT_FDCWD, x0, x1 | O_CLOEXEC, 0); break;
        case 8: call = "getcwd"; x0 = ptr_arg(); x1 = len_arg();
            r = syscall(SYS_getcwd, x0, x1); break;
        case 9: call = "uname"; r = syscall(SYS_uname, ptr_arg()); break;
        case 10: call = "getrandom"; x0 = ptr_arg(); x1 = len_arg() & 0xffff;
            x2 = pick(2) ? 0 : flags_arg();
            r = syscall(SYS_getrandom, x0, x1, x2); break;
        case 11: call = "clock_gettime"; x0 = (long)pick(12) - 1;
            r = syscall(SYS_clock_gettime, x0, ptr_arg()); break;
        case 12: call = "pipe2"; x0 = ptr_arg(); x1 = pick(2) ? O_CLOEXEC : flags_arg();
            r = syscall(SYS_pipe2, x0, x1);
            if (r == 0 && x0 == (long)big) {
                close(((int *)big)[0]);
                close(((int *)big)[1]);
            }
            break;
        case 13: call = "fcntl"; {
            static const int cmds[] = {F_GETFD, F_GETFL, F_SETFL, F_GETLK, F_GETOWN, F_GETPIPE_SZ};
            int cmd = cmds[pick(6)];
            x0 = fd_arg();
            x1 = cmd == F_GETLK ? ptr_arg() : cmd == F_SETFL ? (O_NONBLOCK | (pick(2) ? O_APPEND : 0)) : 0;
            r = syscall(SYS_fcntl, x0, cmd, x1);
            break;
        }
        case 14: call = "ioctl"; {
            static const unsigned long reqs[] = {TCGETS, FIONREAD, TIOCGWINSZ, 0x12345678};
            unsigned long req = reqs[pick(4)];
            x0 = fd_arg();
            r = syscall(SYS_ioctl, x0, req, ptr_arg());
            break;
        }
        case 15: call = "getsockname"; x0 = fd_arg(); x1 = ptr_arg(); x2 = ptr_arg();
            r = syscall(SYS_getsockname, x0, x1, x2); break;
        case 16: call = "getsockopt"; x0 = fd_arg(); x1 = pick(2) ? SO_TYPE : (long)pick(64);
            x2 = ptr_arg(); x3 = ptr_arg();
            r = syscall(SYS_getsockopt, x0, SOL_SOCKET, x1, x2, x3); break;
        case 17: call = "sendto"; x0 = fd_arg(); x1 = ptr_arg(); x2 = len_arg();
            x3 = MSG_DONTWAIT | (pick(2) ? 0 : MSG_NOSIGNAL);
            r = syscall(SYS_sendto, x0, x1, x2, x3, 0, 0); break;
        case 18: call = "recvfrom"; x0 = fd_arg(); x1 = ptr_arg(); x2 = len_arg(); x3 = ptr_arg();
            r = syscall(SYS_recvfrom, x0, x1, x2, MSG_DONTWAIT, x3, ptr_arg()); break;
        case 19: call = "recvmsg"; x0 = fd_arg();
            r = syscall(SYS_recvmsg, x0, ptr_arg(), MSG_DONTWAIT); break;
        case 20: call = "sendmsg"; x0 = fd_arg();
            r = syscall(SYS_sendmsg, x0, ptr_arg(), MSG_DONTWAIT | MSG_NOSIGNAL); break;
        case 21: call = "ppoll"; {
            static const struct timespec zero = {0, 0};
            x0 = ptr_arg(); x1 = pick(4);
            r = syscall(SYS_ppoll, x0, x1, &zero, 0, 8);
            break;
        }
        case 22: call = "epoll_ctl"; x0 = fd_arg(); x1 = 1 + pick(3); x2 = fd_arg();
            r = syscall(SYS_epoll_ctl, x0, x1, x2, ptr_arg()); break;
        case 23: call = "epoll_pwait"; x0 = fd_arg(); x1 = ptr_arg(); x2 = (int)len_arg();
            r = syscall(SYS_epoll_pwait, x0, x1, x2, 0, 0, 8); break;
        case 24: call = "sched_getaffinity"; x0 = len_arg();
            r = syscall(SYS_sched_getaffinity, 0, x0, ptr_arg()); break;
        case 25: call = "prlimit64"; x0 = pick(18);
            r = syscall(SYS_prlimit64, 0, x0, 0, ptr_arg()); break;
        case 26: call = "getrusage"; x0 = (long)pick(4) - 1;
            r = syscall(SYS_getrusage, x0, ptr_arg()); break;
        case 27: call = "getxattr"; x0 = path_arg(); x1 = pick(2) ? (long)"user.x" : ptr_arg();
            x2 = ptr_arg(); x3 = len_arg();
            r = syscall(SYS_getxattr, x0, x1, x2, x3); break;
        case 28: call = "fgetxattr"; x0 = fd_arg(); x1 = pick(2) ? (long)"user.x" : ptr_arg();
            x2 = ptr_arg(); x3 = len_arg();
            r = syscall(SYS_fgetxattr, x0, x1, x2, x3); break;
        case 29: call = "readlinkat"; x0 = path_arg(); x1 = ptr_arg(); x2 = len_arg();
            r = syscall(SYS_readlinkat, AT_FDCWD, x0, x1, x2); break;
        case 30: call = "faccessat"; x0 = path_arg(); x1 = pick(8);
            r = syscall(SYS_faccessat, AT_FDCWD, x0, x1); break;
        case 31: call = "wait4"; x0 = ptr_arg(); x1 = pick(2) ? 1 : flags_arg(); x2 = ptr_arg();
            r = syscall(SYS_wait4, -1, x0, x1, x2); break;
        case 32: call = "pread64"; x0 = fd_arg(); x1 = ptr_arg(); x2 = len_arg();
            x3 = pick(2) ? 0 : 4096;
            r = pread((int)x0, (void *)x1, (size_t)x2, x3); break;
        default: call = "mlock"; x0 = ptr_arg() & ~4095L; x1 = len_arg() & 0xfffff;
            r = syscall(SYS_mlock, x0, x1); break;
        }
        close_new(r, made_fd);
        if (r == -1)
            printf("%ld %s(%s) %s\n", i, call, desc, errname(errno));
        else
            printf("%ld %s(%s) ok\n", i, call, desc);
    }
    printf("fuzz done\n");
    return 0;
}
