/* A new segment takes its memory from the arena's cached huge mappings
 * before it maps any: big blocks freed beside growing mid-size ones
 * (numpy arrays of a few MiB, then many of 1-2 MiB) kept their pages
 * resident for decay while large runs mapped new segments, so resident
 * memory grew by what the cache held (issue 15 item 1). The arenas here
 * never purge, so what is cached stays cached unless reused. */
#include "harness.h"

#define MIB ((size_t)1 << 20)
#define HUGE (24 * MIB)
#define RUN_SIZE MIB
#define NRUNS 18 /* 18 MiB of runs: more segments than the arena has */

static void *huge_freed(ta_arena_t *ar, int fill)
{
    char *h = ta_arena_malloc(ar, HUGE);
    CHECK(h != NULL);
    if (h) {
        memset(h, fill, HUGE);
        ta_free(h);
    }
    return h;
}

/* The runs fit in what the freed block mapped: nothing new is mapped,
 * and resident memory grows by at most the segments' headers. */
static void test_runs_reuse_cached_huge(void)
{
    ta_arena_t *ar = test_keeping_arena();
    if (!ar)
        return;
    huge_freed(ar, 0x5a);
    size_t mapped = test_arena_stat(ar, "mapped");
    size_t resident = test_arena_stat(ar, "resident");
    CHECK(mapped >= HUGE);
    char *p[NRUNS];
    for (unsigned i = 0; i < NRUNS; i++) {
        p[i] = ta_arena_malloc(ar, RUN_SIZE);
        CHECK(p[i] != NULL);
        if (p[i])
            test_fill(p[i], RUN_SIZE, i);
    }
    CHECK(test_arena_stat(ar, "mapped") <= mapped);
    CHECK(test_arena_stat(ar, "resident") <= resident + NRUNS * 256 * 1024);
    for (unsigned i = 0; i < NRUNS; i++)
        if (p[i]) {
            CHECK_EQ(test_verify(p[i], RUN_SIZE, i), RUN_SIZE);
            ta_free(p[i]);
        }
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Pages a freed huge block wrote are not zero: calloc still clears a
 * run carved from them, and small blocks from slabs there are sound. */
static void test_reused_pages_zeroed_by_calloc(void)
{
    ta_arena_t *ar = test_keeping_arena();
    if (!ar)
        return;
    huge_freed(ar, 0xff);
    char *p[NRUNS];
    for (unsigned i = 0; i < NRUNS; i++) {
        p[i] = ta_arena_calloc(ar, 1, RUN_SIZE - 4096 * (i % 3));
        CHECK(p[i] != NULL && test_all_zero(p[i], RUN_SIZE - 4096 * (i % 3)));
    }
    char *small[64];
    for (unsigned i = 0; i < 64; i++) {
        small[i] = ta_arena_calloc(ar, 1, 96);
        CHECK(small[i] != NULL && test_all_zero(small[i], 96));
    }
    for (unsigned i = 0; i < 64; i++)
        ta_free(small[i]);
    for (unsigned i = 0; i < NRUNS; i++)
        ta_free(p[i]);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* A huge block allocated after its mapping's units went to segments
 * gets what is left, or new memory, and both kinds stay intact. */
static void test_huge_after_units_taken(void)
{
    ta_arena_t *ar = test_keeping_arena();
    if (!ar)
        return;
    huge_freed(ar, 0x11);
    char *run = ta_arena_malloc(ar, RUN_SIZE);
    char *h = ta_arena_malloc(ar, HUGE - 8 * MIB);
    char *h2 = ta_arena_malloc(ar, HUGE);
    CHECK(run != NULL && h != NULL && h2 != NULL);
    if (run && h && h2) {
        test_fill(run, RUN_SIZE, 1);
        test_fill(h, HUGE - 8 * MIB, 2);
        test_fill(h2, HUGE, 3);
        CHECK_EQ(test_verify(run, RUN_SIZE, 1), RUN_SIZE);
        CHECK_EQ(test_verify(h, HUGE - 8 * MIB, 2), HUGE - 8 * MIB);
        CHECK_EQ(test_verify(h2, HUGE, 3), HUGE);
        CHECK(ta_owns(run) && ta_owns(h) && ta_owns(h2));
    }
    ta_free(run);
    ta_free(h);
    ta_free(h2);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    RUN(test_runs_reuse_cached_huge);
    RUN(test_reused_pages_zeroed_by_calloc);
    RUN(test_huge_after_units_taken);
    return TEST_EXIT();
}
