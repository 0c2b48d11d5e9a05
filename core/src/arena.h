/* Arenas: independent heaps, each with its own lock, page runs, bins of
 * slabs, decay state and statistics. Threads are spread across the
 * automatic arenas; manual ones are created and destroyed on request. */
#ifndef TA_ARENA_H
#define TA_ARENA_H

#include "common.h"
#include "extent.h"
#include "lock.h"
#include "reclaim.h"
#include "sizeclass.h"

/* Free runs are listed by size: classes of page counts, exact up to 8. */
#define NPAGE_CLASSES 48

typedef struct bin_stats {
    counter_t nmalloc, ndalloc, nrequests;
    counter_t curregs, curslabs, nslabs;
    counter_t nfills, nflushes;
} bin_stats_t;

typedef struct bin {
    mutex_t lock;
    extent_t *cur;     /* slab that allocations come from first */
    extent_t *nonfull; /* other slabs with free regions */
    extent_t *spare;   /* empty slabs kept for the next fills, by next:
                          one, or in secure mode up to SECURE_SPARES
                          (each release and new slab costs two mprotect
                          calls for its guard page) */
    unsigned nspare;
    bin_stats_t stats;
} CACHE_ALIGNED bin_t;

typedef struct large_stats {
    counter_t nmalloc, ndalloc, nrequests, curlextents;
    counter_t nfills, nflushes; /* thread-cache traffic, cached classes only */
} large_stats_t;

typedef struct arena_stats {
    counter_t pactive, pdirty, pmuzzy;    /* pages */
    counter_t mapped, retained, metadata; /* bytes */
    counter_t large_allocated;            /* bytes, large and huge */
    counter_t dirty_npurge, dirty_nmadvise, dirty_purged;
    counter_t muzzy_npurge, muzzy_nmadvise, muzzy_purged;
    counter_t peak_active;                /* bytes */
    large_stats_t lstats[NLEXTENTS];
} arena_stats_t;

typedef struct arena {
    mutex_t lock; /* page runs, segments, large/huge, decay */
    unsigned index;
    bool manual;
    _Atomic int64_t dirty_decay_ms, muzzy_decay_ms;
    _Atomic size_t limit;     /* active bytes cap, 0 = none */
    _Atomic unsigned nthreads; /* threads and caches bound to it */
    uint64_t created_ms;
    uint64_t decay_ticks;
    segment_t *segments;
    segment_t *huge_live;
    segment_t *huge_cache;    /* freed huge mappings kept dirty, newest first */
    extent_t *avail[NFREE_STATES][NPAGE_CLASSES];
    uint64_t avail_mask[NFREE_STATES]; /* bit c: avail[state][c] is not empty */
    extent_t lru[2];          /* sentinels: dirty and muzzy runs by age */
    arena_stats_t stats;
    bin_t bins[NBINS];
} arena_t;

struct ta_arena {
    arena_t a;
};

extern HIDDEN _Atomic(arena_t *) ta_arenas[MAX_ARENAS];
extern HIDDEN _Atomic unsigned ta_narenas_total; /* slots ever used */
extern HIDDEN unsigned ta_narenas_auto;
extern HIDDEN _Atomic int64_t ta_default_dirty_decay_ms, ta_default_muzzy_decay_ms;

HIDDEN arena_t *ta_arena_get_or_create(unsigned index);
/* The least loaded automatic arena, for a new thread. */
HIDDEN arena_t *ta_arena_choose(void);
HIDDEN arena_t *ta_arena_new(bool manual, const ta_arena_opts *opts);
/* Frees every allocation of the arena; destroy also unmaps and retires it. */
HIDDEN int ta_arena_reset(arena_t *a);
HIDDEN int ta_arena_destroy_internal(arena_t *a);
HIDDEN bool ta_arena_over_limit(arena_t *a, size_t extra_pages);
HIDDEN void ta_arena_note_active(arena_t *a);
HIDDEN void ta_arena_prefork(void);
HIDDEN void ta_arena_postfork(bool child);

/* Small allocation straight from a bin (locks it). */
HIDDEN void *ta_bin_alloc(arena_t *a, unsigned cls, bool zero);
/* Takes up to n regions, stored downward from out[n - 1] in the order
 * taken (so a stack pops them in that order); returns how many, which
 * end up in out[n - got .. n - 1]. */
HIDDEN unsigned ta_bin_fill(arena_t *a, unsigned cls, void **out, unsigned n);
/* Returns the regions among items that belong to arena a, under one lock;
 * the others are moved to the front, and their count returned. */
HIDDEN unsigned ta_bin_flush(arena_t *a, unsigned cls, void **items, unsigned n);
HIDDEN void ta_bin_dalloc(arena_t *a, unsigned cls, void *p);
/* Gives the spare empty slabs of the bins back to the arena (decay). */
HIDDEN void ta_bin_release_empty(arena_t *a);

/* Large runs (SMALL_MAX, LARGE_MAX] and huge mappings above. */
HIDDEN void *ta_large_alloc(arena_t *a, size_t size, size_t align, bool zero);
/* Frees a large or huge block; returns its usable size, or 0 if p was
 * no live block's start (reported, nothing freed). */
HIDDEN size_t ta_large_dalloc(const block_ref_t *b);
HIDDEN size_t ta_large_usize(const block_ref_t *b);
/* Resizes without copying (in place, or by moving a huge mapping's
 * pages); the block's address, or NULL if it must be copied. */
HIDDEN void *ta_large_resize(const block_ref_t *b, size_t size);
/* Statistics of a large block coming or going; arena lock held. */
HIDDEN void ta_count_large(arena_t *a, size_t usize, bool alloc);
HIDDEN void *ta_huge_alloc(arena_t *a, size_t size, size_t align, bool zero);
HIDDEN void *ta_huge_resize(segment_t *seg, void *p, size_t size);
HIDDEN size_t ta_huge_dalloc(segment_t *seg, void *p);
/* Unmaps cached huge mappings freed before `before`; arena lock held,
 * dropped around munmap. */
HIDDEN void ta_huge_purge(arena_t *a, uint64_t before);

/* Decay: purge what has aged past the arena's decay times. */
HIDDEN void ta_decay_tick(arena_t *a);
HIDDEN void ta_decay_run(arena_t *a, bool force_all);
HIDDEN void ta_decay_after_free(arena_t *a);

#endif
