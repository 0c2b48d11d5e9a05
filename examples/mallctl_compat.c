/* A program written against jemalloc's control API, unchanged: linked
 * with -ljemalloc it talks to jemalloc; run with
 *   LD_PRELOAD=build/libtunalloc.so build/examples/mallctl_compat
 * the same calls reach tunalloc through its jemalloc-compatible aliases. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <jemalloc/jemalloc.h>

static void write_stdout(void *opaque, const char *text) { fputs(text, (FILE *)opaque); }

int main(void)
{
    const char *version;
    size_t len = sizeof(version);
    if (mallctl("version", &version, &len, NULL, 0) != 0)
        return 1;
    printf("version=%s\n", version);

    void *p = malloc(1000);
    uint64_t epoch = 1;
    mallctl("epoch", NULL, NULL, &epoch, sizeof(epoch));
    size_t allocated = 0, mib[2], miblen = 2;
    len = sizeof(allocated);
    if (mallctlnametomib("stats.allocated", mib, &miblen) != 0 ||
        mallctlbymib(mib, miblen, &allocated, &len, NULL, 0) != 0)
        return 1;
    printf("allocated_nonzero=%d\n", allocated > 0);
    free(p);
    malloc_stats_print(write_stdout, stdout, "gbl");
    return 0;
}
