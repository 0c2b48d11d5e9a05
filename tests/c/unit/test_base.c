/* Unit test of base.c.
 * A block handed out again reads as zero (its contract), whether the pages
 * past its first went back to the kernel when it was freed or, in a
 * process that locks its memory (mlockall: madvise refuses locked pages),
 * stayed as they were. main runs the checks unlocked, then locked where
 * the process may lock (not under the sanitizers, whose shadow mappings
 * mlockall would fault in). */
#include <errno.h>
#include <sys/mman.h>

#include "base.h"
#include "harness.h"

/* Sizes of one page and less, and of many (a thread cache's). */
static const size_t sizes[] = {192, 4096, 16384, 131072};

static void test_reused_blocks_read_zero(void)
{
    for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        unsigned char *p = tai_base_alloc(n);
        CHECK(p != NULL && test_all_zero(p, n));
        if (!p)
            continue;
        memset(p, 0xc3, n);
        tai_base_free(p, n);
        unsigned char *q = tai_base_alloc(n);
        /* the free list hands back the block just freed */
        CHECK(q == p);
        CHECK(q != NULL && test_all_zero(q, n));
        if (q)
            tai_base_free(q, n);
    }
}

int main(void)
{
    RUN(test_reused_blocks_read_zero);
    if (TEST_SANITIZED)
        printf("sanitized build: the locked case not run\n");
    else if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0)
        RUN(test_reused_blocks_read_zero);
    else
        printf("mlockall: %s; the locked case not run\n", strerror(errno));
    return TEST_EXIT();
}
