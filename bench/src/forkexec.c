/* processes: N x (fork, execv a program, waitpid) - the cost of one child process.
 * usage: forkexec N PROGRAM [ARGS...]   (prints the sum of the children's exit statuses) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: forkexec N PROGRAM [ARGS...]\n");
        return 2;
    }
    long n = atol(argv[1]);
    long sum = 0;
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            execv(argv[2], argv + 2);
            _exit(127);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
            return 1;
        sum += WEXITSTATUS(st);
    }
    printf("forkexec %ld children, status sum %ld\n", n, sum);
    return 0;
}
