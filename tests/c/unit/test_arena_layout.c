/* Unit test of arena.c and arena.h.
 * What a new arena's struct makes resident: its creation writes the
 * header and every bin's lock, and nothing past them, so the large
 * classes' statistics at the struct's end stay untouched (pages the
 * kernel has not backed) until an arena uses those classes; an arena
 * serving small blocks writes two pages of it, and a thread cache that
 * goes writes none of the large classes' counters it has nothing to add
 * to (tcache.c: merge_class). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "harness.h"
#include "residency.h"

/* The pages that start inside [p, p+n): the struct is page-aligned in
 * a block of its own, so nothing else shares the last of them. */
static size_t pages_from(const void *p, size_t n, const char **first)
{
    size_t pg = page_size();
    uintptr_t lo = ((uintptr_t)p + pg - 1) & ~(uintptr_t)(pg - 1);
    uintptr_t end = (uintptr_t)p + n;
    *first = (const char *)lo;
    return end > lo ? (end - lo + pg - 1) / pg : 0;
}

static void test_fresh_arena_touches_no_large_stats(void)
{
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    arena_t *a = &ar->a;
    CHECK_EQ((uintptr_t)a % page_size(), 0);
    const char *end = (const char *)(a + 1), *tail;
    const char *lstats = (const char *)a->stats.lstats;
    size_t n = pages_from(lstats, (size_t)(end - lstats), &tail);
    /* the layout leaves pages to the large classes' stats alone */
    CHECK(n >= 1);
    /* and the bins lie before them */
    CHECK((const char *)&a->bins[NBINS - 1] < lstats);
    if (thp_always())
        printf("transparent huge pages always on: residency not checked\n");
    else
        CHECK_EQ(resident_pages(tail, n * page_size()), 0);
    /* small blocks of every class touch no large class's counters */
    void *p[NBINS];
    for (unsigned c = 0; c < NBINS; c++)
        CHECK((p[c] = ta_arena_malloc(ar, tai_bin_info[c].size)) != NULL);
    if (!thp_always())
        CHECK_EQ(resident_pages(tail, n * page_size()), 0);
    for (unsigned c = 0; c < NBINS; c++)
        ta_free(p[c]);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* The pages of the arena's struct the kernel backs. */
static size_t arena_pages(const arena_t *a) { return resident_pages(a, sizeof(*a)); }

/* Blocks of every small class, from the arena itself (no cache): the
 * bins and the counters every arena in use writes, two pages of it. */
static void test_small_blocks_touch_two_pages(void)
{
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    void *p[NBINS];
    for (unsigned c = 0; c < NBINS; c++)
        CHECK((p[c] = ta_arena_malloc(ar, tai_bin_info[c].size)) != NULL);
    if (!thp_always())
        CHECK_EQ(arena_pages(&ar->a), 2);
    for (unsigned c = 0; c < NBINS; c++)
        ta_free(p[c]);
    if (!thp_always())
        CHECK_EQ(arena_pages(&ar->a), 2);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* A thread bound to the arena allocates and frees small blocks, then
 * ends: its cache's flush merges every class's requests. */
static void *small_thread(void *arg)
{
    unsigned index = *(unsigned *)arg;
    TCHECK(ta_ctl("thread.arena", NULL, NULL, &index, sizeof(index)) == 0);
    void *p[64];
    for (int i = 0; i < 64; i++)
        p[i] = ta_malloc(64);
    for (int i = 0; i < 64; i++)
        ta_free(p[i]);
    return NULL;
}

static void test_gone_cache_touches_two_pages(void)
{
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    unsigned index = ar->a.index;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, small_thread, &index), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    /* before the stats are read, which maps every page of the struct */
    if (!thp_always())
        CHECK_EQ(arena_pages(&ar->a), 2);
    uint64_t requests = 0;
    size_t len = sizeof(requests);
    char name[64];
    snprintf(name, sizeof name, "stats.arenas.%u.small.nrequests", index);
    CHECK_EQ(ta_ctl("epoch", NULL, NULL, &(uint64_t){1}, sizeof(uint64_t)), 0);
    CHECK_EQ(ta_ctl(name, &requests, &len, NULL, 0), 0);
    CHECK_EQ(requests, 64);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    ta_free(ta_malloc(1));
    RUN(test_fresh_arena_touches_no_large_stats);
    RUN(test_small_blocks_touch_two_pages);
    RUN(test_gone_cache_touches_two_pages);
    return TEST_EXIT();
}
