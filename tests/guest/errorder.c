/*
 * errorder: when a call has several faults at once, the errno Linux picks.
 *
 * The kernel checks flags, then the fd (EBADF, then ENOTSOCK or the open mode), then sizes
 * and counts, and reads or writes the caller's memory last (EFAULT). Each check passes a bad
 * pointer together with an earlier fault, so an emulator that looks at memory first answers
 * EFAULT where Linux does not. Raw syscalls: no libc check stands in between.
 *
 * fd_first   read, write, readv, preadv, pwritev, fgetxattr, flistxattr, getdents64, fstatfs
 *            (fsetxattr: Linux 6.13 and later read the value before the fd)
 * flags      pipe2, statx, accept4, wait4, mlock2, mlockall
 * counts     preadv/pwritev with more than 1024 vectors, recvmsg/sendmsg likewise
 * sockets    accept, recvmsg, sendmsg, getsockname on a pipe (ENOTSOCK)
 * mlock      mlock/munlock on unmapped memory (ENOMEM), mlock on mapped memory (0)
 * wait       wait4 with nothing to wait for and a bad status pointer (ECHILD)
 *
 * usage: errorder [check ...]   (no argument: every check)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "guestcheck.h"

#define BAD ((void *)16) /* below every mapping: any access faults */

static void check_fd_first(void)
{
    EXPECT_ERRNO("fd_first", syscall(SYS_read, 999, BAD, 10), EBADF);
    EXPECT_ERRNO("fd_first", syscall(SYS_write, 999, BAD, 10), EBADF);
    int ro = open("/proc/self/exe", O_RDONLY);
    CHECK_SYS("fd_first", ro);
    EXPECT_ERRNO("fd_first", syscall(SYS_write, ro, BAD, 10), EBADF);
    EXPECT_ERRNO("fd_first", syscall(SYS_preadv, 999, BAD, 1, 0, 0), EBADF);
    EXPECT_ERRNO("fd_first", syscall(SYS_pwritev, ro, BAD, 1, 0, 0), EBADF);
    EXPECT_ERRNO("fd_first", syscall(SYS_readv, 999, BAD, 1), EBADF);
    EXPECT_ERRNO("fd_first", syscall(SYS_fgetxattr, 999, "user.x", BAD, 10), EBADF);
    EXPECT_ERRNO("fd_first", syscall(SYS_flistxattr, 999, BAD, 10), EBADF);
    EXPECT_ERRNO("fd_first", syscall(SYS_getdents64, 999, BAD, 4096), EBADF);
    EXPECT_ERRNO("fd_first", syscall(SYS_getdents64, ro, BAD, 4096), ENOTDIR);
    EXPECT_ERRNO("fd_first", syscall(SYS_fstatfs, 999, BAD), EBADF);
    close(ro);
    guest_ok("fd_first");
}

static void check_flags(void)
{
    EXPECT_ERRNO("flags", syscall(SYS_pipe2, BAD, 0x7fff0000), EINVAL);
    EXPECT_ERRNO("flags", syscall(SYS_statx, AT_FDCWD, BAD, 0x80000000, 0x7ff, BAD), EINVAL);
    EXPECT_ERRNO("flags", syscall(SYS_statx, AT_FDCWD, "/", 0, 0x80000000u, BAD), EINVAL);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_SYS("flags", s);
    EXPECT_ERRNO("flags", syscall(SYS_accept4, s, BAD, BAD, 0x40000000), EINVAL);
    close(s);
    EXPECT_ERRNO("flags", syscall(SYS_wait4, -1, BAD, 0x40000, BAD), EINVAL);
    EXPECT_ERRNO("flags", syscall(SYS_mlockall, 0), EINVAL);
    EXPECT_ERRNO("flags", syscall(SYS_mlockall, 0x100), EINVAL);
#ifdef SYS_mlock2
    EXPECT_ERRNO("flags", syscall(SYS_mlock2, BAD, 4096, 0x10), EINVAL);
#endif
    guest_ok("flags");
}

static void check_counts(void)
{
    int fd = open("/proc/self/exe", O_RDONLY);
    CHECK_SYS("counts", fd);
    EXPECT_ERRNO("counts", syscall(SYS_readv, fd, BAD, 1025), EINVAL);
    EXPECT_ERRNO("counts", syscall(SYS_preadv, fd, BAD, 1025, 0, 0), EINVAL);
    EXPECT_ERRNO("counts", syscall(SYS_preadv, fd, BAD, -1, 0, 0), EINVAL);
    int sv[2];
    CHECK_SYS("counts", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = BAD;
    m.msg_iovlen = 1025;
    EXPECT_ERRNO("counts", syscall(SYS_sendmsg, sv[0], &m, MSG_DONTWAIT), EMSGSIZE);
    EXPECT_ERRNO("counts", syscall(SYS_recvmsg, sv[1], &m, MSG_DONTWAIT), EMSGSIZE);
    close(sv[0]);
    close(sv[1]);
    close(fd);
    guest_ok("counts");
}

static void check_sockets(void)
{
    int p[2];
    CHECK_SYS("sockets", pipe(p));
    EXPECT_ERRNO("sockets", syscall(SYS_accept4, p[0], BAD, BAD, 0), ENOTSOCK);
    EXPECT_ERRNO("sockets", syscall(SYS_recvmsg, p[0], BAD, 0), ENOTSOCK);
    EXPECT_ERRNO("sockets", syscall(SYS_sendmsg, p[1], BAD, 0), ENOTSOCK);
    EXPECT_ERRNO("sockets", syscall(SYS_getsockname, p[0], BAD, BAD), ENOTSOCK);
    EXPECT_ERRNO("sockets", syscall(SYS_recvmsg, 999, BAD, 0), EBADF);
    close(p[0]);
    close(p[1]);
    guest_ok("sockets");
}

static void check_mlock(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("mlock", m != MAP_FAILED);
    CHECK_SYS("mlock", munmap(m + page, page));
    CHECK_SYS("mlock", syscall(SYS_mlock, m, page));
    CHECK_SYS("mlock", syscall(SYS_munlock, m, page));
    EXPECT_ERRNO("mlock", syscall(SYS_mlock, m, 3 * page), ENOMEM);
    EXPECT_ERRNO("mlock", syscall(SYS_munlock, m + page, page), ENOMEM);
    EXPECT_ERRNO("mlock", syscall(SYS_mlock, m + page, 1), ENOMEM);
    CHECK_SYS("mlock", syscall(SYS_mlock, m + 1, 10)); /* rounded to its page */
    CHECK_SYS("mlock", syscall(SYS_munlock, m, 1));
    CHECK_SYS("mlock", syscall(SYS_mlock, m, 0));
    munmap(m, 3 * page);
    guest_ok("mlock");
}

static void check_wait(void)
{
    EXPECT_ERRNO("wait", syscall(SYS_wait4, -1, BAD, 0, 0), ECHILD);
    EXPECT_ERRNO("wait", syscall(SYS_wait4, 12345678, BAD, WNOHANG, 0), ECHILD);
    guest_ok("wait");
}

static const struct guest_check checks[] = {
    {"fd_first", check_fd_first}, {"flags", check_flags}, {"counts", check_counts},
    {"sockets", check_sockets},   {"mlock", check_mlock},  {"wait", check_wait},
};

int main(int argc, char **argv)
{
    return guest_run_checks("errorder", checks, sizeof checks / sizeof checks[0], argc, argv);
}
