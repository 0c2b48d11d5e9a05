/* Unit test of extent.c.
 * Extents: large runs come from the arena's segments, freed neighbours
 * coalesce so a request for their combined size fits without mapping more,
 * and realloc grows or shrinks a run in place when the pages allow. */
#include "arena.h"
#include "harness.h"
#include "os.h"

enum { NRUNS = 16 };
#define RUN_SIZE ((size_t)64 << 10)

static uint64_t mapped_of(ta_arena_t *ar) { return ctr_get(&ar->a.stats.mapped); }
static uint64_t pactive_of(ta_arena_t *ar) { return ctr_get(&ar->a.stats.pactive); }

/* Neighbours freed in any order merge: their combined size then fits in
 * the freed space, with no new mapping and no growth of active pages. */
static void test_coalescing(void)
{
    ta_arena_t *ar = test_keeping_arena();
    if (!ar)
        return;
    char *runs[NRUNS];
    for (int i = 0; i < NRUNS; i++) {
        runs[i] = ta_arena_malloc(ar, RUN_SIZE);
        CHECK(runs[i] != NULL);
        if (!runs[i])
            return;
        test_fill(runs[i], RUN_SIZE, (uintptr_t)i);
    }
    for (int i = 0; i < NRUNS; i++)
        CHECK_EQ(test_verify(runs[i], RUN_SIZE, (uintptr_t)i), RUN_SIZE);
    uint64_t mapped = mapped_of(ar);
    CHECK_EQ(pactive_of(ar), NRUNS * RUN_SIZE / tai_page);
    /* free odd ones, then even ones backwards: merges on both sides */
    for (int i = 1; i < NRUNS; i += 2)
        ta_free(runs[i]);
    for (int i = NRUNS - 2; i >= 0; i -= 2)
        ta_free(runs[i]);
    CHECK_EQ(pactive_of(ar), 0);
    char *big = ta_arena_malloc(ar, NRUNS * RUN_SIZE);
    CHECK(big != NULL);
    CHECK_EQ(mapped_of(ar), mapped);
    CHECK_EQ(pactive_of(ar), NRUNS * RUN_SIZE / tai_page);
    if (big)
        memset(big, 7, NRUNS * RUN_SIZE);
    ta_free(big);
    CHECK_EQ(pactive_of(ar), 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Repeated alloc/free cycles of mixed large sizes reach a steady state:
 * the arena maps nothing after the first round. */
static void test_steady_state(void)
{
    ta_arena_t *ar = test_keeping_arena();
    if (!ar)
        return;
    uint64_t seed = 12345;
    uint64_t mapped_after_first = 0;
    for (int round = 0; round < 20; round++) {
        char *p[32];
        for (int i = 0; i < 32; i++) {
            size_t size = SMALL_MAX + 1 + (size_t)(test_rand(&seed) % (LARGE_MAX / 32));
            p[i] = ta_arena_malloc(ar, size);
            CHECK(p[i] != NULL);
        }
        for (int i = 0; i < 32; i++)
            ta_free(p[(i * 7) % 32]);
        CHECK_EQ(pactive_of(ar), 0);
        if (round == 0)
            mapped_after_first = mapped_of(ar);
        seed = 12345;
    }
    CHECK_EQ(mapped_of(ar), mapped_after_first);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Shrinking a large run keeps its address and frees its tail; growing
 * into a free neighbour keeps the address too. */
static void test_realloc_in_place(void)
{
    ta_arena_t *ar = test_keeping_arena();
    if (!ar)
        return;
    char *a = ta_arena_malloc(ar, 4 * RUN_SIZE);
    char *guard = ta_arena_malloc(ar, RUN_SIZE);
    CHECK(a && guard);
    if (!a || !guard)
        return;
    test_fill(a, 4 * RUN_SIZE, 1);
    char *s = ta_arena_realloc(ar, a, RUN_SIZE + 1);
    CHECK(s == a);
    CHECK_EQ(test_verify(s, RUN_SIZE + 1, 1), RUN_SIZE + 1);
    CHECK_EQ(pactive_of(ar), (ta_malloc_usable_size(s) + RUN_SIZE) / tai_page);
    char *g = ta_arena_realloc(ar, s, 3 * RUN_SIZE);
    CHECK(g == a);
    CHECK_EQ(test_verify(g, RUN_SIZE + 1, 1), RUN_SIZE + 1);
    /* once guard is freed it merges with the freed tail before it, and
     * growth into both fits in place */
    ta_free(guard);
    char *h = ta_arena_realloc(ar, g, 5 * RUN_SIZE);
    CHECK(h == a);
    CHECK_EQ(test_verify(h, RUN_SIZE + 1, 1), RUN_SIZE + 1);
    ta_free(h);
    CHECK_EQ(pactive_of(ar), 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* A buffer grown an eighth at a time (a Python list's growth) while
 * blocks of 64 B to 2 KiB are taken between the steps, in resident free
 * pages: the slabs keep off the pages after the run, and a run that must
 * move gets room after it, so the steps past a large class stay in place.
 * With the page after the run taken first, 12 of the 23 moved. */
static void test_growth_keeps_room(void)
{
    ta_arena_t *ar = test_keeping_arena();
    if (!ar)
        return;
    /* resident free pages, which slabs take before any others */
    ta_free(ta_arena_malloc(ar, LARGE_MAX));
    enum { NSMALL = 8000 };
    static void *small[NSMALL];
    size_t nsmall = 0, size = SMALL_MAX + 1, filled = size;
    unsigned moves = 0, crossings = 0;
    char *p = ta_arena_malloc(ar, size);
    CHECK(p != NULL);
    if (!p)
        return;
    test_fill(p, filled, 3);
    while (size + size / 8 <= LARGE_MAX / 2) {
        for (int i = 0; i < 64 && nsmall < NSMALL; i++) {
            small[nsmall] = ta_arena_malloc(ar, (size_t)64 << (i % 6));
            CHECK(small[nsmall] != NULL);
            nsmall++;
        }
        size_t usable = ta_malloc_usable_size(p);
        size += size / 8;
        char *q = ta_arena_realloc(ar, p, size);
        CHECK(q != NULL);
        if (!q)
            break;
        crossings += size > usable;
        moves += q != p;
        p = q;
    }
    CHECK_EQ(test_verify(p, filled, 3), filled);
    CHECK(crossings > 15);
    CHECK(moves <= crossings / 4);
    ta_free(p);
    for (size_t i = 0; i < nsmall; i++)
        ta_free(small[i]);
    CHECK_EQ(pactive_of(ar), 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Requests bigger than a segment's worth of runs still succeed and are
 * given back in full. */
static void test_spanning_segments(void)
{
    ta_arena_t *ar = test_keeping_arena();
    if (!ar)
        return;
    enum { N = 3 * (int)(SEGMENT_SIZE / LARGE_MAX) + 2 };
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = ta_arena_malloc(ar, LARGE_MAX);
        CHECK(p[i] != NULL);
        CHECK(ta_arena_of(p[i]) == ar);
    }
    for (int i = 0; i < N; i++)
        ta_free(p[i]);
    CHECK_EQ(pactive_of(ar), 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    ta_free(ta_malloc(1));
    RUN(test_coalescing);
    RUN(test_steady_state);
    RUN(test_realloc_in_place);
    RUN(test_growth_keeps_room);
    RUN(test_spanning_segments);
    return TEST_EXIT();
}
