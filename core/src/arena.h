/* Arenas: independent heaps, each with its own lock, page runs, bins of
 * slabs, decay state and statistics. Threads are spread across the
 * automatic arenas; manual ones are created and destroyed on request. */
#ifndef TA_ARENA_H
#define TA_ARENA_H

#include "common.h"
#include "extent.h"
#include "lock.h"
#include "opts.h"
#include "sizeclass.h"

/* Free runs are listed by size: classes of page counts, exact up to 8,
 * then four per doubling (extent.c: page_class), up to the class of a
 * whole segment's pages, the longest run: 36 with 4 KiB pages. No more,
 * as the lists sit in the arena's first page (arena_t). */
#define NPAGE_CLASSES (4 * (LG_SEGMENT - LG_MIN_PAGE) - 4)

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
    counter_t peak_active;                /* bytes */
    /* Written only when the arena purges: past the counters every arena
     * in use writes, which end its first two pages (arena_t). */
    counter_t dirty_npurge, dirty_nmadvise, dirty_purged;
    counter_t muzzy_npurge, muzzy_nmadvise, muzzy_purged;
    large_stats_t lstats[NLEXTENTS];
} arena_stats_t;

typedef struct arena {
    mutex_t lock; /* page runs, segments, large/huge, decay */
    unsigned index;
    bool manual;
    bool huge_pages;          /* its segments ask for THP (lock held) */
    _Atomic int64_t dirty_decay_ms, muzzy_decay_ms;
    _Atomic size_t limit;     /* active bytes cap, 0 = none */
    _Atomic unsigned nthreads; /* threads and caches bound to it */
    uint64_t created_ms;
    /* What decay must answer, reported by bins, large runs and huge
     * blocks (arena_report) under the lock; they never run decay
     * themselves, the layer above them does (tai_decay_poll). */
    uint64_t decay_ticks;     /* slow-path events since the arena began */
    _Atomic bool decay_due;   /* set by a report, cleared by the decay
                                 that answers it */
    _Atomic bool allocating;  /* blocks were asked of it since the
                                 automatic arenas' bound last looked
                                 (arena_note_alloc) */
    _Atomic uint64_t quiet_ms; /* when that bound last found it so */
    bool took_fresh;          /* pages not resident were taken since decay
                                 last answered (arena_report_fresh) */
    segment_t *segments;
    struct huge *huge_live;   /* live huge blocks (huge.h) */
    struct huge *huge_cache;  /* freed huge mappings kept dirty, newest first */
    uint64_t huge_tail_pages; /* of pdirty: written pages past live huge
                                 blocks' ends (huge.h: touched) */
    extent_t *avail[NFREE_STATES][NPAGE_CLASSES];
    uint64_t avail_mask[NFREE_STATES]; /* bit c: avail[state][c] is not empty */
    extent_t lru[2];          /* sentinels: dirty and muzzy runs by age */
    /* Before the stats: creation writes every bin's lock, and the
     * header, the bins and the counters every arena in use writes (up to
     * peak_active) fill its first two pages, all a fresh arena touches
     * (three when the bins ended in the third: prodcons's two arenas);
     * the purge counters and the large classes' stats after them are
     * written only once the arena purges or uses those classes. */
    bin_t bins[NBINS];
    arena_stats_t stats;
} arena_t;
/* With the smallest page (the struct is page-aligned: base.c). */
_Static_assert(offsetof(arena_t, stats.dirty_npurge) <= (2u << LG_MIN_PAGE),
               "a fresh arena's header, bins and running counters fill two pages");

struct ta_arena {
    arena_t a;
};

extern HIDDEN _Atomic(arena_t *) tai_arenas[MAX_ARENAS];
extern HIDDEN _Atomic unsigned tai_narenas_total; /* slots ever used */
extern HIDDEN unsigned tai_narenas_auto;
extern HIDDEN _Atomic int64_t tai_default_dirty_decay_ms, tai_default_muzzy_decay_ms;

/* Decay answers every DECAY_TICKS-th slow-path event: often enough that
 * aged pages go within a few calls, rarely enough that its walk costs
 * nothing per call. */
#define DECAY_TICKS 16

/* The structures' one report to decay, arena lock held: a slow-path
 * event (a run taken, resized or freed, a huge mapping cached); freed
 * says a run went back dirty. Decay becomes due every DECAY_TICKS-th
 * event, or at once for a dirty run when the dirty decay time is 0. */
static inline void arena_report(arena_t *a, bool freed)
{
    if ((freed && atomic_load_explicit(&a->dirty_decay_ms, memory_order_relaxed) == 0) ||
        ++a->decay_ticks % DECAY_TICKS == 0)
        atomic_store_explicit(&a->decay_due, true, memory_order_relaxed);
}

/* Dirty pages are always allowed this many, however small the arena. */
#define DIRTY_FLOOR_PAGES 1024
/* ... and the automatic arenas together this many (tai_arena_auto_excess):
 * a quarter, since each of them has its own floor too. */
#define AUTO_DIRTY_FLOOR_PAGES (DIRTY_FLOOR_PAGES / 4)
/* An arena with threads bound counts as idle for the joint bound once
 * this long without an allocation (tai_arena_auto_idle): at least a
 * millisecond, the clock's step. Long enough that an arena in use is
 * asked for blocks meanwhile (a thread cache fills every few dozen
 * allocations); short enough that the arena a live set has just left is
 * found idle before the other has grown much (10 ms left
 * bench/passing's peak 3 MiB higher). */
#define AUTO_IDLE_MS 2

/* The dirty pages kept beyond a peak of active pages once pages that are
 * not resident are taken: opt.dirty_max_pct of that peak, plus a floor
 * (decay.c). */
static inline uint64_t dirty_allowance(uint64_t peak, uint64_t floor)
{
    return peak * tai_opt.dirty_max_pct / 100 + floor;
}

/* The most active plus dirty pages an arena keeps once it takes pages
 * that are not resident. */
static inline uint64_t arena_resident_cap(const arena_t *a)
{
    uint64_t peak = ctr_get(&a->stats.peak_active) >> tai_lg_page;
    return peak + dirty_allowance(peak, DIRTY_FLOOR_PAGES);
}

/* What active plus dirty pages past that bound are purged back to, for
 * a peak and a floor: a quarter of the allowance below the bound, so a
 * churn that stays at the bound purges in batches, not at every page it
 * takes. */
static inline uint64_t dirty_purge_target(uint64_t peak, uint64_t floor)
{
    uint64_t allowance = dirty_allowance(peak, floor);
    return peak + allowance - allowance / 4;
}

/* The same bound for the automatic arenas together, with
 * AUTO_DIRTY_FLOOR_PAGES: by how many pages their active and dirty pages
 * exceed it for the most pages they had active together (as last seen
 * here, which raises it), 0 if they do not; with batch, the pages to
 * purge to get back to dirty_purge_target. At most the dirty pages of
 * the arenas other than self: an arena's own are its own bound's (with
 * its bigger floor; a program on one arena purged twice as much under
 * this one, realloc 8 % slower). Arenas with decay off count for
 * nothing. Reads the arenas' counters without their locks. */
HIDDEN uint64_t tai_arena_auto_excess(const arena_t *self, bool batch);
/* Whether automatic arena a is idle for that bound at time now (ms): no
 * thread is bound to it, or it was asked for no blocks in the
 * AUTO_IDLE_MS since the bound last found it asked (arena_note_alloc).
 * Only idle arenas' dirty pages count and go for that bound: the arena a
 * live set moved away from is idle, while one whose threads allocate
 * takes its dirty pages back next, and its own bound holds them. */
HIDDEN bool tai_arena_auto_idle(arena_t *a, uint64_t now);

/* Whether the arena is at its peak of active pages, within
 * AUTO_DIRTY_FLOOR_PAGES (its pages being taken may not count yet): the
 * one case the automatic arenas' joint bound is for, the live set moving
 * here from another arena. An arena that takes new pages below its peak
 * churns, and the pages the others hold dirty are those they reuse next. */
static inline bool arena_at_peak(const arena_t *a)
{
    return ctr_get(&a->stats.pactive) + AUTO_DIRTY_FLOOR_PAGES >=
           ctr_get(&a->stats.peak_active) >> tai_lg_page;
}

/* The structures' report that they took pages that are not resident
 * because no dirty page of the arena could stand for them (a clean or
 * muzzy run, which a new segment's pages are too, or the part of a huge
 * block the cache did not fill), arena lock held: if active and dirty
 * pages are past arena_resident_cap, or it is at its peak and the
 * automatic arenas together are past theirs, decay then purges dirty
 * ones back to dirty_purge_target, so the resident set grows only once
 * the kept pages are within that bound (decay.c). Below it no decay is
 * made due: a threaded churn takes clean pages often, and each decay run
 * takes the arena lock. */
static inline void arena_report_fresh(arena_t *a)
{
    a->took_fresh = true;
    if (ctr_get(&a->stats.pactive) + ctr_get(&a->stats.pdirty) > arena_resident_cap(a) ||
        (!a->manual && arena_at_peak(a) && tai_arena_auto_excess(a, false)))
        atomic_store_explicit(&a->decay_due, true, memory_order_relaxed);
}

/* After a call that asked the arena for blocks, no lock held: an arena
 * asked for none takes none of its dirty pages back, so the automatic
 * arenas' joint bound may purge them (tai_arena_auto_idle). A load of
 * the line tai_decay_poll reads too; a store only when the bound looked
 * since. */
static inline void arena_note_alloc(arena_t *a)
{
    if (!atomic_load_explicit(&a->allocating, memory_order_relaxed))
        atomic_store_explicit(&a->allocating, true, memory_order_relaxed);
}

HIDDEN arena_t *tai_arena_get_or_create(unsigned index);
/* The least loaded automatic arena, for a new thread, with the thread
 * already counted on it: the caller drops that count once bound. */
HIDDEN arena_t *tai_arena_choose(void);
HIDDEN arena_t *tai_arena_new(bool manual, const ta_arena_opts *opts);
/* Called once a reset or destroy has discarded an arena's blocks, before
 * a destroyed arena's memory goes: the one who keeps blocks of it
 * elsewhere (the profiler: its sampled blocks live in its own arena)
 * frees them. Set during initialisation by that layer, which sits above
 * the arenas and is not called from here by name; NULL: nobody. */
extern HIDDEN void (*tai_arena_discarded)(arena_t *a);
/* Frees every allocation of the arena; destroy also unmaps and retires it. */
HIDDEN int tai_arena_reset(arena_t *a);
HIDDEN int tai_arena_destroy_internal(arena_t *a);
HIDDEN bool tai_arena_over_limit(arena_t *a, size_t extra_pages);
HIDDEN void tai_arena_note_active(arena_t *a);
/* The counters of a large or huge block coming or going; lock held. */
HIDDEN void tai_arena_count_large(arena_t *a, size_t usize, bool alloc);
HIDDEN void tai_arena_prefork(void);
HIDDEN void tai_arena_postfork(bool child);

#endif
