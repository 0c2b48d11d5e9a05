/* A process that locks its memory (mlockall: real-time services, key
 * agents) gets EINVAL from madvise's MADV_DONTNEED and MADV_FREE, so a
 * purge leaves the pages as they were. Purged runs count as clean, which
 * calloc takes as zeroed: they must still read zero (unit/test_base
 * checks the same of metadata blocks). Without the right to lock
 * (RLIMIT_MEMLOCK, no CAP_IPC_LOCK) the runs are checked unlocked; not
 * under the sanitizers, whose shadow mappings mlockall would fault in. */
#include <errno.h>
#include <sys/mman.h>

#include "harness.h"

#define RUN_BYTES ((size_t)256 << 10) /* a large run: past the caches */
#define NRUNS 8

/* Runs written, freed and purged come back zeroed from calloc. */
static void test_purged_runs_read_zero(void)
{
    ta_arena_opts o;
    ta_arena_opts_init(&o);
    ta_arena_t *ar = ta_arena_create(&o);
    CHECK(ar != NULL);
    if (!ar)
        return;
    unsigned i = ta_arena_index(ar);
    char name[64];
    for (int round = 0; round < 3; round++) {
        char *p[NRUNS];
        for (unsigned k = 0; k < NRUNS; k++) {
            p[k] = ta_arena_malloc(ar, RUN_BYTES);
            CHECK(p[k] != NULL);
            if (p[k])
                memset(p[k], 0xa5, RUN_BYTES);
        }
        for (unsigned k = 0; k < NRUNS; k++)
            ta_free(p[k]);
        snprintf(name, sizeof(name), "arena.%u.purge", i);
        CHECK_EQ(ta_ctl(name, NULL, NULL, NULL, 0), 0);
        CHECK_EQ(test_arena_stat(ar, "pdirty"), 0);
        for (unsigned k = 0; k < NRUNS; k++) {
            p[k] = ta_arena_calloc(ar, 1, RUN_BYTES);
            CHECK(p[k] != NULL && test_all_zero(p[k], RUN_BYTES));
        }
        for (unsigned k = 0; k < NRUNS; k++)
            ta_free(p[k]);
    }
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    if (TEST_SANITIZED)
        printf("sanitized build: nothing locked\n");
    else if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        printf("mlockall: %s; nothing locked\n", strerror(errno));
    RUN(test_purged_runs_read_zero);
    return TEST_EXIT();
}
