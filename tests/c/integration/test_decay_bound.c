/* Decay bounds the dirty pages of runs by the pages in use: freed runs
 * that merge with free neighbours count as freed now and never age, so
 * under churn only the bound gave them back (issue 13 item 9). The decay
 * time here is far longer than the test, so nothing is purged by age. */
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "residency.h"

#define BLOCK ((size_t)64 << 10)
#define NBLOCKS 400
#define LONG_DECAY_MS 3600000 /* an hour: no page ages during the test */

/* Allocates NBLOCKS touched blocks, then frees all but the first `keep`;
 * the freed ones lie side by side and merge into few long runs. */
static void churn(ta_arena_t *ar, char **p, unsigned keep)
{
    for (unsigned i = 0; i < NBLOCKS; i++) {
        p[i] = ta_arena_malloc(ar, BLOCK);
        CHECK(p[i] != NULL);
        if (p[i])
            memset(p[i], 0x3c, BLOCK);
    }
    for (unsigned i = keep; i < NBLOCKS; i++)
        ta_free(p[i]);
}

static void free_kept(char **p, unsigned keep)
{
    for (unsigned i = 0; i < keep; i++)
        ta_free(p[i]);
}

static uint64_t pages(size_t bytes) { return bytes / (size_t)sysconf(_SC_PAGESIZE); }

/* One block in use, 399 freed: the dirty pages drop to the bound of 8
 * times the active ones plus 1024, long before any of them is due. The
 * bound is the one of the last check (every 16 events), when up to 15
 * more blocks were active, and up to 15 frees may follow it: a check
 * that purged only the runs freed before a millisecond boundary stops
 * at three quarters of its own bound, which the later frees lower. */
static void test_dirty_runs_bounded(void)
{
    ta_arena_t *ar = arena_with_decay(LONG_DECAY_MS, 0);
    if (!ar)
        return;
    char *p[NBLOCKS];
    churn(ar, p, 1);
    uint64_t active = test_arena_stat(ar, "pactive");
    uint64_t dirty = test_arena_stat(ar, "pdirty");
    CHECK_EQ(active, pages(BLOCK));
    CHECK(dirty <= (active + 15 * pages(BLOCK)) * 8 + 1024 + 15 * pages(BLOCK));
    CHECK(test_arena_stat(ar, "dirty_purged") >= (NBLOCKS - 1) * pages(BLOCK) - dirty);
    free_kept(p, 1);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* The bound is loose: as many pages freed as in use are all kept for
 * reuse. */
static void test_dirty_within_bound_kept(void)
{
    ta_arena_t *ar = arena_with_decay(LONG_DECAY_MS, 0);
    if (!ar)
        return;
    char *p[NBLOCKS];
    churn(ar, p, NBLOCKS / 2);
    CHECK_EQ(test_arena_stat(ar, "pdirty"), NBLOCKS / 2 * pages(BLOCK));
    CHECK_EQ(test_arena_stat(ar, "dirty_purged"), 0);
    free_kept(p, NBLOCKS / 2);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Decay -1 means never: the bound does not apply. */
static void test_never_is_never(void)
{
    ta_arena_t *ar = arena_with_decay(-1, 0);
    if (!ar)
        return;
    char *p[NBLOCKS];
    churn(ar, p, 1);
    CHECK_EQ(test_arena_stat(ar, "pdirty"), (NBLOCKS - 1) * pages(BLOCK));
    CHECK_EQ(test_arena_stat(ar, "dirty_purged"), 0);
    free_kept(p, 1);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    RUN(test_dirty_runs_bounded);
    RUN(test_dirty_within_bound_kept);
    RUN(test_never_is_never);
    return TEST_EXIT();
}
