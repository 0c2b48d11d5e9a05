/* Resident memory past the peak (issue 15 item 1, issue 14): when an
 * arena takes pages that are not resident, it first purges dirty pages
 * until its active and dirty pages together are within opt.dirty_max_pct
 * of its peak of active pages (plus 4 MiB); below the peak it keeps them
 * all for reuse. The written pages past a huge block's end in its last
 * unit, which a block reusing a bigger mapping keeps, count as dirty and
 * go back too. A huge block that needs more than the huge cache holds
 * takes the units of segments that hold nothing before it maps new ones.
 * The arenas decay in an hour: nothing is purged by age here. Residency
 * is read from the kernel with mincore(). */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"
#include "residency.h"

#define MIB ((size_t)1 << 20)
#define LONG_DECAY_MS 3600000

/* The most dirty pages the policy leaves after a take at the peak. */
static size_t dirty_allowed(ta_arena_t *ar)
{
    unsigned pct = 0;
    size_t len = sizeof(pct);
    CHECK_EQ(ta_ctl("opt.dirty_max_pct", &pct, &len, NULL, 0), 0);
    size_t peak = test_arena_stat(ar, "peak") / page_size();
    size_t most = peak + peak * pct / 100 + 4 * MIB / page_size();
    size_t active = test_arena_stat(ar, "pactive");
    return most > active ? most - active : 0;
}

#define NRUNS 30

/* 30 runs of 1 MiB written, two of every three freed: no segment is
 * empty, 20 MiB are dirty. */
static void runs_two_thirds_freed(ta_arena_t *ar, char **p)
{
    for (unsigned i = 0; i < NRUNS; i++) {
        p[i] = ta_arena_malloc(ar, MIB);
        CHECK(p[i] != NULL);
        if (p[i])
            test_fill(p[i], MIB, i);
    }
    for (unsigned i = 0; i < NRUNS; i++)
        if (i % 3) {
            ta_free(p[i]);
            p[i] = NULL;
        }
}

static void free_runs(char **p)
{
    for (unsigned i = 0; i < NRUNS; i++)
        if (p[i]) {
            CHECK_EQ(test_verify(p[i], MIB, i), MIB);
            ta_free(p[i]);
        }
}

/* A block that takes the arena past its peak purges the dirty runs
 * beyond the bound first, only a quarter of the allowance past it (not
 * every run freed in the same millisecond as the oldest), and the runs
 * in use keep their data. */
static void test_new_peak_purges_dirty(void)
{
    ta_arena_t *ar = arena_with_decay(LONG_DECAY_MS, 0);
    if (!ar)
        return;
    char *p[NRUNS];
    runs_two_thirds_freed(ar, p);
    CHECK(test_arena_stat(ar, "pdirty") >= 2 * NRUNS / 3 * MIB / page_size());
    CHECK_EQ(test_arena_stat(ar, "dirty_purged"), 0);
    char *h = ta_arena_malloc(ar, 64 * MIB);
    CHECK(h != NULL);
    if (h)
        test_fill(h, 64 * MIB, 99);
    CHECK(test_arena_stat(ar, "pdirty") <= dirty_allowed(ar));
    CHECK(test_arena_stat(ar, "pdirty") >= dirty_allowed(ar) / 2);
    CHECK(test_arena_stat(ar, "dirty_purged") > 0);
    if (h)
        CHECK_EQ(test_verify(h, 64 * MIB, 99), 64 * MIB);
    ta_free(h);
    free_runs(p);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Below the peak, new pages purge nothing: the dirty ones stay for
 * reuse. */
static void test_below_peak_keeps_dirty(void)
{
    ta_arena_t *ar = arena_with_decay(LONG_DECAY_MS, 0);
    if (!ar)
        return;
    char *p[NRUNS];
    runs_two_thirds_freed(ar, p);
    size_t dirty = test_arena_stat(ar, "pdirty");
    char *h = ta_arena_malloc(ar, 4 * MIB);
    CHECK(h != NULL);
    CHECK_EQ(test_arena_stat(ar, "dirty_purged"), 0);
    CHECK_EQ(test_arena_stat(ar, "pdirty"), dirty);
    ta_free(h);
    free_runs(p);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

#define BIG (16 * MIB)
#define SMALLER (13 * MIB) /* reusing BIG leaves [13, 16) MiB in its last unit */
#define NBIG 4

/* NBIG written BIG blocks freed, then NBIG SMALLER ones reusing them:
 * each keeps the written pages past its end. */
static void reuse_smaller(ta_arena_t *ar, char **q)
{
    for (unsigned i = 0; i < NBIG; i++) {
        q[i] = ta_arena_malloc(ar, BIG);
        CHECK(q[i] != NULL);
        if (q[i])
            memset(q[i], 0x5a, BIG);
    }
    for (unsigned i = 0; i < NBIG; i++)
        ta_free(q[i]);
    for (unsigned i = 0; i < NBIG; i++) {
        q[i] = ta_arena_malloc(ar, SMALLER);
        CHECK(q[i] != NULL);
        if (q[i]) {
            test_fill(q[i], SMALLER, i);
            CHECK(resident_pages(q[i] + SMALLER, 2 * MIB) > 0);
        }
    }
}

static void free_smaller(char **q)
{
    for (unsigned i = 0; i < NBIG; i++)
        if (q[i]) {
            CHECK_EQ(test_verify(q[i], SMALLER, i), SMALLER);
            ta_free(q[i]);
        }
}

/* The pages past reused blocks' ends count as dirty (so resident
 * matches what the kernel holds), and a purge of the arena gives them
 * back; the blocks keep their data and grow in place after. */
static void test_tail_counted_and_purged(void)
{
    ta_arena_t *ar = arena_with_decay(LONG_DECAY_MS, 0);
    if (!ar)
        return;
    char *q[NBIG];
    reuse_smaller(ar, q);
    CHECK(test_arena_stat(ar, "pdirty") >= NBIG * 2 * MIB / page_size());
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "arena.%u.purge", ta_arena_index(ar));
    CHECK_EQ(ta_ctl(cmd, NULL, NULL, NULL, 0), 0);
    CHECK_EQ(test_arena_stat(ar, "pdirty"), 0);
    for (unsigned i = 0; i < NBIG; i++)
        if (q[i])
            CHECK_EQ(resident_pages(q[i] + SMALLER, 2 * MIB), 0);
    char *g = q[0] ? ta_realloc(q[0], SMALLER + 2 * MIB) : NULL;
    CHECK(g == q[0]);
    if (g)
        CHECK(test_all_zero(g + SMALLER, 2 * MIB));
    free_smaller(q);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

static size_t tails_resident(char **q)
{
    size_t n = 0;
    for (unsigned i = 0; i < NBIG; i++)
        if (q[i])
            n += resident_pages(q[i] + SMALLER, 3 * MIB - page_size());
    return n;
}

/* Past the peak, those pages go like any dirty ones: a BIG block more
 * makes the peak 68 MiB, whose bound (10.8 MiB at the default 10%) is
 * below the 12 MiB of pages past the blocks' ends, the only dirty ones. */
static void test_new_peak_purges_tails(void)
{
    ta_arena_t *ar = arena_with_decay(LONG_DECAY_MS, 0);
    if (!ar)
        return;
    char *q[NBIG];
    reuse_smaller(ar, q);
    size_t before = tails_resident(q);
    char *h = ta_arena_malloc(ar, BIG);
    CHECK(h != NULL);
    size_t allowed = dirty_allowed(ar);
    CHECK(before > allowed);
    CHECK(test_arena_stat(ar, "pdirty") <= allowed);
    CHECK(tails_resident(q) <= allowed);
    ta_free(h);
    free_smaller(q);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Runs filling several segments, all freed: a huge block takes the
 * empty segments' units (their dirty pages with them) instead of new
 * ones, and reads as zero where calloc says so. */
static void test_huge_takes_empty_segments(void)
{
    ta_arena_t *ar = arena_with_decay(LONG_DECAY_MS, 0);
    if (!ar)
        return;
    char *p[12];
    for (unsigned i = 0; i < 12; i++) {
        p[i] = ta_arena_malloc(ar, MIB);
        CHECK(p[i] != NULL);
        if (p[i])
            memset(p[i], 0xee, MIB);
    }
    for (unsigned i = 0; i < 12; i++)
        ta_free(p[i]);
    size_t mapped = test_arena_stat(ar, "mapped");
    CHECK(test_arena_stat(ar, "pdirty") >= 12 * MIB / page_size());
    char *h = ta_arena_calloc(ar, 1, BIG);
    CHECK(h != NULL);
    if (h) {
        CHECK(test_all_zero(h, BIG));
        test_fill(h, BIG, 5);
        CHECK_EQ(test_verify(h, BIG, 5), BIG);
    }
    CHECK_EQ(test_arena_stat(ar, "pdirty"), 0);
    CHECK_EQ(test_arena_stat(ar, "dirty_purged"), 0);
    CHECK(test_arena_stat(ar, "mapped") <= mapped + 8 * MIB);
    ta_free(h);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    RUN(test_new_peak_purges_dirty);
    RUN(test_below_peak_keeps_dirty);
    RUN(test_tail_counted_and_purged);
    RUN(test_new_peak_purges_tails);
    RUN(test_huge_takes_empty_segments);
    return TEST_EXIT();
}
