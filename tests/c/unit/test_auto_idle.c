/* Unit test of arena.c (tai_arena_auto_idle).
 * Which automatic arenas the joint dirty bound may purge: one with no
 * thread bound to it, or one asked for no blocks for AUTO_IDLE_MS since
 * the bound last found it asked (the arena a live set moved away from).
 * An arena whose threads allocate takes its dirty pages back next (in
 * the soak, purging them was half of all it purged,
 * bench/results/issue14.md). The clock is passed in, so the test does
 * not depend on timing; test_dirty_auto_mt checks the purges themselves. */
#include "arena.h"
#include "harness.h"

static void test_idle(void)
{
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    arena_t *a = &ar->a;

    /* no thread bound: idle, whatever it was asked */
    CHECK_EQ(atomic_load(&a->nthreads), 0);
    arena_note_alloc(a);
    CHECK(tai_arena_auto_idle(a, 1000));

    /* a thread bound and asking for blocks: in use until it has asked
     * for none for AUTO_IDLE_MS since the bound found it asking */
    atomic_store(&a->nthreads, 1);
    CHECK(!tai_arena_auto_idle(a, 1000));
    CHECK(!atomic_load(&a->allocating));
    CHECK(!tai_arena_auto_idle(a, 1000 + AUTO_IDLE_MS - 1));
    CHECK(tai_arena_auto_idle(a, 1000 + AUTO_IDLE_MS));
    CHECK(tai_arena_auto_idle(a, 1000 + AUTO_IDLE_MS + 5));

    /* asked again: in use again, from that look on */
    arena_note_alloc(a);
    CHECK(atomic_load(&a->allocating));
    CHECK(!tai_arena_auto_idle(a, 2000));
    /* a caller whose clock read came before another's store: in use
     * (the difference would wrap) */
    CHECK(!tai_arena_auto_idle(a, 1999));
    CHECK(tai_arena_auto_idle(a, 2000 + AUTO_IDLE_MS));

    /* a block asked of it through the public API marks it too */
    void *p = ta_arena_malloc(ar, 64);
    CHECK(p != NULL);
    CHECK(!tai_arena_auto_idle(a, 3000));
    ta_free(p);

    atomic_store(&a->nthreads, 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    RUN(test_idle);
    return TEST_EXIT();
}
