/* Smallest guest: print a fixed line and exit 0. */
#include <stdio.h>

int main(void)
{
    puts("hello, world");
    return 0;
}
