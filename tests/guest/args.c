/*
 * Prints argc and every argv entry; for each argument of the form "env:NAME"
 * also prints the value of environment variable NAME (or "unset").
 * Checks the auxiliary vector and prints "auxv ok".
 * AT_EXECFN is printed, not asserted, so the harness can compare it with the
 * reference run.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "guestcheck.h"

#ifndef AT_EXECFN
#define AT_EXECFN 31
#endif
#ifndef AT_RANDOM
#define AT_RANDOM 25
#endif

int main(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    CHECK("argv_terminated", argv[argc] == NULL);

    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "env:", 4) != 0)
            continue;
        const char *name = argv[i] + 4;
        const char *value = getenv(name);
        if (value)
            printf("env %s=%s\n", name, value);
        else
            printf("env %s unset\n", name);
    }

    unsigned long pagesz = getauxval(AT_PAGESZ);
    CHECKF("auxv", pagesz == 4096, "AT_PAGESZ=%lu", pagesz);
    CHECK("auxv", sysconf(_SC_PAGESIZE) == 4096);
    unsigned long rnd = getauxval(AT_RANDOM);
    CHECK("auxv", rnd != 0);
    CHECK("auxv", getauxval(AT_PHDR) != 0);
    unsigned long phnum = getauxval(AT_PHNUM);
    CHECKF("auxv", phnum > 0 && phnum < 64, "AT_PHNUM=%lu", phnum);
    CHECK("auxv", getauxval(AT_PHENT) != 0);
    CHECK("auxv", getauxval(AT_ENTRY) != 0);
    CHECK("auxv", getauxval(AT_UID) == (unsigned long)getuid());
    CHECK("auxv", getauxval(AT_EUID) == (unsigned long)geteuid());
    CHECK("auxv", getauxval(AT_GID) == (unsigned long)getgid());
    CHECK("auxv", getauxval(AT_EGID) == (unsigned long)getegid());

    /* The 16 AT_RANDOM bytes must be readable; they are almost never all zero. */
    const unsigned char *rb = (const unsigned char *)rnd;
    unsigned acc = 0;
    for (int i = 0; i < 16; i++)
        acc |= rb[i];
    CHECK("auxv", acc != 0);

    const char *execfn = (const char *)getauxval(AT_EXECFN);
    printf("execfn=%s\n", execfn ? execfn : "(null)");
    printf("execfn_is_argv0=%s\n", execfn && strcmp(execfn, argv[0]) == 0 ? "yes" : "no");
    guest_ok("auxv");
    return 0;
}
