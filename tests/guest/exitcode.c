/*
 * exitcode N        -> exit(N)
 * exitcode N abort  -> abort() (the process dies of SIGABRT)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int code = argc > 1 ? atoi(argv[1]) : 0;
    if (argc > 2 && strcmp(argv[2], "abort") == 0) {
        puts("aborting");
        fflush(stdout);
        abort();
    }
    printf("exiting with %d\n", code);
    fflush(stdout);
    exit(code);
}
