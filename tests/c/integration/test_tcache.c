/* Explicit thread caches: allocation, free, flush and destroy through a
 * given cache, blocks crossing from one cache to another, and caches bound
 * to manual arenas giving every block back when destroyed. */
#include <errno.h>

#include "harness.h"

enum { N = 3000 };
static void *blocks[N];

/* Cycles through small, cached large and uncached large sizes. */
static size_t size_for(size_t i)
{
    static const size_t sizes[] = {0, 1, 8, 16, 24, 100, 128, 129, 500, 1024,
                                   3000, 8192, TEST_SMALL_MAX, TEST_SMALL_MAX + 1,
                                   TEST_TCACHE_MAX, TEST_TCACHE_MAX + 1, 100000};
    return sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
}

/* Every block allocated through a cache is valid, distinct, and keeps
 * its content until freed. */
static void test_alloc_free_flush(void)
{
    ta_tcache_t *tc = ta_tcache_create(NULL);
    CHECK(tc != NULL);
    if (!tc)
        return;
    CHECK(ta_tcache_arena(tc) != NULL);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < N; i++) {
            blocks[i] = ta_tcache_malloc(tc, size_for(i));
            CHECK(blocks[i] != NULL);
            CHECK(ta_malloc_usable_size(blocks[i]) >= size_for(i));
            CHECK_EQ(ta_check_ptr(blocks[i]), 0);
            test_fill(blocks[i], size_for(i), i);
        }
        for (size_t i = 0; i < N; i++)
            CHECK_EQ(test_verify(blocks[i], size_for(i), i), size_for(i));
        for (size_t i = 0; i < N; i++) {
            if (i % 2)
                ta_tcache_free(tc, blocks[i]);
            else
                ta_tcache_free_sized(tc, blocks[i], size_for(i));
        }
        ta_tcache_flush(tc);
    }
    ta_tcache_destroy(tc);
}

/* calloc zeroes even recycled blocks, realloc keeps content, and both
 * report overflow as NULL with ENOMEM. */
static void test_calloc_realloc(void)
{
    ta_tcache_t *tc = ta_tcache_create(NULL);
    CHECK(tc != NULL);
    if (!tc)
        return;
    for (size_t i = 0; i < 200; i++) {
        size_t size = size_for(i) + 1;
        void *p = ta_tcache_malloc(tc, size);
        CHECK(p != NULL);
        memset(p, 0xab, size);
        ta_tcache_free(tc, p);
        char *z = ta_tcache_calloc(tc, 1, size);
        CHECK(z != NULL && test_all_zero(z, size));
        test_fill(z, size, i);
        char *r = ta_tcache_realloc(tc, z, size * 3);
        CHECK(r != NULL);
        CHECK_EQ(test_verify(r, size, i), size);
        r = ta_tcache_realloc(tc, r, size / 2 + 1);
        CHECK(r != NULL);
        CHECK_EQ(test_verify(r, size / 2 + 1, i), size / 2 + 1);
        ta_tcache_free(tc, r);
    }
    errno = 0;
    CHECK(ta_tcache_calloc(tc, SIZE_MAX / 2, 3) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(ta_tcache_malloc(tc, SIZE_MAX) == NULL);
    CHECK_EQ(errno, ENOMEM);
    ta_tcache_destroy(tc);
}

/* Blocks allocated through one cache and freed through another are
 * handed out again without overlapping live blocks. */
static void test_cross_cache(void)
{
    ta_tcache_t *a = ta_tcache_create(NULL), *b = ta_tcache_create(NULL);
    CHECK(a && b);
    if (!a || !b)
        return;
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < N; i++)
            blocks[i] = ta_tcache_malloc(i % 2 ? a : b, size_for(i));
        for (size_t i = 0; i < N; i += 2)
            ta_tcache_free(a, blocks[i]); /* made by b */
        for (size_t i = 0; i < N; i += 2) {
            blocks[i] = ta_tcache_malloc(b, size_for(i));
            CHECK(blocks[i] != NULL);
        }
        for (size_t i = 0; i < N; i++)
            test_fill(blocks[i], size_for(i), i + 7);
        for (size_t i = 0; i < N; i++)
            CHECK_EQ(test_verify(blocks[i], size_for(i), i + 7), size_for(i));
        for (size_t i = 0; i < N; i++)
            ta_tcache_free(i % 3 ? b : a, blocks[i]);
        ta_tcache_flush(a);
    }
    ta_tcache_destroy(a);
    ta_tcache_destroy(b);
}

/* A cache reports the bytes it holds: blocks a fill brought in and
 * blocks freed into it, another automatic arena's small blocks waiting
 * for their batch included; a flush gives all of them back. */
static void test_cached_bytes(void)
{
    CHECK_EQ(ta_tcache_cached_bytes(NULL), 0);
    ta_tcache_t *tc = ta_tcache_create(ta_arena_get(0));
    ta_tcache_t *away = ta_tcache_create(ta_arena_get(1));
    CHECK(tc && away);
    if (!tc || !away)
        return;
    CHECK_EQ(ta_tcache_cached_bytes(tc), 0);
    void *p = ta_tcache_malloc(tc, 100);
    size_t cls = ta_malloc_usable_size(p); /* a small block's class size */
    size_t filled = ta_tcache_cached_bytes(tc);
    CHECK(filled % cls == 0);
    ta_tcache_free(tc, p);
    CHECK_EQ(ta_tcache_cached_bytes(tc), filled + cls);
    void *q = ta_tcache_malloc(away, 100);
    CHECK(q != NULL && ta_arena_of(q) == ta_arena_get(1));
    ta_tcache_free(tc, q);
    CHECK_EQ(ta_tcache_cached_bytes(tc), filled + 2 * cls);
    ta_tcache_flush(tc);
    CHECK_EQ(ta_tcache_cached_bytes(tc), 0);
    void *big = ta_tcache_malloc(tc, TEST_TCACHE_MAX);
    CHECK(big != NULL);
    size_t big_cls = ta_malloc_usable_size(big);
    ta_tcache_free(tc, big);
    CHECK_EQ(ta_tcache_cached_bytes(tc), big_cls);
    ta_tcache_destroy(tc);
    ta_tcache_destroy(away);
}

/* The small class (arenas.bin.<j>) whose regions are `size` bytes. */
static unsigned bin_of(size_t size)
{
    unsigned nbins = 0;
    size_t len = sizeof(nbins);
    CHECK_EQ(ta_ctl("arenas.nbins", &nbins, &len, NULL, 0), 0);
    for (unsigned j = 0; j < nbins; j++)
        if (test_ctl_size("arenas.bin.%u.size", j) == size)
            return j;
    CHECK(!"no small class of that size");
    return 0;
}

static void set_thread_arena(unsigned i)
{
    CHECK_EQ(ta_ctl("thread.arena", NULL, NULL, &i, sizeof i), 0);
}

static uint64_t thread_counter(const char *name)
{
    uint64_t v = 0;
    size_t len = sizeof v;
    CHECK_EQ(ta_ctl(name, &v, &len, NULL, 0), 0);
    return v;
}

/* Another arena's block that shares cache lines with its neighbours (a
 * size that is not a multiple of 64 bytes) is not reused by the thread
 * that frees it: its next malloc of the size must not hand the freed
 * neighbour of another thread's blocks back (false sharing). A block of
 * whole lines is, by a thread that allocates that size itself: it shares
 * no line with the owner's blocks (a thread that only frees it, a
 * consumer, sends it home). Either way the free counts for the thread,
 * and the block reaches its own arena's bin once the cache is flushed. */
static void check_remote_block_reuse(size_t size, bool allocates, bool reused)
{
    set_thread_arena(0);
    void *mine[40];
    for (int i = 0; i < 40; i++)
        mine[i] = ta_malloc(size);
    set_thread_arena(1);
    if (allocates)
        ta_free(ta_malloc(size));
    ta_arena_t *home = ta_arena_get(0);
    char curregs[48];
    snprintf(curregs, sizeof(curregs), "bins.%u.curregs", bin_of(size));
    uint64_t before = test_arena_stat(home, curregs);
    uint64_t freed = thread_counter("thread.deallocated");
    for (int i = 0; i < 40; i++)
        ta_free(mine[i]);
    CHECK_EQ(thread_counter("thread.deallocated") - freed, 40 * size);
    void *got[40];
    int same = 0;
    for (int i = 0; i < 40; i++) {
        got[i] = ta_malloc(size);
        for (int j = 0; j < 40; j++)
            same += got[i] == mine[j];
        CHECK_EQ(ta_arena_of(got[i]) == home, reused);
    }
    CHECK_EQ(same, reused ? 40 : 0);
    for (int i = 0; i < 40; i++)
        ta_free(got[i]);
    CHECK_EQ(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    CHECK_EQ(before - test_arena_stat(home, curregs), 40);
    set_thread_arena(0);
}

static void test_remote_block_reuse(void)
{
    check_remote_block_reuse(48, true, false);
    check_remote_block_reuse(16, true, false);
    check_remote_block_reuse(64, true, true);
    check_remote_block_reuse(320, true, true);
    check_remote_block_reuse(128, false, false);
}


/* A cache bound to a manual arena allocates there and, once flushed or
 * destroyed, has given every freed block back to the arena. */
static void test_manual_arena_cache(void)
{
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    ta_tcache_t *tc = ta_tcache_create(ar);
    CHECK(tc != NULL);
    if (!tc)
        return;
    CHECK(ta_tcache_arena(tc) == ar);
    for (size_t i = 0; i < N; i++) {
        blocks[i] = ta_tcache_malloc(tc, size_for(i));
        CHECK(blocks[i] != NULL);
        CHECK(ta_arena_of(blocks[i]) == ar);
    }
    for (size_t i = 0; i < N; i++)
        ta_tcache_free(tc, blocks[i]);
    ta_tcache_flush(tc);
    CHECK_EQ(test_arena_stat(ar, "small.allocated"), 0);
    CHECK_EQ(test_arena_stat(ar, "large.allocated"), 0);
    for (size_t i = 0; i < N; i++)
        blocks[i] = ta_tcache_malloc(tc, size_for(i));
    for (size_t i = 0; i < N; i++)
        ta_tcache_free(tc, blocks[i]);
    ta_tcache_destroy(tc);
    CHECK_EQ(test_arena_stat(ar, "small.allocated"), 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Many caches created and destroyed reuse their metadata. */
static void test_create_destroy_churn(void)
{
    for (int i = 0; i < 2000; i++) {
        ta_tcache_t *tc = ta_tcache_create(NULL);
        CHECK(tc != NULL);
        if (!tc)
            return;
        void *p = ta_tcache_malloc(tc, (size_t)(i % 500) + 1);
        CHECK(p != NULL);
        ta_tcache_free(tc, p);
        ta_tcache_destroy(tc);
    }
}

int main(void)
{
    RUN(test_alloc_free_flush);
    RUN(test_calloc_realloc);
    RUN(test_cross_cache);
    RUN(test_cached_bytes);
    RUN(test_remote_block_reuse);
    RUN(test_manual_arena_cache);
    RUN(test_create_destroy_churn);
    return TEST_EXIT();
}
