/* The hook callbacks (ta_hook_malloc/calloc/free): hits served by the
 * named cache, everything else handed to the hook's fallbacks exactly as
 * the header promises (NULL, foreign blocks, switched-off caches), and the
 * malloc family's edge cases (zero sizes, calloc overflow, zeroing). */
#include <errno.h>

#include "harness.h"

/* A hook of the kind a runtime binding keeps: ta_hook_t first, so the
 * fallbacks get back to the rest. */
typedef struct counting_hook {
    ta_hook_t hook;
    int mallocs, callocs, frees;
    void *last_freed;
} counting_hook_t;

/* What the "other allocator" hands out: fresh static slots, as the
 * malloc attribute of ta_hook_malloc requires (no aliasing of live data,
 * so the tests compare results through ta_owns, not with ==). */
static char foreign_block[64];
static char foreign_slots[4][64];
static unsigned foreign_used;

static void *foreign_alloc(size_t size)
{
    return size <= 64 && foreign_used < 4 ? foreign_slots[foreign_used++] : NULL;
}

static void *count_malloc(void *ctx, size_t size)
{
    counting_hook_t *h = ctx;
    h->mallocs++;
    return foreign_alloc(size);
}

static void *count_calloc(void *ctx, size_t n, size_t size)
{
    counting_hook_t *h = ctx;
    h->callocs++;
    return n <= 64 && size <= 64 ? foreign_alloc(n * size) : NULL;
}

/* Records what tunalloc handed back; a real hook would free it. */
static void count_free(void *ctx, void *p)
{
    counting_hook_t *h = ctx;
    h->frees++;
    h->last_freed = p;
}

static counting_hook_t hook_on(ta_tcache_t *tc)
{
    return (counting_hook_t){.hook = {.alloc_cache = tc,
                                      .free_cache = tc,
                                      .malloc_fallback = count_malloc,
                                      .calloc_fallback = count_calloc,
                                      .free_fallback = count_free}};
}

/* Hits and misses of every size range come from tunalloc, not the
 * fallbacks, and free back into the cache. */
static void test_cached_calls(void)
{
    ta_tcache_t *tc = ta_tcache_create(NULL);
    CHECK(tc != NULL);
    counting_hook_t h = hook_on(tc);
    static const size_t sizes[] = {0, 1, 48, 512, 4096, 20000, 40000, 1 << 20, 40 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        void *p = ta_hook_malloc(&h, sizes[i]);
        void *q = ta_hook_calloc(&h, 1, sizes[i]);
        CHECK(p != NULL && q != NULL && p != q);
        CHECK(ta_owns(p) && ta_owns(q));
        CHECK(ta_malloc_usable_size(p) >= sizes[i]);
        test_fill(p, sizes[i], i);
        CHECK_EQ(test_verify(p, sizes[i], i), sizes[i]);
        ta_hook_free(&h, p);
        ta_hook_free(&h, q);
    }
    CHECK_EQ(h.mallocs + h.callocs + h.frees, 0);
    /* LIFO: the block just freed is the next one of its class. */
    void *a = ta_hook_malloc(&h, 100);
    ta_hook_free(&h, a);
    CHECK(ta_hook_malloc(&h, 100) == a);
    ta_hook_free(&h, a);
    ta_tcache_destroy(tc);
}

/* Zero sizes give distinct blocks; calloc zeroes a reused block and
 * refuses an overflowing product with ENOMEM, without the fallback. */
static void test_malloc_family_edges(void)
{
    ta_tcache_t *tc = ta_tcache_create(NULL);
    counting_hook_t h = hook_on(tc);
    void *z1 = ta_hook_malloc(&h, 0), *z2 = ta_hook_malloc(&h, 0);
    void *z3 = ta_hook_calloc(&h, 0, 8), *z4 = ta_hook_calloc(&h, 8, 0);
    CHECK(z1 && z2 && z3 && z4);
    CHECK(z1 != z2 && z3 != z4 && z1 != z3 && z2 != z4);
    void *dirty = ta_hook_malloc(&h, 200);
    memset(dirty, 0xab, 200);
    ta_hook_free(&h, dirty);
    unsigned char *clean = ta_hook_calloc(&h, 25, 8);
    CHECK(clean == dirty);
    size_t nonzero = 0;
    for (size_t i = 0; i < 200; i++)
        nonzero += clean[i] != 0;
    CHECK_EQ(nonzero, 0);
    errno = 0;
    CHECK(ta_hook_calloc(&h, SIZE_MAX / 2, 3) == NULL);
    CHECK_EQ(errno, ENOMEM);
    CHECK_EQ(h.callocs, 0);
    void *all[] = {z1, z2, z3, z4, clean};
    for (size_t i = 0; i < 5; i++)
        ta_hook_free(&h, all[i]);
    CHECK_EQ(h.frees, 0);
    ta_tcache_destroy(tc);
}

/* What is not tunalloc's, and everything while a cache is switched off,
 * goes to the fallbacks, untouched. */
static void test_fallbacks(void)
{
    ta_tcache_t *tc = ta_tcache_create(NULL);
    counting_hook_t h = hook_on(tc);
    ta_hook_free(&h, NULL);
    CHECK_EQ(h.frees, 1);
    CHECK(h.last_freed == NULL);
    char on_stack[32];
    ta_hook_free(&h, on_stack);
    ta_hook_free(&h, foreign_block);
    CHECK_EQ(h.frees, 3);
    CHECK(h.last_freed == foreign_block);

    void *mine = ta_hook_malloc(&h, 64);
    __atomic_store_n(&h.hook.alloc_cache, NULL, __ATOMIC_RELAXED);
    void *other = ta_hook_malloc(&h, 64), *other_zeroed = ta_hook_calloc(&h, 2, 16);
    CHECK(other != NULL && !ta_owns(other));
    CHECK(other_zeroed != NULL && !ta_owns(other_zeroed));
    CHECK_EQ(h.mallocs, 1);
    CHECK_EQ(h.callocs, 1);

    __atomic_store_n(&h.hook.free_cache, NULL, __ATOMIC_RELAXED);
    ta_hook_free(&h, mine);
    CHECK_EQ(h.frees, 4);
    CHECK(h.last_freed == mine);
    ta_free(mine); /* what the fallback of a real hook would do */

    __atomic_store_n(&h.hook.alloc_cache, tc, __ATOMIC_RELAXED);
    __atomic_store_n(&h.hook.free_cache, tc, __ATOMIC_RELAXED);
    void *again = ta_hook_malloc(&h, 64);
    CHECK(ta_owns(again));
    ta_hook_free(&h, again);
    CHECK_EQ(h.frees, 4);
    ta_tcache_destroy(tc);
}

/* Blocks freed through a hook are in the arena's books once the cache is
 * flushed: nothing is lost on the way. */
static void test_accounting(void)
{
    ta_arena_t *ar = test_keeping_arena();
    ta_tcache_t *tc = ta_tcache_create(ar);
    unsigned idx = ta_arena_index(ar);
    counting_hook_t h = hook_on(tc);
    enum { N = 5000 };
    static void *blocks[N];
    for (size_t i = 0; i < N; i++)
        blocks[i] = ta_hook_malloc(&h, 16 + (i % 50) * 16);
    ta_tcache_flush(tc);
    size_t epoch = 1;
    ta_ctl("epoch", NULL, NULL, &epoch, sizeof(epoch));
    size_t live = test_ctl_size("stats.arenas.%u.small.allocated", idx);
    CHECK(live >= (size_t)N * 16);
    for (size_t i = 0; i < N; i++)
        ta_hook_free(&h, blocks[i]);
    ta_tcache_flush(tc);
    ta_ctl("epoch", NULL, NULL, &epoch, sizeof(epoch));
    CHECK_EQ(test_ctl_size("stats.arenas.%u.small.allocated", idx), 0);
    ta_tcache_destroy(tc);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    RUN(test_cached_calls);
    RUN(test_malloc_family_edges);
    RUN(test_fallbacks);
    RUN(test_accounting);
    return TEST_EXIT();
}
