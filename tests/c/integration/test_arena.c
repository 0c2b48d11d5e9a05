/* Manual arenas: create, allocate, look up, destroy; the error cases of
 * destroy; the active-bytes limit; and that create/destroy cycles give
 * their memory back. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "harness.h"
#include "tunalloc.h"

/* Blocks of every kind land in the arena they were asked from. */
static void test_create_alloc_destroy(void)
{
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    unsigned idx = ta_arena_index(ar);
    CHECK(ta_arena_get(idx) == ar);
    static const size_t sizes[] = {0, 1, 200, 3000, 20000, 500000, (size_t)5 << 20};
    void *p[7];
    for (int i = 0; i < 7; i++) {
        p[i] = ta_arena_malloc(ar, sizes[i]);
        CHECK(p[i] != NULL);
        CHECK(ta_arena_of(p[i]) == ar);
        CHECK(ta_owns(p[i]));
        CHECK(ta_malloc_usable_size(p[i]) >= sizes[i]);
    }
    char *z = ta_arena_calloc(ar, 100, 33);
    CHECK(z && test_all_zero(z, 3300));
    errno = 0;
    CHECK(ta_arena_calloc(ar, SIZE_MAX, 16) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(ta_arena_malloc(ar, SIZE_MAX) == NULL);
    CHECK_EQ(errno, ENOMEM);
    for (int i = 0; i < 3; i++)
        ta_free(p[i]);
    /* destroy releases the blocks still live */
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Automatic arenas are not the caller's to destroy. */
static void test_destroy_automatic_is_eperm(void)
{
    void *p = ta_malloc(10);
    ta_arena_t *mine = ta_arena_of(p);
    CHECK(mine != NULL);
    CHECK_EQ(ta_arena_destroy(mine), EPERM);
    CHECK(ta_arena_get(0) != NULL);
    CHECK_EQ(ta_arena_destroy(ta_arena_get(0)), EPERM);
    /* the block survived the refused destroy */
    CHECK_EQ(ta_check_ptr(p), 0);
    ta_free(p);
}

/* Lookups of things that are not arenas or blocks answer NULL. */
static void test_lookups(void)
{
    int local;
    CHECK(ta_arena_of(&local) == NULL);
    CHECK(ta_arena_of(NULL) == NULL);
    CHECK(ta_arena_get(1000000) == NULL);
    ta_arena_opts o;
    ta_arena_opts_init(&o);
    CHECK(o.dirty_decay_ms == TA_DECAY_DEFAULT);
    CHECK(o.muzzy_decay_ms == TA_DECAY_DEFAULT);
    CHECK_EQ(o.limit, 0);
}

/* Allocations that would take active bytes past the limit fail with
 * ENOMEM; after frees they succeed again. */
static void run_limit(size_t block)
{
    enum { MAXN = 16384 };
    static void *p[MAXN];
    const size_t limit = (size_t)4 << 20;
    ta_arena_opts o;
    ta_arena_opts_init(&o);
    o.limit = limit;
    ta_arena_t *ar = ta_arena_create(&o);
    CHECK(ar != NULL);
    if (!ar)
        return;
    size_t n = 0, used = 0;
    errno = 0;
    while (n < MAXN && (p[n] = ta_arena_malloc(ar, block)) != NULL)
        used += ta_malloc_usable_size(p[n++]);
    CHECK(n < MAXN);
    CHECK_EQ(errno, ENOMEM);
    CHECK(used <= limit);
    CHECK(used >= limit / 2);
    for (size_t i = 0; i < n; i += 2)
        ta_free(p[i]);
    for (size_t i = 0; i < n; i += 2) {
        p[i] = ta_arena_malloc(ar, block);
        CHECK(p[i] != NULL);
    }
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* The limit must hold for slab, large-run and big large requests alike. */
static void test_limit(void)
{
    run_limit(1000);
    run_limit(64 << 10);
    run_limit((size_t)1 << 20);
}

/* Destroyed arenas unmap their memory and their slots are reused, so
 * endless create/destroy cycles stay within a bounded footprint. */
static void test_create_destroy_cycles(void)
{
    size_t before = 0;
    for (int i = 0; i < 600; i++) {
        ta_arena_t *ar = ta_arena_create(NULL);
        CHECK(ar != NULL);
        if (!ar)
            return;
        for (int k = 0; k < 20; k++)
            CHECK(ta_arena_malloc(ar, (size_t)(k * 1000 + 1)) != NULL);
        CHECK(ta_arena_malloc(ar, (size_t)3 << 20) != NULL);
        CHECK_EQ(ta_arena_destroy(ar), 0);
        if (i == 50)
            before = test_vm_size();
    }
    CHECK(before > 0);
    CHECK(test_vm_size() <= before + ((size_t)64 << 20));
}

/* ta_arena_live counts what the arena handed out, cached frees included
 * until a flush, and refuses what is no arena. */
static void test_live(void)
{
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    size_t blocks = 1, bytes = 1;
    CHECK_EQ(ta_arena_live(ar, &blocks, &bytes), 0);
    CHECK_EQ(blocks, 0);
    CHECK_EQ(bytes, 0);
    static const size_t sizes[] = {100, 20000, (size_t)5 << 20};
    void *p[3];
    size_t want = 0;
    for (int i = 0; i < 3; i++) {
        p[i] = ta_arena_malloc(ar, sizes[i]);
        CHECK(p[i] != NULL);
        want += ta_malloc_usable_size(p[i]);
    }
    CHECK_EQ(ta_arena_live(ar, &blocks, &bytes), 0);
    CHECK_EQ(blocks, 3);
    CHECK_EQ(bytes, want);
    /* a manual arena's blocks skip caches bound to other arenas */
    size_t small = ta_malloc_usable_size(p[0]);
    ta_free(p[0]);
    CHECK_EQ(ta_arena_live(ar, &blocks, &bytes), 0);
    CHECK_EQ(blocks, 2);
    CHECK_EQ(bytes, want - small);
    /* a cache bound to the arena holds freed blocks, which stay counted
     * until it is flushed */
    ta_tcache_t *tc = ta_tcache_create(ar);
    CHECK(tc != NULL);
    void *q = ta_tcache_malloc(tc, 48);
    CHECK(q != NULL);
    ta_tcache_free(tc, q);
    CHECK_EQ(ta_arena_live(ar, &blocks, &bytes), 0);
    CHECK(blocks > 2);
    ta_tcache_destroy(tc);
    CHECK_EQ(ta_arena_live(ar, &blocks, &bytes), 0);
    CHECK_EQ(blocks, 2);
    ta_free(p[1]);
    ta_free(p[2]);
    CHECK_EQ(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    CHECK_EQ(ta_arena_live(ar, &blocks, &bytes), 0);
    CHECK_EQ(blocks, 0);
    CHECK_EQ(bytes, 0);
    CHECK_EQ(ta_arena_live(ar, NULL, &bytes), EINVAL);
    CHECK_EQ(ta_arena_live(NULL, &blocks, &bytes), EINVAL);
    CHECK_EQ(ta_arena_live(ta_arena_get(0), &blocks, &bytes), EPERM);
    CHECK_EQ(ta_arena_destroy(ar), 0);
    CHECK_EQ(ta_arena_live(ar, &blocks, &bytes), EINVAL);
    /* a destroyed arena cannot get a cache bound to it */
    errno = 0;
    CHECK(ta_tcache_create(ar) == NULL);
    CHECK_EQ(errno, EINVAL);
}

/* ta_arena_huge_pages marks the arena's segments, those it has and those
 * it maps later, and no other arena's. */
static void test_huge_pages(void)
{
    bool thp = access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
    ta_arena_t *ar = ta_arena_create(NULL), *other = ta_arena_create(NULL);
    CHECK(ar != NULL && other != NULL);
    if (!ar || !other)
        return;
    void *before = ta_arena_malloc(ar, 64), *elsewhere = ta_arena_malloc(other, 64);
    CHECK(before != NULL && elsewhere != NULL);
    CHECK_EQ(test_mapping_has_flag(before, " hg"), 0);
    CHECK_EQ(ta_arena_huge_pages(ar), thp ? 0 : EINVAL);
    if (thp) {
        CHECK_EQ(test_mapping_has_flag(before, " hg"), 1);
        /* 12 MiB of 64 KiB blocks: segments mapped after the call */
        void *later[192];
        for (int i = 0; i < 192; i++) {
            later[i] = ta_arena_malloc(ar, 65536);
            CHECK(later[i] != NULL);
        }
        CHECK_EQ(test_mapping_has_flag(later[191], " hg"), 1);
        for (int i = 0; i < 192; i++)
            ta_free(later[i]);
    }
    CHECK_EQ(test_mapping_has_flag(elsewhere, " hg"), 0);
    ta_free(before);
    ta_free(elsewhere);
    CHECK_EQ(ta_arena_huge_pages(NULL), EINVAL);
    CHECK_EQ(ta_arena_destroy(other), 0);
    CHECK_EQ(ta_arena_huge_pages(other), EINVAL);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    RUN(test_create_alloc_destroy);
    RUN(test_destroy_automatic_is_eperm);
    RUN(test_lookups);
    RUN(test_limit);
    RUN(test_create_destroy_cycles);
    RUN(test_live);
    RUN(test_huge_pages);
    return TEST_EXIT();
}
