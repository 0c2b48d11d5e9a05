/* Unit test of arena.c and arena.h.
 * What a new arena's struct makes resident: its creation writes the
 * header and every bin's lock, and nothing past them, so the large
 * classes' statistics at the struct's end stay untouched (pages the
 * kernel has not backed) until an arena uses those classes. */
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

/* A transparent huge page under the base's mapping would back every
 * page of it at once. */
static bool thp_always(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return false;
    char buf[128] = "";
    bool always = fgets(buf, sizeof buf, f) && strstr(buf, "[always]");
    fclose(f);
    return always;
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

int main(void)
{
    ta_free(ta_malloc(1));
    RUN(test_fresh_arena_touches_no_large_stats);
    return TEST_EXIT();
}
