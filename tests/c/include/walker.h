/* The invariant walker shared by the white-box tests and the fuzzers:
 * tai_arena_verify's structural walk of an arena (runs, slabs, bin and
 * free lists, huge mappings), plus the page statistics checked against
 * what it counted. Single-threaded callers only: another thread inside
 * the arena moves the statistics between the walk and the reads.
 * Include after harness.h. */
#ifndef TA_TEST_WALKER_H
#define TA_TEST_WALKER_H

#include "verify.h"

/* Every invariant of one arena; failures count as harness failures. */
static inline void check_arena(arena_t *a)
{
    tai_census_t c;
    CHECK_EQ(tai_arena_verify(a, &c), 0);
    /* a slab a bin keeps empty for reuse is not active but dirty, and so
     * are the written pages past a live huge block's end */
    CHECK_EQ(ctr_get(&a->stats.pactive),
             c.large_pages + (c.slab_pages - c.spare_pages) + c.huge_live_pages);
    CHECK_EQ(ctr_get(&a->stats.pdirty),
             c.free_pages[EXT_DIRTY] + c.spare_pages + c.huge_cached_pages +
                 c.huge_tail_pages);
    CHECK_EQ(ctr_get(&a->stats.pmuzzy), c.free_pages[EXT_MUZZY]);
    CHECK_EQ(ctr_get(&a->stats.retained), c.free_pages[EXT_CLEAN] << tai_lg_page);
}

/* Automatic arenas share the engine, so they are walked too. */
static inline void check_all_arenas(void)
{
    unsigned n = atomic_load(&tai_narenas_total);
    for (unsigned i = 0; i < n; i++) {
        arena_t *a = atomic_load(&tai_arenas[i]);
        if (a)
            check_arena(a);
    }
}

#endif
