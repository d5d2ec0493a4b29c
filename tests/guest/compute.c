/*
 * A small deterministic CPU workload: SHA-256, 64-bit integer arithmetic,
 * IEEE double/float arithmetic, generic-vector (SIMD) integer and float code,
 * qsort, and printf/strtod round trips.  Every printed line is identical on
 * every architecture and libc (the build uses -ffp-contract=off so no FMA
 * contraction changes rounding; only + - * / and sqrt are used, which IEEE 754
 * rounds exactly).
 *
 * it_fill: (arm) a Thumb IT block whose load misses the TLB, followed by a block that must
 * run unconditionally (Unicorn restores the IT state on a TLB fill; the next block was
 * decoded inside the finished IT block)
 * kuser: (arm) the kernel's user helpers at 0xffff0f60..0xffff0fff: cmpxchg, cmpxchg64,
 * get_tls (the TLS register's value), the helper version
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "guestcheck.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- SHA-256 ---------------------------------------------------------- */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                      K256[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

static void sha256(const unsigned char *msg, size_t len, char hex[65])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    size_t full = len / 64 * 64;
    for (size_t off = 0; off < full; off += 64)
        sha256_block(h, msg + off);
    unsigned char tail[128];
    size_t rest = len - full;
    memset(tail, 0, sizeof tail);
    memcpy(tail, msg + full, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tail_len - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < tail_len; off += 64)
        sha256_block(h, tail + off);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 8 * i, 9, "%08x", h[i]);
}

/* ---- helpers ------------------------------------------------------------ */

static uint64_t xs_state = 0x9E3779B97F4A7C15ULL;
static uint64_t xorshift64(void)
{
    uint64_t x = xs_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return xs_state = x;
}

static uint64_t mix64(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

static uint64_t bits_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static uint32_t bits_of_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- workloads ---------------------------------------------------------- */

static void do_sha(void)
{
    char hex[65];
    sha256((const unsigned char *)"abc", 3, hex);
    CHECKF("sha256", strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
           "sha256(abc)=%s", hex);
    sha256((const unsigned char *)"", 0, hex);
    CHECKF("sha256", strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
           "sha256('')=%s", hex);
    enum { N = 65536 + 37 };
    static unsigned char buf[N];
    for (size_t i = 0; i < N; i++)
        buf[i] = (unsigned char)(i * 131 + (i >> 9));
    sha256(buf, N, hex);
    printf("sha256 %s\n", hex);
    guest_ok("sha256");
}

static void do_int(void)
{
    uint64_t h = 0;
    int64_t acc = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t a = xorshift64(), b = xorshift64() | 1;
        int64_t sa = (int64_t)a, sb = (int64_t)(b >> (i % 7)) | 1;
        if (sb == -1)
            sb = 3; /* INT64_MIN / -1 traps */
        h = mix64(h, a * b);
        h = mix64(h, a / b);
        h = mix64(h, a % b);
        h = mix64(h, (uint64_t)(sa / sb));
        h = mix64(h, (uint64_t)(sa % sb));
        h = mix64(h, a >> (i & 63));
        h = mix64(h, (uint64_t)(sa >> (i & 63)));
        h = mix64(h, a << (i % 64));
        h = mix64(h, (uint64_t)__builtin_popcountll(a));
        h = mix64(h, (uint64_t)__builtin_clzll(b));
        h = mix64(h, (uint64_t)__builtin_ctzll(a | 0x8000000000000000ULL));
        h = mix64(h, __builtin_bswap64(a) ^ __builtin_bswap32((uint32_t)b));
        uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b | 1;
        int32_t sb32 = (int32_t)b32 == -1 ? 5 : (int32_t)b32;
        h = mix64(h, a32 / b32 + a32 % b32 + (uint32_t)((int32_t)a32 / sb32));
        h = mix64(h, (uint64_t)((int8_t)a * (int16_t)b));
        acc += (int64_t)(int32_t)a32 * (int32_t)b32;
        acc ^= (int64_t)(a >> 3);
    }
    printf("int %016llx %016llx\n", (unsigned long long)h, (unsigned long long)acc);
    guest_ok("int");
}

static void do_float(void)
{
    double s = 0.0;
    for (int k = 1; k <= 100000; k++)
        s += 1.0 / ((double)k * (double)k);
    double x = 2.0, r = 1.0;
    for (int i = 0; i < 8; i++)
        r = (r + x / r) * 0.5; /* Newton's method for sqrt(2) */
    CHECK("float", fabs(r - sqrt(2.0)) <= 2.3e-16);
    double prod = 1.0, alt = 0.0;
    for (int i = 1; i <= 500; i++) {
        prod *= 1.0 + 1.0 / i;
        prod /= 1.0 + 0.5 / i;
        alt += (i % 2 ? 1.0 : -1.0) / (2.0 * i - 1.0);
    }
    float f = 1.0f;
    for (int i = 1; i <= 1000; i++)
        f = f * 1.001f + 1.0f / (float)i;
    int64_t conv = 0;
    for (int i = -500; i <= 500; i++) {
        double v = i * 1234.5678 - 0.25;
        conv += (int64_t)v + (int64_t)(float)v + (int64_t)(v * 1e6) + (int64_t)floor(v) +
                (int64_t)ceil(v) + (int64_t)(uint32_t)(v > 0 ? v : -v) + lround(v);
    }
    double neg = -0.0, inf = 1.0 / neg, nan_v = sqrt(-1.0);
    CHECK("float", inf < 0 && isinf(inf) && isnan(nan_v) && signbit(neg));
    CHECK("float", fabs(-3.5) == 3.5 && fmin(1.0, 2.0) == 1.0 && fmax(1.0, 2.0) == 2.0);
    printf("float sum=%016llx sqrt2=%016llx prod=%016llx alt=%016llx f=%08x conv=%lld\n",
           (unsigned long long)bits_of(s), (unsigned long long)bits_of(r),
           (unsigned long long)bits_of(prod), (unsigned long long)bits_of(alt),
           (unsigned)bits_of_float(f), (long long)conv);
    printf("float %.15f %.15g %.6e %.3f\n", s, prod, alt, (double)f);
    guest_ok("float");
}

typedef uint32_t u32x4 __attribute__((vector_size(16)));
typedef float f32x4 __attribute__((vector_size(16)));
typedef uint16_t u16x8 __attribute__((vector_size(16)));

static void do_simd(void)
{
    enum { N = 4096 };
    static u32x4 v[N / 4];
    static f32x4 fv[N / 4];
    static u16x8 sv[N / 8];
    for (int i = 0; i < N / 4; i++) {
        for (int j = 0; j < 4; j++) {
            v[i][j] = (uint32_t)xorshift64();
            fv[i][j] = (float)(i * 4 + j) * 0.25f - 100.0f;
        }
    }
    for (int i = 0; i < N / 8; i++)
        for (int j = 0; j < 8; j++)
            sv[i][j] = (uint16_t)(xorshift64() >> 20);
    u32x4 acc = {1, 2, 3, 4};
    f32x4 facc = {0, 0, 0, 0};
    u16x8 sacc = {0};
    for (int round = 0; round < 16; round++) {
        for (int i = 0; i < N / 4; i++) {
            u32x4 x = v[i] * (u32x4){2654435761u, 40503u, 2246822519u, 3266489917u};
            x ^= x >> 15;
            x += acc << 3;
            acc = (acc ^ x) + (u32x4){0x9e3779b9u, 0x7f4a7c15u, 0x85ebca6bu, 0xc2b2ae35u};
            f32x4 y = fv[i] * (f32x4){0.5f, 1.5f, -0.25f, 2.0f} + facc * 0.125f;
            facc = y / (f32x4){3.0f, 7.0f, 11.0f, 13.0f};
        }
        for (int i = 0; i < N / 8; i++)
            sacc = sacc * 3 + (sv[i] ^ (u16x8){1, 2, 3, 4, 5, 6, 7, 8});
    }
    /* Plain loops the compiler may auto-vectorise. */
    static uint32_t a[N], b[N];
    for (int i = 0; i < N; i++) {
        a[i] = (uint32_t)xorshift64();
        b[i] = (uint32_t)i * 7919u;
    }
    uint32_t dot = 0, mx = 0;
    for (int i = 0; i < N; i++) {
        a[i] = (a[i] >> 3) + b[i] * 3u;
        dot += a[i] * b[i];
        mx = a[i] > mx ? a[i] : mx;
    }
    uint64_t h = 0;
    for (int j = 0; j < 4; j++) {
        h = mix64(h, acc[j]);
        h = mix64(h, bits_of_float(facc[j]));
    }
    for (int j = 0; j < 8; j++)
        h = mix64(h, sacc[j]);
    printf("simd %016llx %08x %08x\n", (unsigned long long)h, dot, mx);
    guest_ok("simd");
}

static void do_sort(void)
{
    enum { N = 20000 };
    static double d[N];
    static int64_t q[N];
    for (int i = 0; i < N; i++) {
        uint64_t r = xorshift64();
        d[i] = (double)(int64_t)(r >> 11) / 4096.0 - 1e12;
        q[i] = (int64_t)(r % 1000) - 500; /* lots of duplicates */
    }
    qsort(d, N, sizeof d[0], cmp_double);
    qsort(q, N, sizeof q[0], cmp_i64);
    uint64_t h = 0;
    for (int i = 0; i < N; i++) {
        if (i > 0) {
            CHECK("qsort", d[i - 1] <= d[i]);
            CHECK("qsort", q[i - 1] <= q[i]);
        }
        h = mix64(h, bits_of(d[i]));
        h = mix64(h, (uint64_t)q[i]);
    }
    printf("qsort %016llx min=%.3f max=%.3f median=%lld\n", (unsigned long long)h, d[0],
           d[N - 1], (long long)q[N / 2]);
    guest_ok("qsort");
}

static void do_strtod(void)
{
    char buf[64];
    uint64_t h = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t r = xorshift64();
        double v = (double)(int64_t)r / (double)(1 + (r >> 50));
        snprintf(buf, sizeof buf, "%.17g", v);
        double back = strtod(buf, NULL);
        CHECKF("strtod", bits_of(back) == bits_of(v), "%s", buf);
        h = mix64(h, bits_of(back));
        snprintf(buf, sizeof buf, "%.6f", v / 1e9);
        for (char *c = buf; *c; c++)
            h = mix64(h, (uint64_t)(unsigned char)*c);
    }
    long long ll = strtoll("-9223372036854775808", NULL, 10);
    unsigned long long ull = strtoull("0xfedcba9876543210", NULL, 16);
    CHECK("strtod", ll == INT64_MIN && ull == 0xfedcba9876543210ULL);
    printf("strtod %016llx %s\n", (unsigned long long)h, buf);
    guest_ok("strtod");
}

#if defined(__arm__) && defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB >= 2
__attribute__((target("thumb"), noinline)) static int it_probe(const int *fresh, int x)
{
    int r;
    __asm__ volatile("cmp %[x], #0\n\t"
                     "ite ne\n\t"
                     "ldrne %[r], [%[p]]\n\t"
                     "moveq %[r], #7\n\t"
                     "b 1f\n"
                     "1:\n\t"
                     "add %[r], %[r], #100\n\t"
                     "add %[r], %[r], #1000\n\t"
                     : [r] "=&r"(r)
                     : [x] "r"(x), [p] "r"(fresh)
                     : "cc", "memory");
    return r;
}
#endif

static void do_it_fill(void)
{
#if defined(__arm__) && defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB >= 2
    for (int i = 0; i < 4; i++) {
        int *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK("it_fill", page != MAP_FAILED);
        page[0] = 5 + i;
        CHECK("it_fill", mprotect(page, 4096, PROT_READ) == 0); /* the next read misses */
        int r = it_probe(page, 1);
        CHECKF("it_fill", r == 1105 + i, "got %d", r);
        CHECK("it_fill", it_probe(page, 0) == 1107);
        munmap(page, 4096);
    }
#endif
    guest_ok("it_fill");
}

static void do_kuser(void)
{
#if defined(__arm__)
    typedef int(cmpxchg_t)(int, int, volatile int *);
    typedef int(cmpxchg64_t)(const int64_t *, const int64_t *, volatile int64_t *);
    typedef void *(get_tls_t)(void);
    cmpxchg_t *cx = (cmpxchg_t *)0xffff0fc0;
    cmpxchg64_t *cx64 = (cmpxchg64_t *)0xffff0f60;
    get_tls_t *get_tls = (get_tls_t *)0xffff0fe0;
    volatile int v = 5;
    CHECK("kuser", cx(5, 9, &v) == 0 && v == 9);
    CHECK("kuser", cx(5, 11, &v) != 0 && v == 9);
    volatile int64_t w = (int64_t)1 << 40;
    int64_t old = (int64_t)1 << 40, new_val = 7, wrong = 3;
    CHECK("kuser", cx64(&old, &new_val, &w) == 0 && w == 7);
    CHECK("kuser", cx64(&wrong, &new_val, &w) != 0 && w == 7);
    void *tp;
    __asm__("mrc p15, 0, %0, c13, c0, 3" : "=r"(tp));
    CHECK("kuser", get_tls() == tp);
    CHECK("kuser", *(volatile int *)0xffff0ffc >= 3);
#endif
    guest_ok("kuser");
}

int main(void)
{
    do_sha();
    do_int();
    do_float();
    do_simd();
    do_sort();
    do_strtod();
    do_it_fill();
    do_kuser();
    puts("compute done");
    return 0;
}
