/*
 * memory SCRATCH_DIR
 *
 * Exercises the memory-management system calls: brk, mmap/munmap (anonymous,
 * MAP_FIXED, MAP_FIXED_NOREPLACE, file-backed private and shared), mprotect,
 * mremap, madvise, msync, plus malloc/free churn.  Whether a page is mapped
 * or writable is observed without signals: write() from an unmapped page, or
 * read() into an unmapped or read-only page, fails with EFAULT.
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guestcheck.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE 4096UL

static int probe_pipe[2];

/* 1 if the byte at p can be read by the kernel (i.e. p is mapped readable). */
static int readable(const void *p)
{
    char c;
    ssize_t n = write(probe_pipe[1], p, 1);
    if (n == 1) {
        CHECK("probe", read(probe_pipe[0], &c, 1) == 1);
        return 1;
    }
    CHECKF("probe", n == -1 && errno == EFAULT, "write returned %zd", n);
    return 0;
}

/* 1 if the kernel can store a byte at p (mapped writable).  Stores 'v' there. */
static int writable(void *p, char v)
{
    CHECK("probe", write(probe_pipe[1], &v, 1) == 1);
    ssize_t n = read(probe_pipe[0], p, 1);
    if (n == 1)
        return 1;
    CHECKF("probe", n == -1 && errno == EFAULT, "read returned %zd", n);
    char c;
    CHECK("probe", read(probe_pipe[0], &c, 1) == 1); /* drain */
    return 0;
}

/*
 * mmap(MAP_FIXED_NOREPLACE).  Kernels before 4.17 (and qemu-user 7.2, the
 * reference) do not know the flag and treat the address as a hint, returning a
 * different address on a collision; mmap(2) documents checking for that.  Such
 * a result is unmapped again and reported as EEXIST, so both behaviours print
 * the same output.  Either way the existing mapping must not be touched.
 */
static void *mmap_noreplace(void *addr, size_t len, int prot)
{
    void *r = mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (r != MAP_FAILED && r != addr) {
        munmap(r, len);
        errno = EEXIST;
        return MAP_FAILED;
    }
    return r;
}

static uint32_t fnv1a(const unsigned char *p, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t lcg_state = 12345;
static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1103515245u + 12345u;
    return lcg_state >> 8;
}

static void check_brk(void)
{
    uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0);
    CHECK("brk", cur != 0);
    uintptr_t want = cur + 64 * 1024;
    uintptr_t got = (uintptr_t)syscall(SYS_brk, want);
    CHECKF("brk", got == want, "brk grew to %#lx, wanted %#lx", (unsigned long)got,
           (unsigned long)want);
    /* The new memory is zeroed and usable. */
    unsigned char *p = (unsigned char *)((cur + PAGE - 1) & ~(PAGE - 1));
    for (unsigned char *q = p; q + 1 < (unsigned char *)want; q += 997) {
        CHECK("brk", *q == 0);
        *q = 0x5a;
    }
    for (unsigned char *q = p; q + 1 < (unsigned char *)want; q += 997)
        CHECK("brk", *q == 0x5a);
    /* Shrink back to where we started. */
    got = (uintptr_t)syscall(SYS_brk, cur);
    CHECK("brk", got == cur);
    CHECK("brk", (uintptr_t)syscall(SYS_brk, 0) == cur);
    guest_ok("brk");
}

static void check_malloc(void)
{
    enum { SLOTS = 64, ROUNDS = 3000 };
    unsigned char *ptr[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    uint32_t sum[SLOTS] = {0};
    uint32_t total = 2166136261u;

    for (int round = 0; round < ROUNDS; round++) {
        int i = (int)(lcg() % SLOTS);
        if (ptr[i]) {
            CHECKF("malloc", fnv1a(ptr[i], len[i], 2166136261u) == sum[i],
                   "slot %d corrupted", i);
            total = fnv1a(ptr[i], len[i] < 64 ? len[i] : 64, total);
            free(ptr[i]);
            ptr[i] = NULL;
            continue;
        }
        uint32_t r = lcg();
        /* Mostly small blocks, sometimes big ones that malloc serves with mmap. */
        size_t n = (r % 16 == 0) ? 200000 + r % 300000 : 1 + r % 2000;
        unsigned char *p = malloc(n);
        CHECK("malloc", p != NULL);
        for (size_t k = 0; k < n; k++)
            p[k] = (unsigned char)(k * 31 + (size_t)round);
        ptr[i] = p;
        len[i] = n;
        sum[i] = fnv1a(p, n, 2166136261u);
    }
    for (int i = 0; i < SLOTS; i++) {
        if (!ptr[i])
            continue;
        CHECK("malloc", fnv1a(ptr[i], len[i], 2166136261u) == sum[i]);
        ptr[i] = realloc(ptr[i], len[i] + 5000);
        CHECK("malloc", ptr[i] != NULL);
        CHECK("malloc", fnv1a(ptr[i], len[i], 2166136261u) == sum[i]);
        free(ptr[i]);
    }
    unsigned char *z = calloc(1000, 100);
    CHECK("malloc", z != NULL);
    for (int k = 0; k < 100000; k++)
        CHECK("malloc", z[k] == 0);
    free(z);
    printf("malloc checksum %08x\n", total);
    guest_ok("malloc");
}

static void check_anon_mmap(void)
{
    unsigned char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("mmap_anon", p != MAP_FAILED);
    CHECK("mmap_anon", ((uintptr_t)p & (PAGE - 1)) == 0);
    for (size_t i = 0; i < 4 * PAGE; i++)
        CHECK("mmap_anon", p[i] == 0);
    for (size_t i = 0; i < 4 * PAGE; i++)
        p[i] = (unsigned char)(i ^ (i >> 8));
    for (size_t i = 0; i < 4 * PAGE; i++)
        CHECK("mmap_anon", p[i] == (unsigned char)(i ^ (i >> 8)));
    CHECK_SYS("mmap_anon", munmap(p, 4 * PAGE));
    CHECK("mmap_anon", !readable(p));
    CHECK("mmap_anon", !readable(p + 3 * PAGE));
    EXPECT_ERRNO("mmap_anon", munmap(p + 1, PAGE), EINVAL);
    void *bad = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("mmap_anon", bad == MAP_FAILED && errno == EINVAL);
    guest_ok("mmap_anon");

    /* Unmap the middle page, then map it again with MAP_FIXED. */
    p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("munmap_middle", p != MAP_FAILED);
    memset(p, 0x11, 3 * PAGE);
    CHECK_SYS("munmap_middle", munmap(p + PAGE, PAGE));
    CHECK("munmap_middle", readable(p));
    CHECK("munmap_middle", !readable(p + PAGE));
    CHECK("munmap_middle", readable(p + 2 * PAGE));
    unsigned char *q = mmap(p + PAGE, PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK("munmap_middle", q == p + PAGE);
    for (size_t i = 0; i < PAGE; i++)
        CHECK("munmap_middle", q[i] == 0);
    CHECK("munmap_middle", p[PAGE - 1] == 0x11 && p[2 * PAGE] == 0x11);
    q[0] = 0x22;
    guest_ok("munmap_middle");

    /* MAP_FIXED replaces an existing mapping; MAP_FIXED_NOREPLACE refuses. */
    void *r = mmap_noreplace(p, PAGE, PROT_READ | PROT_WRITE);
    CHECKF("fixed_noreplace", r == MAP_FAILED && errno == EEXIST, "mmap returned %p", r);
    r = mmap_noreplace(p + PAGE, 2 * PAGE, PROT_READ);
    CHECKF("fixed_noreplace", r == MAP_FAILED && errno == EEXIST, "mmap returned %p", r);
    CHECK("fixed_noreplace", p[0] == 0x11 && q[0] == 0x22);
    r = mmap(p, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK("fixed_noreplace", r == p && p[0] == 0);
    CHECK_SYS("fixed_noreplace", munmap(p, 3 * PAGE));
    r = mmap_noreplace(p + PAGE, PAGE, PROT_READ | PROT_WRITE);
    CHECKF("fixed_noreplace", r == p + PAGE, "mmap returned %p, wanted %p", r, (void *)(p + PAGE));
    CHECK_SYS("fixed_noreplace", munmap(r, PAGE));
    guest_ok("fixed_noreplace");
}

static void check_mprotect(void)
{
    unsigned char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("mprotect", p != MAP_FAILED);
    memset(p, 0x33, 2 * PAGE);
    CHECK_SYS("mprotect", mprotect(p, PAGE, PROT_READ));
    CHECK("mprotect", readable(p));
    CHECK("mprotect", !writable(p, 1));
    CHECK("mprotect", p[0] == 0x33);
    CHECK("mprotect", writable(p + PAGE, 0x44)); /* the second page is still RW */
    CHECK("mprotect", p[PAGE] == 0x44);
    CHECK_SYS("mprotect", mprotect(p, PAGE, PROT_READ | PROT_WRITE));
    CHECK("mprotect", writable(p, 0x55));
    CHECK("mprotect", p[0] == 0x55);
    p[1] = 0x66;
    CHECK_SYS("mprotect", mprotect(p, 2 * PAGE, PROT_NONE));
    CHECK("mprotect", !readable(p) && !readable(p + PAGE));
    CHECK_SYS("mprotect", mprotect(p, 2 * PAGE, PROT_READ | PROT_WRITE));
    CHECK("mprotect", p[0] == 0x55 && p[1] == 0x66 && p[PAGE] == 0x44);
    /* Raw syscall: musl rounds a misaligned start down instead of failing. */
    EXPECT_ERRNO("mprotect", syscall(SYS_mprotect, p + 1, PAGE, PROT_READ), EINVAL);
    CHECK_SYS("mprotect", munmap(p, 2 * PAGE));
    guest_ok("mprotect");
}

static void check_mremap(void)
{
    unsigned char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("mremap", p != MAP_FAILED);
    for (size_t i = 0; i < 2 * PAGE; i++)
        p[i] = (unsigned char)(i * 7);
    /* Block growth in place so the kernel has to move the mapping. */
    void *blocker = mmap_noreplace(p + 2 * PAGE, PAGE, PROT_READ);
    unsigned char *q = mremap(p, 2 * PAGE, 16 * PAGE, MREMAP_MAYMOVE);
    CHECK("mremap", q != MAP_FAILED);
    for (size_t i = 0; i < 2 * PAGE; i++)
        CHECKF("mremap", q[i] == (unsigned char)(i * 7), "byte %zu", i);
    for (size_t i = 2 * PAGE; i < 16 * PAGE; i++)
        CHECK("mremap", q[i] == 0);
    q[16 * PAGE - 1] = 9;
    if (blocker != MAP_FAILED) {
        CHECK("mremap", q != p);
        CHECK("mremap", !readable(p));
        CHECK_SYS("mremap", munmap(blocker, PAGE));
    }
    /* Shrink in place. */
    unsigned char *s = mremap(q, 16 * PAGE, PAGE, 0);
    CHECK("mremap", s == q);
    CHECK("mremap", s[0] == 0 && s[1] == 7);
    CHECK("mremap", !readable(q + PAGE));
    /* Growing without MREMAP_MAYMOVE into an occupied range fails. */
    void *next = mmap_noreplace(q + PAGE, PAGE, PROT_READ);
    if (next != MAP_FAILED) {
        void *g = mremap(q, PAGE, 2 * PAGE, 0);
        CHECK("mremap", g == MAP_FAILED && errno == ENOMEM);
        CHECK_SYS("mremap", munmap(next, PAGE));
    }
    CHECK_SYS("mremap", munmap(s, PAGE));
    guest_ok("mremap");
}

static void check_madvise(void)
{
    unsigned char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("madvise", p != MAP_FAILED);
    memset(p, 0x77, 2 * PAGE);
    CHECK_SYS("madvise", madvise(p, PAGE, MADV_DONTNEED));
    for (size_t i = 0; i < PAGE; i++)
        CHECK("madvise", p[i] == 0);
    CHECK("madvise", p[PAGE] == 0x77 && p[2 * PAGE - 1] == 0x77);
    CHECK_SYS("madvise", madvise(p, 2 * PAGE, MADV_WILLNEED));
    CHECK_SYS("madvise", munmap(p, 2 * PAGE));
    guest_ok("madvise");
}

static int make_file(const char *path, size_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK_SYS("file_setup", fd);
    unsigned char buf[256];
    for (size_t off = 0; off < size; off += sizeof buf) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (unsigned char)((off + i) % 251);
        size_t n = size - off < sizeof buf ? size - off : sizeof buf;
        CHECK("file_setup", write(fd, buf, n) == (ssize_t)n);
    }
    return fd;
}

static void check_file_mappings(void)
{
    size_t size = 2 * PAGE + 100;
    int fd = make_file("mapped.bin", size);

    /* MAP_PRIVATE: reads the file; writes stay private. */
    unsigned char *p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK("mmap_private_file", p != MAP_FAILED);
    for (size_t i = 0; i < size; i++)
        CHECKF("mmap_private_file", p[i] == (unsigned char)(i % 251), "byte %zu", i);
    /* The tail of the last page past EOF reads as zero. */
    for (size_t i = size; i < 3 * PAGE; i++)
        CHECK("mmap_private_file", p[i] == 0);
    p[0] = 0xee;
    p[PAGE + 1] = 0xef;
    unsigned char b[2];
    CHECK("mmap_private_file", pread(fd, b, 1, 0) == 1 && b[0] == 0);
    CHECK("mmap_private_file", pread(fd, b, 1, PAGE + 1) == 1 && b[0] == (PAGE + 1) % 251);
    CHECK_SYS("mmap_private_file", munmap(p, 3 * PAGE));
    /* A mapping at a non-zero file offset. */
    p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, PAGE);
    CHECK("mmap_private_file", p != MAP_FAILED);
    CHECK("mmap_private_file", p[0] == PAGE % 251 && p[10] == (PAGE + 10) % 251);
    CHECK_SYS("mmap_private_file", munmap(p, PAGE));
    void *bad = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 100);
    CHECK("mmap_private_file", bad == MAP_FAILED && errno == EINVAL);
    bad = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 1000, 0);
    CHECK("mmap_private_file", bad == MAP_FAILED && errno == EBADF);
    guest_ok("mmap_private_file");

    /* MAP_SHARED: writes reach the file (after msync) and file writes show up. */
    p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK("mmap_shared_file", p != MAP_FAILED);
    CHECK("mmap_shared_file", p[5] == 5);
    memcpy(p + 10, "shared!", 7);
    p[PAGE + 3] = 0xab;
    CHECK_SYS("mmap_shared_file", msync(p, 2 * PAGE, MS_SYNC));
    char fb[8] = {0};
    CHECK("mmap_shared_file", pread(fd, fb, 7, 10) == 7);
    CHECK("mmap_shared_file", memcmp(fb, "shared!", 7) == 0);
    CHECK("mmap_shared_file", pread(fd, b, 1, PAGE + 3) == 1 && b[0] == 0xab);
    CHECK("mmap_shared_file", pwrite(fd, "XYZ", 3, 20) == 3);
    CHECK("mmap_shared_file", memcmp(p + 20, "XYZ", 3) == 0);
    CHECK_SYS("mmap_shared_file", munmap(p, 2 * PAGE));
    /* The data is still there after unmapping and closing. */
    CHECK_SYS("mmap_shared_file", close(fd));
    fd = open("mapped.bin", O_RDONLY);
    CHECK_SYS("mmap_shared_file", fd);
    CHECK("mmap_shared_file", pread(fd, fb, 7, 10) == 7 && memcmp(fb, "shared!", 7) == 0);
    struct stat st;
    CHECK_SYS("mmap_shared_file", fstat(fd, &st));
    CHECK("mmap_shared_file", st.st_size == (off_t)size);
    /* A read-only fd cannot back a writable shared mapping. */
    bad = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK("mmap_shared_file", bad == MAP_FAILED && errno == EACCES);
    CHECK_SYS("mmap_shared_file", close(fd));
    guest_ok("mmap_shared_file");
}

static void check_munmap_span(void)
{
    /* Two mappings side by side: 2 anonymous pages then 2 file pages. */
    int fd = make_file("span.bin", 2 * PAGE);
    unsigned char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("munmap_span", p != MAP_FAILED);
    unsigned char *f = mmap(p + 2 * PAGE, 2 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
    CHECK("munmap_span", f == p + 2 * PAGE);
    close(fd);
    p[0] = 1;
    p[PAGE] = 2;
    CHECK("munmap_span", f[1] == 1 && f[PAGE] == PAGE % 251);
    /* One munmap covering the end of the first and the start of the second. */
    CHECK_SYS("munmap_span", munmap(p + PAGE, 2 * PAGE));
    CHECK("munmap_span", readable(p) && p[0] == 1);
    CHECK("munmap_span", !readable(p + PAGE));
    CHECK("munmap_span", !readable(p + 2 * PAGE));
    CHECK("munmap_span", readable(p + 3 * PAGE));
    CHECK("munmap_span", p[3 * PAGE + 2] == (PAGE + 2) % 251);
    /* Unmapping a range that is already partly unmapped is fine. */
    CHECK_SYS("munmap_span", munmap(p, 4 * PAGE));
    CHECK("munmap_span", !readable(p) && !readable(p + 3 * PAGE));
    guest_ok("munmap_span");
}

/* i386's calls 90 and 82: mmap and select with their arguments in a struct */
static void check_old_calls(void)
{
#if defined(__i386__)
    int fd = make_file("old.bin", PAGE);
    unsigned long a[6] = {0, PAGE, PROT_READ, MAP_PRIVATE, (unsigned long)fd, 0};
    unsigned char *f = (unsigned char *)syscall(90, a);
    CHECK("old_calls", f != MAP_FAILED && f[1] == 1 && f[PAGE - 1] == (PAGE - 1) % 251);
    CHECK_SYS("old_calls", munmap(f, PAGE));
    a[5] = 100; /* an offset that is not page-aligned */
    EXPECT_ERRNO("old_calls", syscall(90, a), EINVAL);
    close(fd);
    int p[2];
    CHECK("old_calls", pipe(p) == 0 && write(p[1], "x", 1) == 1);
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(p[0], &rd);
    FD_SET(p[0], &wr);
    struct timeval tv = {0, 0};
    unsigned long s[5] = {(unsigned long)p[0] + 1, (unsigned long)&rd, (unsigned long)&wr, 0,
                          (unsigned long)&tv};
    CHECK("old_calls", syscall(82, s) == 1 && FD_ISSET(p[0], &rd) && !FD_ISSET(p[0], &wr));
    close(p[0]);
    close(p[1]);
#endif
    guest_ok("old_calls");
}

/* The permissions /proc/self/maps shows for the mapping holding `addr` ("" if none). */
static void maps_perms(const void *addr, char perms[8])
{
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK("maps_wonly", f != NULL);
    char line[512];
    unsigned long lo, hi;
    perms[0] = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && lo <= (unsigned long)addr &&
            (unsigned long)addr < hi)
            break;
    fclose(f);
}

/* A PROT_WRITE-only mapping is "-w-p" in /proc/self/maps (as asked, not as the CPU allows). */
static void check_maps_wonly(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, page, PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("maps_wonly", m != MAP_FAILED);
    char perms[8];
    maps_perms(m, perms);
    CHECKF("maps_wonly", strcmp(perms, "-w-p") == 0, "perms %s", perms);
    CHECK_SYS("maps_wonly", mprotect(m, page, PROT_READ | PROT_WRITE));
    maps_perms(m, perms);
    CHECKF("maps_wonly", strcmp(perms, "rw-p") == 0, "perms after mprotect %s", perms);
    munmap(m, page);
    guest_ok("maps_wonly");
}

/* 5 000 mallocs and frees over 1024 slots, mostly small blocks and one in eight of 4 to
 * 64 KiB, each block marked at both ends and checked before it is freed: the heap grows and
 * shrinks (brk) all the while. (On arm, Unicorn 2.1.4 left stale translations after a long
 * run without a TLB flush: glibc then found its heap corrupted.) */
static void check_heap_churn(void)
{
    enum { SLOTS = 1024 };
    static unsigned char *slot[SLOTS];
    static size_t size[SLOTS];
    uint32_t x = 2463534242u;
    for (long i = 0; i < 5000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        unsigned s = x % SLOTS;
        if (slot[s]) {
            CHECKF("heap_churn", slot[s][0] == (unsigned char)s &&
                   slot[s][size[s] - 1] == (unsigned char)(s >> 2), "block %u", s);
            free(slot[s]);
        }
        size[s] = (x >> 10) % 8 == 0 ? 4096 + (x >> 16) % 60000 : 16 + (x >> 16) % 512;
        slot[s] = malloc(size[s]);
        CHECK("heap_churn", slot[s] != NULL);
        slot[s][0] = (unsigned char)s;
        slot[s][size[s] - 1] = (unsigned char)(s >> 2);
    }
    for (int s = 0; s < SLOTS; s++)
        free(slot[s]);
    guest_ok("heap_churn");
}

/* A buffer that runs across several brk extensions is one buffer to write() and read():
 * every byte goes out and comes back (the heap was once several host pieces, and a write
 * from it stopped at the first piece's end). */
static void check_brk_span(void)
{
    uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0);
    uintptr_t start = (cur + PAGE - 1) & ~(PAGE - 1);
    for (int i = 1; i <= 4; i++) { /* four extensions of 16 pages */
        uintptr_t want = start + (uintptr_t)i * 16 * PAGE;
        CHECK("brk_span", (uintptr_t)syscall(SYS_brk, want) == want);
    }
    unsigned char *buf = (unsigned char *)start + 100;
    size_t n = 64 * PAGE - 200;
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 31 + 7);
    int fd = open("brk_span.bin", O_CREAT | O_TRUNC | O_RDWR, 0600);
    CHECK_SYS("brk_span", fd);
    ssize_t w = write(fd, buf, n);
    CHECKF("brk_span", w == (ssize_t)n, "wrote %ld of %lu", (long)w, (unsigned long)n);
    memset(buf, 0, n);
    ssize_t r = pread(fd, buf, n, 0);
    CHECKF("brk_span", r == (ssize_t)n, "read %ld of %lu", (long)r, (unsigned long)n);
    for (size_t i = 0; i < n; i++)
        CHECK("brk_span", buf[i] == (unsigned char)(i * 31 + 7));
    close(fd);
    unlink("brk_span.bin");
    CHECK("brk_span", (uintptr_t)syscall(SYS_brk, cur) == cur);
    guest_ok("brk_span");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: memory SCRATCH_DIR\n");
        return 2;
    }
    CHECK("setup", pipe(probe_pipe) == 0);
    check_brk();
    CHECKF("setup", chdir(argv[1]) == 0, "chdir %s", argv[1]);
    check_malloc();
    check_anon_mmap();
    check_mprotect();
    check_mremap();
    check_madvise();
    check_file_mappings();
    check_munmap_span();
    check_old_calls();
    check_maps_wonly();
    check_heap_churn();
    check_brk_span();
    puts("memory done");
    return 0;
}
