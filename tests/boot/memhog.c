/* memhog: grabs memory in steps of STEP_MB megabytes (touching every page, so it is really
 * used) up to TOTAL_MB, printing "got N MB" after each step; exits 0 when it has it all.
 * Built static by the QEMU tests: the VM has no libc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    long step = argc > 1 ? atol(argv[1]) : 10, total = argc > 2 ? atol(argv[2]) : 1000;
    for (long got = step; got <= total; got += step) {
        char *p = malloc(step << 20);
        if (!p) { printf("malloc failed at %ld MB\n", got); return 1; }
        memset(p, 1, step << 20);
        printf("got %ld MB\n", got);
        fflush(stdout);
    }
    return 0;
}
