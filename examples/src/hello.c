/*
 * Example guest for usermode: prints which architecture it was built for.
 *
 *   usermode run examples/aarch64/hello [NAME]
 */
#include <stdio.h>

#if defined(__aarch64__)
#define ARCH "aarch64"
#elif defined(__x86_64__)
#define ARCH "x86_64"
#elif defined(__riscv) && __riscv_xlen == 64
#define ARCH "riscv64"
#elif defined(__arm__)
#define ARCH "arm"
#elif defined(__mips__) && defined(__MIPSEL__)
#define ARCH "mipsel"
#elif defined(__i386__)
#define ARCH "i386"
#else
#define ARCH "an unknown architecture"
#endif

int main(int argc, char **argv)
{
    if (argc > 1)
        printf("Hello from %s! %s\n", ARCH, argv[1]);
    else
        printf("Hello from %s!\n", ARCH);
    return 0;
}
