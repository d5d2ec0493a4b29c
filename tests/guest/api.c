/*
 * api: a small program for the Python API tests.  It calls a syscall the emulator does not
 * implement (acct), its pid, and writes through write(2); it exits with status 3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    long r = syscall(SYS_acct, 0);
    printf("acct=%ld errno=%d\n", r, r < 0 ? errno : 0);
    printf("pid=%d\n", (int)getpid());
    const char msg[] = "done\n";
    if (write(1, msg, strlen(msg)) < 0)
        return 1;
    return 3;
}
