/* ta_sized_alloc, ta_sized_free and ta_sized_resize on an explicit
 * cache: every resize path keeps the bytes, a shrink never fails (also
 * when the arena's cap refuses the smaller block), failures reach the
 * `failed` callback with the request, and every block comes back (the
 * arena's live count ends at zero); in the default, checked and secure
 * modes, each in a run of this program under its TUNALLOC_CONF (checked
 * mode would report a size a kept shrink left as a wrong one). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rerun.h"
#include "tunalloc.h"

#define NSLOTS 4096

/* A runtime's allocator state, the context embedded first. */
typedef struct runtime {
    ta_sized_t sized;
    int nfailed;
    void *p;
    size_t osize, nsize;
} runtime;

static void *record_failure(ta_sized_t *sized, void *p, size_t osize, size_t nsize)
{
    runtime *r = (runtime *)sized;
    r->nfailed++;
    r->p = p;
    r->osize = osize;
    r->nsize = nsize;
    return NULL;
}

static runtime runtime_on(ta_tcache_t *tc)
{
    return (runtime){.sized = {tc, record_failure, tc}};
}

/* Nothing of the arena is live once the cache has given its blocks back. */
static void check_all_back(ta_arena_t *a, ta_tcache_t *tc)
{
    ta_tcache_flush(tc);
    size_t blocks = 1, bytes = 1;
    CHECK_EQ(ta_arena_live(a, &blocks, &bytes), 0);
    CHECK_EQ(blocks, 0);
    CHECK_EQ(bytes, 0);
}

/* One block through a resize: the kept prefix intact, the result a live
 * block of tunalloc's, freed by its new size. */
static void one_resize(ta_sized_t *sz, size_t osize, size_t nsize)
{
    void *p = ta_sized_alloc(sz, osize);
    CHECK(p != NULL);
    test_fill(p, osize, osize);
    void *q = ta_sized_resize(sz, p, osize, nsize);
    CHECK(q != NULL);
    size_t kept = osize < nsize ? osize : nsize;
    CHECK_EQ(test_verify(q, kept, osize), kept);
    CHECK_EQ(ta_check_ptr(q), 0);
    CHECK(ta_malloc_usable_size(q) >= nsize);
    test_fill(q, nsize, nsize);
    CHECK(ta_sized_free(sz, q, nsize) == NULL);
}

/* Same class, small to small across classes both ways, small to large,
 * large to small, large in place, huge, and a chain through all. */
static void test_paths(void)
{
    ta_arena_t *a = test_limited_arena(0);
    ta_tcache_t *tc = ta_tcache_create(a);
    CHECK(tc != NULL);
    runtime rt = runtime_on(tc);
    ta_sized_t *sz = &rt.sized;
    static const size_t pairs[][2] = {
        {24, 20}, {20, 24}, {16, 17}, {17, 16}, {8, 4000}, {4000, 8},
        {100, 20000}, {20000, 100}, {20000, 30000}, {30000, 20000},
        {64, 4u << 20}, {4u << 20, 64}, {4u << 20, 8u << 20}, {8u << 20, 3u << 20}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        one_resize(sz, pairs[i][0], pairs[i][1]);
    /* Lua's shape: NULL allocates, size 0 frees */
    void *p = ta_sized_resize(sz, NULL, 7, 40);
    CHECK(p != NULL);
    test_fill(p, 40, 3);
    size_t size = 40;
    uint64_t rng = 11;
    for (int i = 0; i < 2000; i++) {
        size_t n = 1 + test_rand(&rng) % (i % 50 == 0 ? 100000 : 3000);
        void *q = ta_sized_resize(sz, p, size, n);
        CHECK(q != NULL);
        size_t kept = size < n ? size : n;
        CHECK_EQ(test_verify(q, kept, 3 + (uintptr_t)i), kept);
        test_fill(q, n, 4 + (uintptr_t)i);
        p = q;
        size = n;
    }
    CHECK(ta_sized_resize(sz, p, size, 0) == NULL);
    CHECK(ta_sized_free(sz, NULL, 123) == NULL);
    void *z = ta_sized_alloc(sz, 0);
    CHECK(z != NULL && ta_check_ptr(z) == 0);
    ta_sized_free(sz, z, 0);
    CHECK_EQ(rt.nfailed, 0);
    check_all_back(a, tc);
    ta_tcache_destroy(tc);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* Growth past the arena's cap fails: the callback hears the request, its
 * answer is the call's, and the block is as it was. Without a callback
 * the call returns NULL. */
static void test_growth_fails(void)
{
    ta_arena_t *a = test_limited_arena(4u << 20);
    ta_tcache_t *tc = ta_tcache_create(a);
    runtime rt = runtime_on(tc);
    ta_sized_t *sz = &rt.sized;
    void *p = ta_sized_alloc(sz, 100);
    CHECK(p != NULL);
    test_fill(p, 100, 5);
    errno = 0;
    CHECK(ta_sized_resize(sz, p, 100, 64u << 20) == NULL);
    CHECK_EQ(errno, ENOMEM);
    CHECK_EQ(rt.nfailed, 1);
    CHECK(rt.p == p);
    CHECK_EQ(rt.osize, 100);
    CHECK_EQ(rt.nsize, 64u << 20);
    CHECK_EQ(test_verify(p, 100, 5), 100);
    CHECK_EQ(ta_check_ptr(p), 0);
    CHECK(ta_sized_alloc(sz, 64u << 20) == NULL);
    CHECK_EQ(rt.nfailed, 2);
    CHECK(rt.p == NULL);
    CHECK_EQ(rt.osize, 0);
    CHECK_EQ(rt.nsize, 64u << 20);
    ta_sized_t plain = {tc, NULL, tc};
    CHECK(ta_sized_resize(&plain, p, 100, 64u << 20) == NULL);
    CHECK(ta_sized_alloc(&plain, 64u << 20) == NULL);
    CHECK_EQ(test_verify(p, 100, 5), 100);
    ta_sized_free(sz, p, 100);
    check_all_back(a, tc);
    ta_tcache_destroy(tc);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* Fills the arena with blocks of `size` until the cap refuses one. */
static size_t fill(ta_sized_t *sz, size_t size, void **slots)
{
    size_t n = 0;
    while (n < NSLOTS && (slots[n] = ta_sized_alloc(sz, size)) != NULL)
        n++;
    return n;
}

/* Fills the arena with blocks of large and small classes until the cap
 * refuses each, recording them from slot n on; the new count. */
static const size_t fills[] = {65536, 4096, 16, 24, 32};
#define NFILLS ((int)(sizeof fills / sizeof fills[0]))
static size_t fill_all(ta_sized_t *sz, void **slots, size_t *sizes, size_t n)
{
    for (int f = 0; f < NFILLS; f++) {
        size_t got = fill(sz, fills[f], slots + n);
        for (size_t i = n; i < n + got; i++)
            sizes[i] = fills[f];
        n += got;
    }
    return n;
}

/* With the arena full, shrinks that need a block of a class with no room
 * (small to small, large to small) keep the old block without a failure,
 * and sized frees by the smaller sizes still give every block back to
 * its own class: the arena ends with nothing live, and the blocks handed
 * out afterwards never overlap. */
static void test_shrink_never_fails(void)
{
    static void *slots[NSLOTS];
    static size_t sizes[NSLOTS];
    ta_arena_t *a = test_limited_arena(1u << 20);
    ta_tcache_t *tc = ta_tcache_create(a);
    runtime rt = runtime_on(tc);
    ta_sized_t *sz = &rt.sized;
    void *small = ta_sized_alloc(sz, 3000);
    void *large = ta_sized_alloc(sz, 40000);
    CHECK(small != NULL && large != NULL);
    test_fill(small, 3000, 6);
    test_fill(large, 40000, 7);
    size_t n = fill_all(sz, slots, sizes, 0);
    CHECK(n > 0 && n < NSLOTS);
    CHECK_EQ(rt.nfailed, NFILLS);
    /* no block of the 16- or 24-byte class is left, nor room for a slab */
    void *s2 = ta_sized_resize(sz, small, 3000, 16);
    CHECK(s2 == small);
    CHECK_EQ(test_verify(s2, 16, 6), 16);
    /* freed before anything else can make the sizes inexact, and back
     * in its own class: the arena has one block and 3072 bytes less */
    size_t blocks0, bytes0, blocks1, bytes1;
    ta_tcache_flush(tc);
    CHECK_EQ(ta_arena_live(a, &blocks0, &bytes0), 0);
    ta_sized_free(sz, s2, 16);
    ta_tcache_flush(tc);
    CHECK_EQ(ta_arena_live(a, &blocks1, &bytes1), 0);
    CHECK_EQ(blocks1, blocks0 - 1);
    CHECK_EQ(bytes1, bytes0 - 3072);
    n = fill_all(sz, slots, sizes, n);
    CHECK(n < NSLOTS);
    void *l2 = ta_sized_resize(sz, large, 40000, 24);
    CHECK(l2 == large);
    CHECK_EQ(test_verify(l2, 24, 7), 24);
    CHECK_EQ(rt.nfailed, 2 * NFILLS);
    /* a resize after a kept shrink works by the size last given */
    void *l3 = ta_sized_resize(sz, l2, 24, 20);
    CHECK(l3 != NULL);
    CHECK_EQ(test_verify(l3, 20, 7), 20);
    ta_sized_free(sz, l3, 20);
    for (size_t i = 0; i < n; i++)
        ta_sized_free(sz, slots[i], sizes[i]);
    check_all_back(a, tc);
    /* the freed blocks went back to their own classes: fresh blocks of
     * the small sizes are distinct and writable */
    void *x = ta_sized_alloc(sz, 16), *y = ta_sized_alloc(sz, 3000), *z = ta_sized_alloc(sz, 24);
    CHECK(x && y && z && x != y && y != z && x != z);
    test_fill(y, 3000, 8);
    test_fill(x, 16, 9);
    test_fill(z, 24, 10);
    CHECK_EQ(test_verify(y, 3000, 8), 3000);
    ta_sized_free(sz, x, 16);
    ta_sized_free(sz, y, 3000);
    ta_sized_free(sz, z, 24);
    check_all_back(a, tc);
    ta_tcache_destroy(tc);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    test_rerun_in_checked_modes(argv);
    RUN(test_paths);
    RUN(test_growth_fails);
    RUN(test_shrink_never_fails);
    return TEST_EXIT();
}
