/*
 * fileio SCRATCH_DIR
 *
 * Exercises the file-system system calls inside an empty scratch directory and
 * prints one "<check> ok" line per check.  Nothing printed depends on the
 * scratch path, so the output is identical on every architecture.
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "guestcheck.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef AT_STATX_SYNC_AS_STAT
#define AT_STATX_SYNC_AS_STAT 0
#endif

/* Our own copy of the kernel's struct statx, so no libc support is needed. */
struct g_statx_ts {
    int64_t tv_sec;
    uint32_t tv_nsec;
    int32_t reserved;
};
struct g_statx {
    uint32_t stx_mask;
    uint32_t stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink;
    uint32_t stx_uid;
    uint32_t stx_gid;
    uint16_t stx_mode;
    uint16_t pad0;
    uint64_t stx_ino;
    uint64_t stx_size;
    uint64_t stx_blocks;
    uint64_t stx_attributes_mask;
    struct g_statx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t spare[14];
};
#define G_STATX_TYPE 0x1U
#define G_STATX_MODE 0x2U
#define G_STATX_NLINK 0x4U
#define G_STATX_SIZE 0x200U

static void write_all(const char *name, int fd, const void *buf, size_t len)
{
    ssize_t n = write(fd, buf, len);
    CHECKF(name, n == (ssize_t)len, "write returned %zd, wanted %zu", n, len);
}

static void read_exact(const char *name, int fd, void *buf, size_t len)
{
    ssize_t n = read(fd, buf, len);
    CHECKF(name, n == (ssize_t)len, "read returned %zd, wanted %zu", n, len);
}

static off_t size_of(const char *name, const char *path)
{
    struct stat st;
    CHECK_SYS(name, stat(path, &st));
    return st.st_size;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_open_flags(void)
{
    char buf[64];
    int fd;

    /* O_CREAT|O_EXCL creates; a second O_EXCL open fails with EEXIST. */
    fd = open("a.txt", O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK_SYS("open_excl", fd);
    write_all("open_excl", fd, "hello file\n", 11);
    CHECK_SYS("open_excl", close(fd));
    EXPECT_ERRNO("open_excl", open("a.txt", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
    guest_ok("open_excl");

    /* Read it back. */
    fd = open("a.txt", O_RDONLY);
    CHECK_SYS("open_read", fd);
    memset(buf, 0, sizeof buf);
    read_exact("open_read", fd, buf, 11);
    CHECK("open_read", memcmp(buf, "hello file\n", 11) == 0);
    CHECK("open_read", read(fd, buf, sizeof buf) == 0);
    CHECK_SYS("open_read", close(fd));
    guest_ok("open_read");

    /* O_APPEND: writes land at the end even after seeking to 0. */
    fd = open("a.txt", O_WRONLY | O_APPEND);
    CHECK_SYS("open_append", fd);
    CHECK("open_append", lseek(fd, 0, SEEK_SET) == 0);
    write_all("open_append", fd, "more\n", 5);
    CHECK_SYS("open_append", close(fd));
    CHECK("open_append", size_of("open_append", "a.txt") == 16);
    fd = open("a.txt", O_RDONLY);
    CHECK_SYS("open_append", fd);
    read_exact("open_append", fd, buf, 16);
    CHECK("open_append", memcmp(buf, "hello file\nmore\n", 16) == 0);
    close(fd);
    guest_ok("open_append");

    /* O_TRUNC empties an existing file. */
    CHECK_SYS("open_trunc", fd = open("b.txt", O_RDWR | O_CREAT, 0644));
    write_all("open_trunc", fd, "0123456789", 10);
    close(fd);
    CHECK("open_trunc", size_of("open_trunc", "b.txt") == 10);
    CHECK_SYS("open_trunc", fd = open("b.txt", O_RDWR | O_TRUNC));
    close(fd);
    CHECK("open_trunc", size_of("open_trunc", "b.txt") == 0);
    guest_ok("open_trunc");

    /* O_DIRECTORY: works on a directory, ENOTDIR on a file. */
    CHECK_SYS("open_directory", fd = open(".", O_RDONLY | O_DIRECTORY));
    close(fd);
    EXPECT_ERRNO("open_directory", open("a.txt", O_RDONLY | O_DIRECTORY), ENOTDIR);
    guest_ok("open_directory");

    /* O_CLOEXEC shows up as FD_CLOEXEC. */
    CHECK_SYS("open_cloexec", fd = open("a.txt", O_RDONLY | O_CLOEXEC));
    CHECK("open_cloexec", fcntl(fd, F_GETFD) == FD_CLOEXEC);
    CHECK_SYS("open_cloexec", fcntl(fd, F_SETFD, 0));
    CHECK("open_cloexec", fcntl(fd, F_GETFD) == 0);
    close(fd);
    CHECK_SYS("open_cloexec", fd = open("a.txt", O_RDONLY));
    CHECK("open_cloexec", fcntl(fd, F_GETFD) == 0);
    close(fd);
    guest_ok("open_cloexec");

    /* Missing file -> ENOENT. */
    EXPECT_ERRNO("open_enoent", open("does-not-exist", O_RDONLY), ENOENT);
    EXPECT_ERRNO("open_enoent", open("nodir/file", O_RDONLY | O_CREAT, 0644), ENOENT);
    guest_ok("open_enoent");
}

static void check_rw_seek(void)
{
    char buf[64];
    int fd;

    CHECK_SYS("lseek", fd = open("rw.bin", O_RDWR | O_CREAT | O_TRUNC, 0600));
    write_all("lseek", fd, "abcdefghij", 10);
    CHECK("lseek", lseek(fd, 0, SEEK_CUR) == 10);
    CHECK("lseek", lseek(fd, 2, SEEK_SET) == 2);
    read_exact("lseek", fd, buf, 3);
    CHECK("lseek", memcmp(buf, "cde", 3) == 0);
    CHECK("lseek", lseek(fd, -2, SEEK_CUR) == 3);
    read_exact("lseek", fd, buf, 1);
    CHECK("lseek", buf[0] == 'd');
    CHECK("lseek", lseek(fd, -1, SEEK_END) == 9);
    read_exact("lseek", fd, buf, 1);
    CHECK("lseek", buf[0] == 'j');
    EXPECT_ERRNO("lseek", lseek(fd, -100, SEEK_SET), EINVAL);
    /* Seeking past the end and writing leaves a hole that reads as zeros. */
    CHECK("lseek", lseek(fd, 20, SEEK_SET) == 20);
    write_all("lseek", fd, "Z", 1);
    CHECK("lseek", lseek(fd, 0, SEEK_END) == 21);
    CHECK("lseek", pread(fd, buf, 11, 10) == 11);
    for (int i = 0; i < 10; i++)
        CHECK("lseek", buf[i] == 0);
    CHECK("lseek", buf[10] == 'Z');
    guest_ok("lseek");

    /* pread/pwrite do not move the file offset. */
    CHECK("pread_pwrite", lseek(fd, 5, SEEK_SET) == 5);
    CHECK("pread_pwrite", pwrite(fd, "XY", 2, 0) == 2);
    CHECK("pread_pwrite", pread(fd, buf, 4, 0) == 4);
    CHECK("pread_pwrite", memcmp(buf, "XYcd", 4) == 0);
    CHECK("pread_pwrite", lseek(fd, 0, SEEK_CUR) == 5);
    CHECK("pread_pwrite", pread(fd, buf, 10, 100) == 0);
    guest_ok("pread_pwrite");

    /* readv/writev scatter and gather. */
    CHECK("readv_writev", lseek(fd, 0, SEEK_SET) == 0);
    struct iovec wv[3] = {
        {(void *)"one-", 4},
        {(void *)"", 0},
        {(void *)"two-three", 9},
    };
    CHECK("readv_writev", writev(fd, wv, 3) == 13);
    CHECK("readv_writev", lseek(fd, 0, SEEK_SET) == 0);
    char r1[3], r2[6], r3[4];
    struct iovec rv[3] = {{r1, sizeof r1}, {r2, sizeof r2}, {r3, sizeof r3}};
    CHECK("readv_writev", readv(fd, rv, 3) == 13);
    CHECK("readv_writev", memcmp(r1, "one", 3) == 0);
    CHECK("readv_writev", memcmp(r2, "-two-t", 6) == 0);
    CHECK("readv_writev", memcmp(r3, "hree", 4) == 0);
    guest_ok("readv_writev");

    /* ftruncate / truncate, shrinking and growing. */
    CHECK_SYS("truncate", ftruncate(fd, 4));
    CHECK("truncate", size_of("truncate", "rw.bin") == 4);
    CHECK_SYS("truncate", truncate("rw.bin", 8192));
    CHECK("truncate", size_of("truncate", "rw.bin") == 8192);
    CHECK("truncate", pread(fd, buf, 8, 4) == 8);
    for (int i = 0; i < 8; i++)
        CHECK("truncate", buf[i] == 0);
    CHECK_SYS("truncate", ftruncate(fd, 0));
    CHECK("truncate", size_of("truncate", "rw.bin") == 0);
    EXPECT_ERRNO("truncate", truncate("missing.bin", 0), ENOENT);
    guest_ok("truncate");

    CHECK_SYS("fsync", fsync(fd));
    CHECK_SYS("fsync", fdatasync(fd));
    guest_ok("fsync");
    close(fd);
}

static void check_stat(void)
{
    struct stat st, st2;
    int fd;

    CHECK_SYS("stat", fd = open("s.txt", O_RDWR | O_CREAT | O_TRUNC, 0640));
    CHECK_SYS("stat", fchmod(fd, 0640));
    write_all("stat", fd, "12345", 5);
    CHECK_SYS("stat", fstat(fd, &st));
    CHECKF("stat", st.st_size == 5, "size %lld", (long long)st.st_size);
    CHECK("stat", S_ISREG(st.st_mode));
    CHECKF("stat", (st.st_mode & 07777) == 0640, "mode %o", (unsigned)st.st_mode);
    CHECK("stat", st.st_nlink == 1);
    CHECK("stat", st.st_uid == getuid());
    CHECK_SYS("stat", stat("s.txt", &st2));
    CHECK("stat", st2.st_ino == st.st_ino && st2.st_dev == st.st_dev);
    CHECK("stat", st2.st_size == 5);
    CHECK_SYS("stat", fstatat(AT_FDCWD, "s.txt", &st2, 0));
    CHECK("stat", st2.st_ino == st.st_ino);
    CHECK_SYS("stat", stat(".", &st2));
    CHECK("stat", S_ISDIR(st2.st_mode));
    EXPECT_ERRNO("stat", stat("missing", &st2), ENOENT);
    EXPECT_ERRNO("stat", fstat(-1, &st2), EBADF);
    guest_ok("stat");

#ifdef SYS_statx
    struct g_statx sx;
    memset(&sx, 0xff, sizeof sx);
    CHECK_SYS("statx", syscall(SYS_statx, AT_FDCWD, "s.txt", AT_STATX_SYNC_AS_STAT,
                               G_STATX_TYPE | G_STATX_MODE | G_STATX_NLINK | G_STATX_SIZE,
                               &sx));
    CHECK("statx", (sx.stx_mask & (G_STATX_TYPE | G_STATX_MODE | G_STATX_SIZE)) ==
                       (G_STATX_TYPE | G_STATX_MODE | G_STATX_SIZE));
    CHECK("statx", sx.stx_size == 5);
    CHECK("statx", S_ISREG(sx.stx_mode));
    CHECK("statx", (sx.stx_mode & 07777) == 0640);
    CHECK("statx", sx.stx_nlink == 1);
    CHECK("statx", sx.stx_ino == (uint64_t)st.st_ino);
    CHECK("statx", sx.stx_uid == (uint32_t)getuid());
    EXPECT_ERRNO("statx", syscall(SYS_statx, AT_FDCWD, "missing", 0, G_STATX_SIZE, &sx), ENOENT);
#endif
    guest_ok("statx");

    /* link bumps st_nlink; unlink drops it again. */
    CHECK_SYS("link", link("s.txt", "s-link.txt"));
    CHECK_SYS("link", fstat(fd, &st2));
    CHECK("link", st2.st_nlink == 2);
    CHECK_SYS("link", stat("s-link.txt", &st2));
    CHECK("link", st2.st_ino == st.st_ino);
    EXPECT_ERRNO("link", link("s.txt", "s-link.txt"), EEXIST);
    CHECK_SYS("link", unlink("s-link.txt"));
    CHECK_SYS("link", fstat(fd, &st2));
    CHECK("link", st2.st_nlink == 1);
    guest_ok("link");

    /* symlink / readlink / lstat / O_NOFOLLOW. */
    CHECK_SYS("symlink", symlink("s.txt", "sym"));
    char target[64];
    memset(target, 'x', sizeof target);
    ssize_t n = readlink("sym", target, sizeof target);
    CHECKF("symlink", n == 5, "readlink returned %zd", n);
    CHECK("symlink", memcmp(target, "s.txt", 5) == 0 && target[5] == 'x');
    n = readlink("sym", target, 3);
    CHECK("symlink", n == 3 && memcmp(target, "s.t", 3) == 0);
    CHECK_SYS("symlink", lstat("sym", &st2));
    CHECK("symlink", S_ISLNK(st2.st_mode));
    CHECK("symlink", st2.st_size == 5);
    CHECK_SYS("symlink", stat("sym", &st2));
    CHECK("symlink", S_ISREG(st2.st_mode) && st2.st_ino == st.st_ino);
    CHECK_SYS("symlink", fstatat(AT_FDCWD, "sym", &st2, AT_SYMLINK_NOFOLLOW));
    CHECK("symlink", S_ISLNK(st2.st_mode));
    EXPECT_ERRNO("symlink", readlink("s.txt", target, sizeof target), EINVAL);
    EXPECT_ERRNO("symlink", symlink("x", "sym"), EEXIST);
    guest_ok("symlink");

    int fd2;
    EXPECT_ERRNO("open_nofollow", open("sym", O_RDONLY | O_NOFOLLOW), ELOOP);
    CHECK_SYS("open_nofollow", fd2 = open("s.txt", O_RDONLY | O_NOFOLLOW));
    close(fd2);
    CHECK_SYS("open_nofollow", fd2 = open("sym", O_RDONLY));
    close(fd2);
    guest_ok("open_nofollow");

    /* chmod / fchmod / fchmodat. */
    CHECK_SYS("chmod", chmod("s.txt", 0600));
    CHECK_SYS("chmod", stat("s.txt", &st2));
    CHECK("chmod", (st2.st_mode & 07777) == 0600);
    CHECK_SYS("chmod", fchmod(fd, 0751));
    CHECK_SYS("chmod", stat("s.txt", &st2));
    CHECK("chmod", (st2.st_mode & 07777) == 0751);
    CHECK_SYS("chmod", fchmodat(AT_FDCWD, "s.txt", 0444, 0));
    CHECK_SYS("chmod", fstat(fd, &st2));
    CHECK("chmod", (st2.st_mode & 07777) == 0444);
    CHECK("chmod", S_ISREG(st2.st_mode));
    CHECK_SYS("chmod", chmod("s.txt", 0644));
    guest_ok("chmod");

    /* access / faccessat: X_OK on a file with no execute bit fails even for root. */
    CHECK_SYS("access", access("s.txt", F_OK));
    CHECK_SYS("access", access("s.txt", R_OK));
    EXPECT_ERRNO("access", access("missing", F_OK), ENOENT);
    EXPECT_ERRNO("access", access("s.txt", X_OK), EACCES);
    CHECK_SYS("access", faccessat(AT_FDCWD, "s.txt", R_OK, 0));
    EXPECT_ERRNO("access", faccessat(AT_FDCWD, "missing", R_OK, 0), ENOENT);
    CHECK_SYS("access", chmod("s.txt", 0755));
    CHECK_SYS("access", access("s.txt", X_OK));
    CHECK_SYS("access", chmod("s.txt", 0644));
    guest_ok("access");

    /* utimensat sets mtime; stat reads it back. */
    struct timespec times[2] = {{1000000000, 0}, {1234567890, 500000000}};
    CHECK_SYS("utimensat", utimensat(AT_FDCWD, "s.txt", times, 0));
    CHECK_SYS("utimensat", stat("s.txt", &st2));
    CHECKF("utimensat", st2.st_mtim.tv_sec == 1234567890, "mtime %lld",
           (long long)st2.st_mtim.tv_sec);
    CHECKF("utimensat", st2.st_atim.tv_sec == 1000000000, "atime %lld",
           (long long)st2.st_atim.tv_sec);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {1500000000, 0}};
    CHECK_SYS("utimensat", utimensat(AT_FDCWD, "s.txt", omit, 0));
    CHECK_SYS("utimensat", stat("s.txt", &st2));
    CHECK("utimensat", st2.st_mtim.tv_sec == 1500000000);
    CHECK("utimensat", st2.st_atim.tv_sec == 1000000000);
    CHECK_SYS("utimensat", futimens(fd, times));
    CHECK_SYS("utimensat", fstat(fd, &st2));
    CHECK("utimensat", st2.st_mtim.tv_sec == 1234567890);
    guest_ok("utimensat");

    close(fd);
}

static void check_dirs(void)
{
    struct stat st;
    int dfd, fd;

    CHECK_SYS("mkdir", mkdir("d1", 0755));
    CHECK_SYS("mkdir", stat("d1", &st));
    CHECK("mkdir", S_ISDIR(st.st_mode));
    CHECK("mkdir", (st.st_mode & 0777) == 0755);
    EXPECT_ERRNO("mkdir", mkdir("d1", 0755), EEXIST);
    EXPECT_ERRNO("mkdir", mkdir("nodir/sub", 0755), ENOENT);
    guest_ok("mkdir");

    CHECK_SYS("mkdirat", dfd = open("d1", O_RDONLY | O_DIRECTORY));
    CHECK_SYS("mkdirat", mkdirat(dfd, "sub", 0700));
    CHECK_SYS("mkdirat", fstatat(dfd, "sub", &st, 0));
    CHECK("mkdirat", S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    CHECK_SYS("mkdirat", stat("d1/sub", &st));
    guest_ok("mkdirat");

    CHECK_SYS("openat", fd = openat(dfd, "f.txt", O_WRONLY | O_CREAT | O_EXCL, 0644));
    write_all("openat", fd, "in d1", 5);
    close(fd);
    CHECK("openat", size_of("openat", "d1/f.txt") == 5);
    CHECK_SYS("openat", fd = openat(AT_FDCWD, "d1/f.txt", O_RDONLY));
    close(fd);
    EXPECT_ERRNO("openat", openat(dfd, "missing", O_RDONLY), ENOENT);
    guest_ok("openat");

    /* rmdir of a non-empty directory fails. */
    EXPECT_ERRNO("rmdir", rmdir("d1"), ENOTEMPTY);
    EXPECT_ERRNO("rmdir", rmdir("missing"), ENOENT);
    EXPECT_ERRNO("rmdir", rmdir("a.txt"), ENOTDIR);
    guest_ok("rmdir");

    /* unlinkat with and without AT_REMOVEDIR. */
    EXPECT_ERRNO("unlinkat", unlinkat(dfd, "sub", 0), EISDIR);
    CHECK_SYS("unlinkat", unlinkat(dfd, "sub", AT_REMOVEDIR));
    EXPECT_ERRNO("unlinkat", fstatat(dfd, "sub", &st, 0), ENOENT);
    CHECK_SYS("unlinkat", unlinkat(dfd, "f.txt", 0));
    EXPECT_ERRNO("unlinkat", unlinkat(dfd, "f.txt", 0), ENOENT);
    close(dfd);
    CHECK_SYS("unlinkat", rmdir("d1"));
    EXPECT_ERRNO("unlinkat", stat("d1", &st), ENOENT);
    guest_ok("unlinkat");

    /* rename and renameat2(RENAME_NOREPLACE). */
    CHECK_SYS("rename", fd = open("r1", O_WRONLY | O_CREAT | O_TRUNC, 0644));
    write_all("rename", fd, "r1", 2);
    close(fd);
    CHECK_SYS("rename", fd = open("r2", O_WRONLY | O_CREAT | O_TRUNC, 0644));
    write_all("rename", fd, "r2!", 3);
    close(fd);
    CHECK_SYS("rename", rename("r1", "r3"));
    EXPECT_ERRNO("rename", stat("r1", &st), ENOENT);
    CHECK("rename", size_of("rename", "r3") == 2);
    CHECK_SYS("rename", rename("r2", "r3")); /* replaces */
    CHECK("rename", size_of("rename", "r3") == 3);
    EXPECT_ERRNO("rename", rename("missing", "r4"), ENOENT);
    guest_ok("rename");

#ifdef SYS_renameat2
    CHECK_SYS("renameat2", fd = open("r5", O_WRONLY | O_CREAT | O_TRUNC, 0644));
    close(fd);
    EXPECT_ERRNO("renameat2",
                 syscall(SYS_renameat2, AT_FDCWD, "r5", AT_FDCWD, "r3", RENAME_NOREPLACE),
                 EEXIST);
    CHECK_SYS("renameat2",
              syscall(SYS_renameat2, AT_FDCWD, "r5", AT_FDCWD, "r6", RENAME_NOREPLACE));
    EXPECT_ERRNO("renameat2", stat("r5", &st), ENOENT);
    CHECK("renameat2", size_of("renameat2", "r6") == 0);
    CHECK_SYS("renameat2", unlink("r6"));
#endif
    CHECK_SYS("renameat2", renameat(AT_FDCWD, "r3", AT_FDCWD, "r7"));
    CHECK_SYS("renameat2", unlink("r7"));
    guest_ok("renameat2");
}

static void check_fds(void)
{
    int fd, fd2, fl;

    CHECK_SYS("dup", fd = open("a.txt", O_RDONLY));
    CHECK_SYS("dup", fd2 = dup(fd));
    CHECK("dup", fd2 != fd);
    /* Duplicates share the file offset. */
    CHECK("dup", lseek(fd, 6, SEEK_SET) == 6);
    CHECK("dup", lseek(fd2, 0, SEEK_CUR) == 6);
    CHECK_SYS("dup", close(fd2));
    CHECK("dup", dup2(fd, 40) == 40);
    CHECK("dup", lseek(40, 0, SEEK_CUR) == 6);
    CHECK("dup", dup2(40, 40) == 40);
    CHECK("dup", fcntl(40, F_GETFD) == 0);
    CHECK("dup", dup3(fd, 41, O_CLOEXEC) == 41);
    CHECK("dup", fcntl(41, F_GETFD) == FD_CLOEXEC);
    EXPECT_ERRNO("dup", dup3(41, 41, 0), EINVAL);
    EXPECT_ERRNO("dup", dup(-1), EBADF);
    EXPECT_ERRNO("dup", dup2(1000, 42), EBADF);
    close(40);
    close(41);
    guest_ok("dup");

    CHECK_SYS("dupfd_cloexec", fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 50));
    CHECK("dupfd_cloexec", fd2 >= 50);
    CHECK("dupfd_cloexec", fcntl(fd2, F_GETFD) == FD_CLOEXEC);
    int fd3;
    CHECK_SYS("dupfd_cloexec", fd3 = fcntl(fd, F_DUPFD, fd2));
    CHECK("dupfd_cloexec", fd3 > fd2);
    CHECK("dupfd_cloexec", fcntl(fd3, F_GETFD) == 0);
    close(fd2);
    close(fd3);
    close(fd);
    guest_ok("dupfd_cloexec");

    /* F_GETFL / F_SETFL. */
    CHECK_SYS("fcntl_fl", fd = open("a.txt", O_RDWR));
    CHECK_SYS("fcntl_fl", fl = fcntl(fd, F_GETFL));
    CHECK("fcntl_fl", (fl & O_ACCMODE) == O_RDWR);
    CHECK("fcntl_fl", (fl & (O_APPEND | O_NONBLOCK)) == 0);
    CHECK_SYS("fcntl_fl", fcntl(fd, F_SETFL, fl | O_APPEND | O_NONBLOCK));
    CHECK_SYS("fcntl_fl", fl = fcntl(fd, F_GETFL));
    CHECK("fcntl_fl", (fl & O_APPEND) == O_APPEND);
    CHECK("fcntl_fl", (fl & O_NONBLOCK) == O_NONBLOCK);
    CHECK("fcntl_fl", (fl & O_ACCMODE) == O_RDWR);
    CHECK_SYS("fcntl_fl", fcntl(fd, F_SETFL, fl & ~O_NONBLOCK));
    CHECK_SYS("fcntl_fl", fl = fcntl(fd, F_GETFL));
    CHECK("fcntl_fl", (fl & O_NONBLOCK) == 0 && (fl & O_APPEND) == O_APPEND);
    close(fd);
    CHECK_SYS("fcntl_fl", fd = open("a.txt", O_WRONLY | O_APPEND));
    CHECK_SYS("fcntl_fl", fl = fcntl(fd, F_GETFL));
    CHECK("fcntl_fl", (fl & O_ACCMODE) == O_WRONLY && (fl & O_APPEND) == O_APPEND);
    close(fd);
    EXPECT_ERRNO("fcntl_fl", fcntl(1000, F_GETFL), EBADF);
    guest_ok("fcntl_fl");

    /* Bad fds and wrong access modes -> EBADF. */
    char c;
    EXPECT_ERRNO("ebadf", read(1000, &c, 1), EBADF);
    EXPECT_ERRNO("ebadf", read(-1, &c, 1), EBADF);
    EXPECT_ERRNO("ebadf", close(1000), EBADF);
    CHECK_SYS("ebadf", fd = open("a.txt", O_RDONLY));
    EXPECT_ERRNO("ebadf", write(fd, "x", 1), EBADF);
    close(fd);
    CHECK_SYS("ebadf", fd = open("a.txt", O_WRONLY));
    EXPECT_ERRNO("ebadf", read(fd, &c, 1), EBADF);
    close(fd);
    EXPECT_ERRNO("ebadf", read(fd, &c, 1), EBADF);
    guest_ok("ebadf");

    /* pipe2 round trip. */
    int p[2];
    char buf[16];
    CHECK_SYS("pipe2", pipe2(p, O_CLOEXEC));
    CHECK("pipe2", fcntl(p[0], F_GETFD) == FD_CLOEXEC);
    CHECK("pipe2", fcntl(p[1], F_GETFD) == FD_CLOEXEC);
    CHECK("pipe2", (fcntl(p[0], F_GETFL) & O_ACCMODE) == O_RDONLY);
    CHECK("pipe2", (fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY);
    write_all("pipe2", p[1], "ping", 4);
    read_exact("pipe2", p[0], buf, 4);
    CHECK("pipe2", memcmp(buf, "ping", 4) == 0);
    close(p[0]);
    close(p[1]);
    CHECK_SYS("pipe2", pipe2(p, O_NONBLOCK));
    CHECK("pipe2", fcntl(p[0], F_GETFD) == 0);
    EXPECT_ERRNO("pipe2", read(p[0], buf, sizeof buf), EAGAIN);
    write_all("pipe2", p[1], "pong!", 5);
    CHECK("pipe2", read(p[0], buf, sizeof buf) == 5);
    CHECK("pipe2", memcmp(buf, "pong!", 5) == 0);
    close(p[1]);
    CHECK("pipe2", read(p[0], buf, sizeof buf) == 0); /* EOF */
    close(p[0]);
    guest_ok("pipe2");

    /* close_range over a block of descriptors. */
#ifdef SYS_close_range
    CHECK_SYS("close_range", fd = open("a.txt", O_RDONLY));
    for (int i = 60; i < 64; i++)
        CHECK("close_range", dup2(fd, i) == i);
    CHECK_SYS("close_range", syscall(SYS_close_range, 60U, 62U, 0U));
    for (int i = 60; i < 63; i++)
        EXPECT_ERRNO("close_range", fcntl(i, F_GETFD), EBADF);
    CHECK("close_range", fcntl(63, F_GETFD) == 0);
    CHECK("close_range", fcntl(fd, F_GETFD) == 0);
    close(63);
    close(fd);
#endif
    guest_ok("close_range");
}

static void check_cwd(void)
{
    char cwd[4096];
    struct stat a, b;
    int dfd;

    CHECK("cwd", getcwd(cwd, sizeof cwd) == cwd);
    CHECK("cwd", cwd[0] == '/');
    CHECK_SYS("cwd", stat(cwd, &a));
    CHECK_SYS("cwd", stat(".", &b));
    CHECK("cwd", a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    size_t base = strlen(cwd);

    CHECK_SYS("cwd", mkdir("cwdsub", 0755));
    CHECK_SYS("cwd", chdir("cwdsub"));
    CHECK("cwd", getcwd(cwd, sizeof cwd) == cwd);
    CHECKF("cwd", strlen(cwd) == base + 7 && strcmp(cwd + base, "/cwdsub") == 0, "cwd %s", cwd);
    CHECK_SYS("cwd", chdir(".."));
    CHECK("cwd", getcwd(cwd, sizeof cwd) == cwd && strlen(cwd) == base);
    CHECK_SYS("cwd", dfd = open("cwdsub", O_RDONLY | O_DIRECTORY));
    CHECK_SYS("cwd", fchdir(dfd));
    CHECK("cwd", getcwd(cwd, sizeof cwd) == cwd);
    CHECK("cwd", strcmp(cwd + base, "/cwdsub") == 0);
    close(dfd);
    EXPECT_ERRNO("cwd", chdir("missing"), ENOENT);
    EXPECT_ERRNO("cwd", chdir("../a.txt"), ENOTDIR);
    EXPECT_ERRNO("cwd", getcwd(cwd, 2) == NULL ? -1 : 0, ERANGE);
    CHECK_SYS("cwd", chdir(".."));
    CHECK_SYS("cwd", rmdir("cwdsub"));
    guest_ok("cwd");
}

static void check_umask(void)
{
    struct stat st;
    int fd;

    mode_t old = umask(027);
    CHECK("umask", umask(027) == 027);
    CHECK_SYS("umask", fd = open("masked", O_WRONLY | O_CREAT | O_EXCL, 0666));
    CHECK_SYS("umask", fstat(fd, &st));
    CHECKF("umask", (st.st_mode & 0777) == 0640, "mode %o", (unsigned)(st.st_mode & 0777));
    close(fd);
    CHECK_SYS("umask", mkdir("maskdir", 0777));
    CHECK_SYS("umask", stat("maskdir", &st));
    CHECKF("umask", (st.st_mode & 0777) == 0750, "mode %o", (unsigned)(st.st_mode & 0777));
    CHECK_SYS("umask", rmdir("maskdir"));
    CHECK_SYS("umask", unlink("masked"));
    umask(old);
    guest_ok("umask");
}

static void check_readdir(void)
{
    int fd;
    const char *names[] = {"zeta", "alpha", "mid.txt", "Beta"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "list/%s", names[i]);
        if (i == 0) {
            CHECK_SYS("readdir", mkdir("list", 0755));
            CHECK_SYS("readdir", mkdir("list/subdir", 0755));
        }
        CHECK_SYS("readdir", fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
        close(fd);
    }
    DIR *d = opendir("list");
    CHECK("readdir", d != NULL);
    char *seen[32];
    int n = 0, dots = 0, dirs = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            dots++;
            continue;
        }
        CHECK("readdir", n < 32);
        if (e->d_type == DT_DIR)
            dirs++;
        seen[n++] = strdup(e->d_name);
    }
    CHECK("readdir", errno == 0);
    CHECK_SYS("readdir", closedir(d));
    CHECK("readdir", dots == 2);
    qsort(seen, (size_t)n, sizeof seen[0], cmp_str);
    printf("readdir:");
    for (int i = 0; i < n; i++) {
        printf(" %s", seen[i]);
        free(seen[i]);
    }
    printf("\n");
    CHECK("readdir", n == 5);
    /* d_type is optional (DT_UNKNOWN), but when present subdir is the only dir. */
    CHECK("readdir", dirs <= 1);
    EXPECT_ERRNO("readdir", (opendir("missing") == NULL ? -1 : 0), ENOENT);
    guest_ok("readdir");
}

/* The calls the compiled core serves itself, at their edges: each must answer as Linux does
 * (and as the Python path does), whoever serves it. Raw syscalls, so no vDSO or libc check
 * stands in between (pread: the libc call, for the register pair of 32-bit ABIs). */
static void check_fast_edges(void)
{
    static const char text[100] = "0123456789abcdefghijklmnopqrstuvwxyz";
    int fd = open("fast.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK_SYS("fast_edges", fd);
    CHECK("fast_edges", syscall(SYS_write, fd, text, sizeof text) == (long)sizeof text);
    long page = sysconf(_SC_PAGESIZE);
    char *two = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("fast_edges", two != MAP_FAILED);
    CHECK_SYS("fast_edges", munmap(two + page, page));
    /* nothing mapped, read-only and PROT_NONE memory (at an offset with data to read) */
    CHECK("fast_edges", lseek(fd, 0, SEEK_SET) == 0);
    errno = 0;
    CHECK("fast_edges", syscall(SYS_read, fd, two + page, 8) == -1 && errno == EFAULT);
    CHECK_SYS("fast_edges", mprotect(two, page, PROT_READ));
    errno = 0;
    CHECK("fast_edges", pread(fd, two, 8, 0) == -1 && errno == EFAULT);
    errno = 0;
    CHECK("fast_edges", syscall(SYS_read, fd, (void *)check_fast_edges, 8) == -1 && errno == EFAULT);
    CHECK_SYS("fast_edges", mprotect(two, page, PROT_NONE));
    errno = 0;
    CHECK("fast_edges", syscall(SYS_write, fd, two, 8) == -1 && errno == EFAULT);
    CHECK_SYS("fast_edges", munmap(two, page));
    /* fds, offsets and whence */
    char buf[16] = {0};
    errno = 0;
    CHECK("fast_edges", syscall(SYS_read, -1, buf, 8) == -1 && errno == EBADF);
    errno = 0;
    CHECK("fast_edges", syscall(SYS_write, 1000, buf, 8) == -1 && errno == EBADF);
    errno = 0;
    CHECK("fast_edges", pread(fd, buf, 8, (off_t)-1) == -1 && errno == EINVAL);
    errno = 0;
    CHECK("fast_edges", lseek(fd, 0, 77) == -1 && errno == EINVAL);
    errno = 0;
    CHECK("fast_edges", lseek(fd, -5, SEEK_SET) == -1 && errno == EINVAL);
    CHECK("fast_edges", syscall(SYS_read, fd, buf, 0) == 0);
    int pfd[2];
    CHECK_SYS("fast_edges", syscall(SYS_pipe2, pfd, 0)); /* pipe2 on every arch, for strace */
    errno = 0;
    CHECK("fast_edges", lseek(pfd[0], 0, SEEK_SET) == -1 && errno == ESPIPE);
    errno = 0;
    CHECK("fast_edges", pread(pfd[0], buf, 1, 0) == -1 && errno == ESPIPE);
    close(pfd[0]);
    close(pfd[1]);
    close(fd);
    /* clocks */
#ifdef SYS_clock_gettime64
    long clock_nr = SYS_clock_gettime64;
#else
    long clock_nr = SYS_clock_gettime;
#endif
    int64_t ts[2], ts2[2];
    CHECK("fast_edges", syscall(clock_nr, CLOCK_MONOTONIC, ts) == 0);
    CHECK("fast_edges", syscall(clock_nr, CLOCK_MONOTONIC, ts2) == 0);
    CHECK("fast_edges", ts[1] >= 0 && ts[1] < 1000000000 && ts2[1] >= 0 && ts2[1] < 1000000000);
    CHECK("fast_edges", ts2[0] > ts[0] || (ts2[0] == ts[0] && ts2[1] >= ts[1]));
    CHECK("fast_edges", syscall(clock_nr, CLOCK_REALTIME, ts) == 0 && ts[0] > 1600000000);
    errno = 0;
    CHECK("fast_edges", syscall(clock_nr, 99, ts) == -1 && errno == EINVAL);
    errno = 0;
    CHECK("fast_edges", syscall(clock_nr, CLOCK_MONOTONIC, NULL) == -1 && errno == EFAULT);
    guest_ok("fast_edges");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fileio SCRATCH_DIR\n");
        return 2;
    }
    CHECKF("setup", chdir(argv[1]) == 0, "chdir %s", argv[1]);
    umask(022);

    check_open_flags();
    check_rw_seek();
    check_stat();
    check_dirs();
    check_fds();
    check_cwd();
    check_umask();
    check_readdir();
    check_fast_edges();
    puts("fileio done");
    return 0;
}
