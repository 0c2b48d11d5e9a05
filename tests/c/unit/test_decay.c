/* Unit test of decay.c.
 * Decay: an arena with decay times 0 gives freed pages back to the OS at
 * once, one with -1 keeps them resident, and an explicit purge empties
 * the latter. Residency is read from the kernel with mincore(). */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "decay.h"
#include "harness.h"
#include "residency.h"

static const size_t sizes[] = {(size_t)64 << 10, (size_t)1 << 20, LARGE_MAX,
                               (size_t)6 << 20, (size_t)20 << 20};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Touches every page of a fresh block so all of it is resident. */
static char *touched_block(ta_arena_t *ar, size_t size)
{
    char *p = ta_arena_malloc(ar, size);
    CHECK(p != NULL);
    if (!p)
        return NULL;
    memset(p, 0x5c, size);
    CHECK_EQ(resident_pages(p, size), size / page_size());
    return p;
}

/* Decay 0: after free, none of the block's pages stay resident. */
static void test_decay_zero_purges_at_once(void)
{
    ta_arena_t *ar = arena_with_decay(0, 0);
    if (!ar)
        return;
    for (size_t i = 0; i < NSIZES; i++) {
        char *p = touched_block(ar, sizes[i]);
        if (!p)
            continue;
        ta_free(p);
        CHECK_EQ(resident_pages(p, sizes[i]), 0);
    }
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Decay -1: freed pages stay resident for reuse, and reusing them maps
 * nothing new. */
static void test_decay_never_keeps_pages(void)
{
    ta_arena_t *ar = arena_with_decay(-1, -1);
    if (!ar)
        return;
    for (size_t i = 0; i < NSIZES; i++) {
        if (sizes[i] > LARGE_MAX)
            continue; /* huge mappings may be unmapped outright */
        char *p = touched_block(ar, sizes[i]);
        if (!p)
            continue;
        ta_free(p);
        CHECK_EQ(resident_pages(p, sizes[i]), sizes[i] / page_size());
    }
    CHECK_EQ(ctr_get(&ar->a.stats.dirty_purged), 0);
    CHECK_EQ(ctr_get(&ar->a.stats.dirty_nmadvise), 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* A decay -1 arena whose blocks, one of each size, were all touched and
 * freed: every page is dirty and stays so until purged. */
static ta_arena_t *arena_of_freed_blocks(char *p[NSIZES])
{
    ta_arena_t *ar = arena_with_decay(-1, -1);
    if (!ar)
        return NULL;
    for (size_t i = 0; i < NSIZES; i++)
        p[i] = touched_block(ar, sizes[i]);
    for (size_t i = 0; i < NSIZES; i++)
        ta_free(p[i]);
    return ar;
}

/* An explicit purge of every dirty and muzzy page empties a -1 arena. */
static void test_explicit_purge(void)
{
    char *p[NSIZES];
    ta_arena_t *ar = arena_of_freed_blocks(p);
    if (!ar)
        return;
    tai_decay_run(&ar->a, true);
    for (size_t i = 0; i < NSIZES; i++)
        if (p[i])
            CHECK_EQ(resident_pages(p[i], sizes[i]), 0);
    CHECK(ctr_get(&ar->a.stats.dirty_purged) + ctr_get(&ar->a.stats.muzzy_purged) > 0);
    CHECK_EQ(ctr_get(&ar->a.stats.pdirty), 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* The same purge through the public control namespace, as a runtime
 * would ask for it. */
static void test_ctl_purge(void)
{
    char *p[NSIZES];
    ta_arena_t *ar = arena_of_freed_blocks(p);
    if (!ar)
        return;
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.purge", ta_arena_index(ar));
    CHECK_EQ(ta_ctl(name, NULL, NULL, NULL, 0), 0);
    for (size_t i = 0; i < NSIZES; i++)
        if (p[i])
            CHECK_EQ(resident_pages(p[i], sizes[i]), 0);
    CHECK(ta_ctl("arena.999999.purge", NULL, NULL, NULL, 0) != 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Purged pages read as zero when handed out again. */
static void test_purged_pages_reused_zeroed(void)
{
    ta_arena_t *ar = arena_with_decay(0, 0);
    if (!ar)
        return;
    for (int round = 0; round < 4; round++) {
        char *p = ta_arena_calloc(ar, 1, (size_t)1 << 20);
        CHECK(p != NULL);
        if (!p)
            return;
        CHECK(test_all_zero(p, (size_t)1 << 20));
        memset(p, 0xee, (size_t)1 << 20);
        ta_free(p);
    }
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Destroying an arena unmaps its memory: nothing of it stays resident. */
static void test_destroy_releases(void)
{
    ta_arena_t *ar = arena_with_decay(-1, -1);
    if (!ar)
        return;
    char *p = touched_block(ar, (size_t)1 << 20);
    CHECK_EQ(ta_arena_destroy(ar), 0);
    if (p)
        CHECK_EQ(resident_pages(p, (size_t)1 << 20), 0);
}

int main(void)
{
    RUN(test_decay_zero_purges_at_once);
    RUN(test_decay_never_keeps_pages);
    RUN(test_explicit_purge);
    RUN(test_ctl_purge);
    RUN(test_purged_pages_reused_zeroed);
    RUN(test_destroy_releases);
    return TEST_EXIT();
}
