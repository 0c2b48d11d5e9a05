/* A shrinking realloc never fails: when no smaller block can be had, the
 * block stays where it is. Every kind of shrink that needs a new block
 * (small to a smaller class, large to small, huge to large and to small)
 * through ta_realloc, ta_arena_realloc and ta_tcache_realloc, with the
 * arena over its limit and with the kernel refusing memory (every new
 * mapping refused through map_budget.h). */
#include <errno.h>

#include "harness.h"
#include "map_budget.h"

/* A budget of one byte: every new mapping is refused. */
static void refuse_mappings(int on) { atomic_store(&budget, on ? 1 : 0); }

enum api { API_REALLOC, API_ARENA, API_TCACHE, NAPIS };
enum cause { OVER_LIMIT, NO_MAPPING };

static const struct {
    size_t from, to;
    const char *what;
} shrinks[] = {
    {2000, 5, "small to a smaller class"},
    {100000, 5, "large to small"},
    {100000, 3000, "large to small"},
    {3 << 20, 100000, "huge to large"},
    {3 << 20, 5, "huge to small"},
};

static void set_limit(ta_arena_t *a, size_t limit)
{
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.limit", ta_arena_index(a));
    CHECK_EQ(ta_ctl(name, NULL, NULL, &limit, sizeof(limit)), 0);
}

static void bind_thread(unsigned index)
{
    CHECK_EQ(ta_ctl("thread.arena", NULL, NULL, &index, sizeof(index)), 0);
}

/* Takes every free page of the arena (16-byte blocks, the class the
 * shrinks to 5 bytes need) until the arena gives no more (at once when
 * it has no segment yet); blocks stay allocated until the arena is
 * destroyed. */
static void exhaust(ta_arena_t *a)
{
    while (ta_arena_malloc(a, 16))
        continue;
    CHECK(ta_arena_malloc(a, 100000) == NULL);
}

static void *shrink(enum api api, ta_arena_t *a, ta_tcache_t *tc, void *p, size_t size)
{
    switch (api) {
    case API_REALLOC:
        return ta_realloc(p, size);
    case API_ARENA:
        return ta_arena_realloc(a, p, size);
    default:
        return ta_tcache_realloc(tc, p, size);
    }
}

/* One shrink in a fresh arena, with the new block made unobtainable by
 * `cause`: the call returns p, whose contents are intact. */
static void one_shrink(enum api api, enum cause cause, size_t from, size_t to, const char *what)
{
    ta_arena_t *a = ta_arena_create(NULL);
    CHECK(a != NULL);
    if (!a)
        return;
    if (api == API_REALLOC)
        bind_thread(ta_arena_index(a));
    ta_tcache_t *tc = api == API_TCACHE ? ta_tcache_create(a) : NULL;
    void *p = ta_arena_malloc(a, from);
    CHECK(p != NULL);
    size_t kept = to < 64 ? to : 64;
    test_fill(p, kept, from);
    if (cause == OVER_LIMIT) {
        set_limit(a, 1);
    } else {
        refuse_mappings(1);
        exhaust(a);
    }
    errno = 0;
    void *q = shrink(api, a, tc, p, to);
    refuse_mappings(0);
    if (q != p)
        fprintf(stderr, "api %d cause %d %s (%zu -> %zu): %p -> %p\n", (int)api, (int)cause,
                what, from, to, p, q);
    CHECK(q == p);
    CHECK_EQ(errno, 0);
    CHECK(ta_malloc_usable_size(p) >= to);
    CHECK_EQ(test_verify(p, kept, from), kept);
    /* a growth in the same state still fails cleanly */
    set_limit(a, 1);
    CHECK(shrink(api, a, tc, p, from + (8u << 20)) == NULL);
    ta_tcache_destroy(tc);
    if (api == API_REALLOC)
        bind_thread(0);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

static void test_shrink_over_limit(void)
{
    for (int api = 0; api < NAPIS; api++)
        for (size_t i = 0; i < sizeof(shrinks) / sizeof(shrinks[0]); i++)
            one_shrink((enum api)api, OVER_LIMIT, shrinks[i].from, shrinks[i].to,
                       shrinks[i].what);
}

static void test_shrink_without_memory(void)
{
    for (int api = 0; api < NAPIS; api++)
        for (size_t i = 0; i < sizeof(shrinks) / sizeof(shrinks[0]); i++)
            one_shrink((enum api)api, NO_MAPPING, shrinks[i].from, shrinks[i].to,
                       shrinks[i].what);
}

/* Control: with memory to be had, the same shrinks move the block to
 * its smaller class, so the tests above do take the allocating path. */
static void test_shrink_moves_when_it_can(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    CHECK(a != NULL);
    for (size_t i = 0; i < sizeof(shrinks) / sizeof(shrinks[0]); i++) {
        void *p = ta_arena_malloc(a, shrinks[i].from);
        void *q = ta_arena_realloc(a, p, shrinks[i].to);
        CHECK(q != NULL && q != p);
        CHECK(ta_malloc_usable_size(q) < shrinks[i].from);
        ta_free(q);
    }
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* A block a shrink kept in its bigger class is freed sized with the size
 * last asked for, as free_sized's contract says: it must go back to the
 * bin of the class it lives in. Filed under the smaller size's class it
 * was refused at the flush (reported as an invalid free, and lost). */
static void test_sized_free_after_kept_shrink(void)
{
    for (int api = API_ARENA; api < NAPIS; api++) {
        ta_arena_t *a = ta_arena_create(NULL);
        CHECK(a != NULL);
        if (!a)
            return;
        ta_tcache_t *tc = ta_tcache_create(a);
        CHECK(tc != NULL);
        void *p = ta_tcache_malloc(tc, 2000);
        CHECK(p != NULL);
        set_limit(a, 1);
        void *q = shrink((enum api)api, a, tc, p, 16);
        CHECK(q == p);
        if (api == API_TCACHE)
            ta_tcache_free_sized(tc, q, 16);
        else
            ta_free_sized(q, 16);
        ta_tcache_flush(tc);
        size_t blocks = 1, bytes = 1;
        CHECK_EQ(ta_arena_live(a, &blocks, &bytes), 0);
        CHECK_EQ(blocks, 0);
        CHECK_EQ(bytes, 0);
        ta_tcache_destroy(tc);
        CHECK_EQ(ta_arena_destroy(a), 0);
    }
}

int main(void)
{
    RUN(test_sized_free_after_kept_shrink);
    RUN(test_shrink_moves_when_it_can);
    RUN(test_shrink_over_limit);
    RUN(test_shrink_without_memory);
    return TEST_EXIT();
}
