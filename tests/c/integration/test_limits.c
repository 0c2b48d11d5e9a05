/* Arena limits and out-of-memory paths: past the cap every size class
 * fails with NULL/ENOMEM, frees make room again, a cap lowered under the
 * current usage holds, and a failed realloc keeps the old block intact. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "tunalloc.h"

#define MIB ((size_t)1 << 20)
#define MAX_BLOCKS ((size_t)1 << 17)

/* The arena's active bytes as of a fresh epoch. */
static size_t arena_active(ta_arena_t *a)
{
    uint64_t ep = 1;
    size_t len = sizeof(ep);
    CHECK_EQ(ta_ctl("epoch", &ep, &len, &ep, len), 0);
    char name[64];
    snprintf(name, sizeof(name), "stats.arenas.%u.pactive", ta_arena_index(a));
    size_t pages = 0, page = 0;
    len = sizeof(pages);
    CHECK_EQ(ta_ctl(name, &pages, &len, NULL, 0), 0);
    len = sizeof(page);
    CHECK_EQ(ta_ctl("arenas.page", &page, &len, NULL, 0), 0);
    return pages * page;
}

/* Changes the cap through ctl, as a running program would. */
static int set_limit(ta_arena_t *a, size_t limit)
{
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.limit", ta_arena_index(a));
    return ta_ctl(name, NULL, NULL, &limit, sizeof(limit));
}

/* Allocates blocks of `size` until the arena refuses; returns how many it
 * got, checking the refusal is NULL with ENOMEM and the cap held. */
static size_t fill_until_refused(ta_arena_t *a, size_t size, size_t limit, void **out)
{
    size_t n = 0;
    for (; n < MAX_BLOCKS; n++) {
        errno = 0;
        void *p = ta_arena_malloc(a, size);
        if (!p) {
            CHECK_EQ(errno, ENOMEM);
            break;
        }
        memset(p, (int)(n & 0xff), size);
        out[n] = p;
    }
    CHECK(n < MAX_BLOCKS);
    CHECK(arena_active(a) <= limit);
    return n;
}

/* Frees the blocks fill_until_refused collected. */
static void free_all(void **blocks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ta_free(blocks[i]);
}

/* Small, large and huge sizes each stop at the cap, succeed again once
 * their own blocks are freed, and use a fair share of the cap first. */
static void test_cap_each_size(void)
{
    static void *blocks[MAX_BLOCKS];
    const size_t sizes[] = {1, 64, 3000, TEST_SMALL_MAX, TEST_SMALL_MAX + 1, 40000, 300000,
                            TEST_LARGE_MAX, TEST_LARGE_MAX + 1, (size_t)3 << 20};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t limit = sizes[k] <= TEST_SMALL_MAX ? MIB : 8 * MIB;
        ta_arena_t *a = test_limited_arena(limit);
        if (!a)
            return;
        size_t n = fill_until_refused(a, sizes[k], limit, blocks);
        size_t usable = n ? ta_malloc_usable_size(blocks[0]) : 0;
        /* at most one slab, run or mapping short of the cap */
        CHECK(n * usable + (sizes[k] <= TEST_SMALL_MAX ? 65536 : (size_t)4 << 20) >= limit);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ(((unsigned char *)blocks[i])[sizes[k] - 1], i & 0xff);
        free_all(blocks, n);
        CHECK_EQ(arena_active(a), 0);
        size_t again = fill_until_refused(a, sizes[k], limit, blocks);
        CHECK_EQ(again, n);
        free_all(blocks, again);
        if (ta_arena_destroy(a) != 0)
            fprintf(stderr, "destroy failed for size %zu\n", sizes[k]);
    }
}

/* The cap applies to every path into the arena: calloc, aligned and an
 * explicit cache bound to it. */
static void test_cap_other_entry_points(void)
{
    ta_arena_t *a = test_limited_arena(2 * MIB);
    if (!a)
        return;
    void *big = ta_arena_malloc(a, (size_t)3 << 19); /* 1.5 MiB */
    CHECK(big != NULL);
    errno = 0;
    CHECK(ta_arena_calloc(a, 1, MIB) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(ta_arena_aligned_alloc(a, (size_t)1 << 16, MIB) == NULL);
    CHECK_EQ(errno, ENOMEM);
    ta_tcache_t *tc = ta_tcache_create(a);
    CHECK(tc != NULL);
    if (tc) {
        CHECK(ta_tcache_arena(tc) == a);
        errno = 0;
        CHECK(ta_tcache_malloc(tc, MIB) == NULL);
        CHECK_EQ(errno, ENOMEM);
        void *small = ta_tcache_malloc(tc, 100);
        CHECK(small != NULL);
        ta_tcache_free(tc, small);
        ta_tcache_destroy(tc);
    }
    ta_free(big);
    void *again = ta_arena_calloc(a, 1, MIB);
    CHECK(again != NULL);
    if (again)
        CHECK(test_all_zero(again, MIB));
    ta_free(again);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* A cap lowered under what is in use: nothing is taken away, nothing new
 * that needs pages is granted until usage falls under the cap. */
static void test_lowered_cap(void)
{
    ta_arena_t *a = test_limited_arena(0);
    if (!a)
        return;
    void *blocks[8];
    for (int i = 0; i < 8; i++) {
        blocks[i] = ta_arena_malloc(a, 256 * 1024);
        CHECK(blocks[i] != NULL);
        if (blocks[i])
            test_fill(blocks[i], 256 * 1024, (uintptr_t)i);
    }
    size_t used = arena_active(a);
    CHECK(used >= 2 * MIB);
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.limit", ta_arena_index(a));
    size_t old = 1, len = sizeof(old), lowered = MIB;
    CHECK_EQ(ta_ctl(name, &old, &len, &lowered, sizeof(lowered)), 0);
    CHECK_EQ(old, 0);
    size_t now = 0;
    len = sizeof(now);
    CHECK_EQ(ta_ctl(name, &now, &len, NULL, 0), 0);
    CHECK_EQ(now, MIB);
    errno = 0;
    CHECK(ta_arena_malloc(a, 20000) == NULL);
    CHECK(ta_arena_malloc(a, 3 * MIB) == NULL);
    CHECK(ta_arena_malloc(a, 100) == NULL); /* needs a new slab */
    CHECK_EQ(errno, ENOMEM);
    for (int i = 0; i < 8; i++)
        if (blocks[i])
            CHECK_EQ(test_verify(blocks[i], 256 * 1024, (uintptr_t)i), 256 * 1024);
    for (int i = 0; i < 6; i++)
        ta_free(blocks[i]);
    void *p = ta_arena_malloc(a, 256 * 1024);
    CHECK(p != NULL);
    CHECK(arena_active(a) <= MIB);
    ta_free(p);
    ta_free(blocks[6]);
    ta_free(blocks[7]);
    CHECK_EQ(set_limit(a, 0), 0);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* realloc growth past the cap fails, sets ENOMEM and leaves the block as
 * it was; within the cap it succeeds and keeps the contents. */
static void test_realloc_past_cap(void)
{
    const size_t from[] = {100, 16384, 20000, 100000, (size_t)3 << 20};
    const size_t to[] = {5 * MIB, 5 * MIB, 5 * MIB, 6 * MIB, 7 * MIB};
    for (size_t k = 0; k < sizeof(from) / sizeof(from[0]); k++) {
        ta_arena_t *a = test_limited_arena(4 * MIB);
        if (!a)
            return;
        unsigned char *p = ta_arena_malloc(a, from[k]);
        CHECK(p != NULL);
        if (!p)
            continue;
        test_fill(p, from[k], k + 1);
        errno = 0;
        CHECK(ta_arena_realloc(a, p, to[k]) == NULL);
        CHECK_EQ(errno, ENOMEM);
        CHECK_EQ(test_verify(p, from[k], k + 1), from[k]);
        CHECK_EQ(ta_check_ptr(p), 0);
        CHECK(ta_malloc_usable_size(p) >= from[k]);
        CHECK_EQ(set_limit(a, 16 * MIB), 0);
        unsigned char *q = ta_arena_realloc(a, p, to[k]);
        CHECK(q != NULL);
        if (q) {
            CHECK_EQ(test_verify(q, from[k], k + 1), from[k]);
            CHECK(ta_arena_of(q) == a);
            ta_free(q);
        } else {
            ta_free(p);
        }
        CHECK_EQ(arena_active(a), 0);
        CHECK_EQ(ta_arena_destroy(a), 0);
    }
}

/* A cap smaller than any slab refuses everything, yet the arena stays
 * usable and destroyable. */
static void test_tiny_cap(void)
{
    ta_arena_t *a = test_limited_arena(1);
    if (!a)
        return;
    errno = 0;
    CHECK(ta_arena_malloc(a, 1) == NULL);
    CHECK_EQ(errno, ENOMEM);
    CHECK(ta_arena_malloc(a, 50000) == NULL);
    CHECK(ta_arena_malloc(a, 5 * MIB) == NULL);
    CHECK_EQ(arena_active(a), 0);
    CHECK_EQ(set_limit(a, 0), 0);
    void *p = ta_arena_malloc(a, 1);
    CHECK(p != NULL);
    ta_free(p);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* Each sub-test makes and destroys its own arenas. */
int main(void)
{
    RUN(test_cap_each_size);
    RUN(test_cap_other_entry_points);
    RUN(test_lowered_cap);
    RUN(test_realloc_past_cap);
    RUN(test_tiny_cap);
    return TEST_EXIT();
}
