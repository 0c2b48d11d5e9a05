/* A whole-arena consistency check: every page run, slab, bin list, free
 * list, age list and huge mapping of an arena against the invariants the
 * headers document. The tests and fuzzers call it; the debug build also
 * runs it where a structure has just been rebuilt (flushes, purges). */
#ifndef TA_VERIFY_H
#define TA_VERIFY_H

#include "arena.h"
#include "debug.h"
#include "huge.h"

/* What the walk counted, for callers that check page statistics against
 * it (exact only while no other thread is inside the arena). */
typedef struct tai_census {
    uint64_t large_pages;       /* large runs */
    uint64_t slab_pages;        /* every slab, spares included */
    uint64_t spare_pages;       /* bins' spare (empty, parked) slabs */
    uint64_t free_pages[NFREE_STATES], free_runs[NFREE_STATES];
    uint64_t huge_live_pages;   /* usable pages of live huge blocks */
    uint64_t huge_cached_pages; /* dirty pages of cached huge mappings */
    uint64_t huge_tail_pages;   /* dirty pages past live huge blocks' ends */
} tai_census_t;

/* Takes every lock of the arena (bins, then the arena), walks it and
 * reports each broken invariant on stderr (the first few); returns how
 * many it found. census may be NULL. No lock of the arena may be held. */
HIDDEN unsigned tai_arena_verify(arena_t *a, tai_census_t *census);

/* True if h is on the huge list that starts at list. */
HIDDEN bool tai_huge_listed(const huge_t *list, const huge_t *h);

/* The debug build's whole-arena check at points where it is cheap enough. */
#define TA_VERIFY_ARENA(a) TA_ASSERT(tai_arena_verify((a), NULL) == 0)

#endif
