/*
 * Shared helpers for the usermode guest test programs.
 *
 * Every check prints one "<name> ok" line on success; on a mismatch it prints
 * "FAIL: <name>: ..." (with the source line and errno) and exits with status 1.
 * Output goes to stdout only, so the harness can compare it with a reference run.
 */
#ifndef GUESTCHECK_H
#define GUESTCHECK_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noreturn, format(printf, 3, 4))) static void
guest_fail(const char *name, int line, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    printf("FAIL: %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(" (line %d, errno=%d %s)\n", line, saved, strerror(saved));
    fflush(stdout);
    exit(1);
}

static inline void guest_ok(const char *name)
{
    printf("%s ok\n", name);
}

/* CHECK(name, cond): fail the check "name" unless cond holds. */
#define CHECK(name, cond)                                                      \
    do {                                                                       \
        if (!(cond))                                                           \
            guest_fail((name), __LINE__, "%s", #cond);                         \
    } while (0)

/* CHECKF(name, cond, fmt, ...): like CHECK with a custom message. */
#define CHECKF(name, cond, ...)                                                \
    do {                                                                       \
        if (!(cond))                                                           \
            guest_fail((name), __LINE__, __VA_ARGS__);                         \
    } while (0)

/* CHECK_SYS(name, expr): expr must not return -1 (or a negative value). */
#define CHECK_SYS(name, expr)                                                  \
    do {                                                                       \
        errno = 0;                                                             \
        long check_r_ = (long)(expr);                                          \
        if (check_r_ < 0)                                                      \
            guest_fail((name), __LINE__, "%s returned %ld", #expr, check_r_);  \
    } while (0)

/* EXPECT_ERRNO(name, expr, err): expr must return -1 with errno == err. */
#define EXPECT_ERRNO(name, expr, err)                                          \
    do {                                                                       \
        errno = 0;                                                             \
        long check_r_ = (long)(expr);                                          \
        int check_e_ = errno;                                                  \
        if (check_r_ != -1 || check_e_ != (err))                               \
            guest_fail((name), __LINE__, "%s returned %ld errno %d, wanted -1/%s (%d)", \
                       #expr, check_r_, check_e_, #err, (err));                \
    } while (0)

/* A program made of named checks: run those named on the command line (all if none), in
 * table order, then print "<program> done". */
struct guest_check {
    const char *name;
    void (*fn)(void);
};

static inline int guest_run_checks(const char *program, const struct guest_check *checks,
                                   int n, int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int i = 0; i < n; i++) {
        int run = argc < 2;
        for (int j = 1; j < argc; j++)
            run |= strcmp(argv[j], checks[i].name) == 0;
        if (run)
            checks[i].fn();
    }
    printf("%s done\n", program);
    return 0;
}

#endif
