/*
 * A dynamically linked program: prints where it was loaded from, then dlopen()s libm
 * from the sysroot and calls a function from it, and reads /proc/self/exe.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    (void)argc;
    void *h = dlopen("libm.so.6", RTLD_NOW);
    if (!h) {
        printf("FAIL: dlopen: %s\n", dlerror());
        return 1;
    }
    double (*cbrt_fn)(double) = (double (*)(double))dlsym(h, "cbrt");
    if (!cbrt_fn) {
        printf("FAIL: dlsym: %s\n", dlerror());
        return 1;
    }
    printf("cbrt(27) = %.3f\n", cbrt_fn(27.0));
    dlclose(h);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0) {
        printf("FAIL: readlink\n");
        return 1;
    }
    exe[n] = 0;
    const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    const char *ebase = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    printf("exe matches argv[0]: %s\n", strcmp(base, ebase) == 0 ? "yes" : "no");
    printf("dynamic ok\n");
    return 0;
}
