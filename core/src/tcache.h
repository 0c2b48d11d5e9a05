/* Thread caches: a LIFO stack of free blocks per size class, filled and
 * flushed in batches, so the common malloc/free takes no lock. */
#ifndef TA_TCACHE_H
#define TA_TCACHE_H

#include "arena.h"

/* 32 bytes, two per cache line: everything a fast path touches. */
typedef struct cache_bin {
    uint32_t ncached; /* blocks on the stack */
    uint32_t cap;     /* stack size; 0 disables the fast path */
    void **stack;
    /* Written only by the cache's user, read by epoch refreshes in other
     * threads: relaxed atomic load+store, as cheap as a plain increment. */
    counter_t nalloc; /* requests served */
    /* Blocks filled in minus blocks flushed out (mod 2^64). Frees received
     * are ncached + nalloc - nrefill, so the free fast path counts none. */
    counter_t nrefill;
} cache_bin_t;

/* A batch of small blocks of other arenas freed into a cache, waiting
 * for a batched flush (tcache.c); never handed out again by that cache.
 * No counters: what its owner freed counts once it is flushed. */
typedef struct remote_batch {
    uint32_t ncached, cap;
    void **stack;
} remote_batch_t;

typedef struct tcache {
    cache_bin_t bins[NCACHED_CLASSES];
    arena_t *arena;
    /* The bin of the last pop, where the next free most likely goes
     * (ta_free): written by the cache's user on a hit, read by it only.
     * Beside arena, which the free reads too. */
    cache_bin_t *last_bin;
    /* frees pushed against the prediction until the next look */
    uint32_t free_ticks;
    /* whether ta_free has stopped predicting (free_map) */
    bool unpredicted;
    /* ta_free's map: tagmap's entries, each class's plus FREE_UNPREDICTED
     * while the cache does not predict that a free goes where the last
     * pop came from (tcache.c: tai_tcache_free_look) */
    uint8_t free_map[256];
    /* By page tag (tag.h): the class a free may push onto this cache
     * (only a class with slots); where it may not, TAGMAP_FOREIGN + the
     * class of an automatic arena's tag (other colours, whole-line
     * classes not allocated here), so a remote free reads its class from
     * the entry, and TAGMAP_NONE for the rest (manual arenas' tags but an
     * explicit cache's own, large, none): the free fast path's whole
     * ownership test, the entry being the bin index it pushes onto. All
     * TAGMAP_NONE in the empty cache, whose bins have no slots. */
    uint8_t tagmap[256];
    unsigned gc_next;        /* bin the next GC step looks at */
    /* whether ta_sized_* may take sizes at their word (alloc_sized.c): 0
     * until their first call looks at the options */
    uint8_t sized_mode;
    /* a thread cache: its classes start on small stacks (tcache.c) */
    bool small_first;
    /* a thread's cache: whole-line classes are in tagmap only while it
     * allocates them (tcache.c: set_whole_line) */
    bool gated;
    uint16_t nfill[NCACHED_CLASSES];      /* blocks per fill, adaptive */
    unsigned gc_ticks;
    /* looks since the cache stopped predicting, and pops at the last look */
    uint32_t free_looks;
    uint64_t free_pops;
    uint64_t gc_seen[NCACHED_CLASSES];    /* nalloc at the last GC visit */
    /* Part of nalloc already added to bin stats; guarded by that bin's
     * lock (the arena lock for large classes). */
    uint64_t merged_nalloc[NCACHED_CLASSES];
    struct tcache *next, *prev; /* registry of live caches */
    uint64_t uncached_allocated, uncached_deallocated; /* bytes outside cache bins */
    uint64_t peak, peak_base; /* thread.peak: high water of net bytes */
    uint64_t peak_fill; /* bytes filled since peak was last brought up to date */
    uint64_t fill_bytes; /* bytes filled, all classes */
    uint64_t fill_mark[NBINS]; /* fill_bytes after the class's last fill */
    uint8_t fill_streak[NBINS]; /* fills in a row that took most (next_fill) */
    uint16_t churn[NBINS]; /* a big class's misses and overflows since it grew (grow_cap) */
    remote_batch_t remote[NBINS];
    size_t mem_size;
    struct prof_tc *prof; /* non-NULL while the cache samples (prof.h) */
    /* prof.h's free side: a cache's (NULL until it first samples), or in
     * a free side (mem_size 0) the cache it belongs to */
    struct tcache *side;
    /* The remote batches' slots, then every class's first stack, then
     * the full stacks (tcache.c: tai_tcache_new). */
    void *slots[];
} tcache_t;
/* The header fits the smallest page, which a new cache's creation and a
 * thread's first requests then write alone of its header's pages; the
 * base gives a cache page-aligned memory. */
_Static_assert(sizeof(tcache_t) <= (1u << LG_MIN_PAGE), "a cache's header fills one page");

/* The tag map's offset for blocks a cache does not take (tagmap), and
 * its entry for tags that name no cached class. An entry names a class
 * as entry % TAGMAP_FOREIGN, TAGMAP_NONE's naming none (no small class,
 * so no remote batch takes it either). Read as a bin index
 * (cache_push_last), a foreign entry or TAGMAP_NONE names a slot inside
 * the cache past its bins: not a bin of any cache, so last_bin never
 * equals it. 0 names class 0, so no map in use is left zeroed: the
 * empty cache's is all TAGMAP_NONE (tcache.c), a free side's is its
 * cache's, copied before the side is used (prof.c). */
#define TAGMAP_FOREIGN 64
#define TAGMAP_NONE (TAGMAP_FOREIGN - 1)
_Static_assert(TAGMAP_NONE >= NCACHED_CLASSES, "TAGMAP_NONE must name no bin");
_Static_assert(TAGMAP_NONE % TAGMAP_FOREIGN >= NBINS, "TAGMAP_NONE must name no small class");
_Static_assert((TAGMAP_FOREIGN + NCACHED_CLASSES) * sizeof(cache_bin_t) <= sizeof(tcache_t),
               "tag map entries index inside the cache");
/* A class's free_map entry while the cache does not predict: its bin
 * offset (entry * sizeof(cache_bin_t)) lies past every bin and every
 * other entry's, and last_bin names only one of the cache's own bins
 * (or is NULL: the empty cache, a free side), so never matches it; the
 * offset modulo FREE_OFF_MOD is the class's bin's. */
#define FREE_UNPREDICTED 128
#define FREE_OFF_MOD (FREE_UNPREDICTED * sizeof(cache_bin_t))
_Static_assert(TAGMAP_FOREIGN + NCACHED_CLASSES <= FREE_UNPREDICTED &&
                   FREE_UNPREDICTED + NCACHED_CLASSES <= 256,
               "unpredicted entries stand apart and fit a byte");

struct ta_tcache {
    tcache_t t;
};

/* A cache with no slots: every operation takes the slow path. */
extern HIDDEN tcache_t tai_tcache_empty;

/* Explicit caches hold this many times a thread cache's blocks. */
#define EXPLICIT_CACHE_SCALE 4
/* A cache with scale times the thread cache's slots per class. */
HIDDEN tcache_t *tai_tcache_new(arena_t *a, unsigned scale);
HIDDEN void tai_tcache_delete(tcache_t *tc);
HIDDEN void tai_tcache_flush_all(tcache_t *tc);
/* Slow paths of the inline fast paths in alloc*.c. */
HIDDEN void *tai_tcache_alloc_slow(tcache_t *tc, unsigned cls, bool zero);
/* The miss path proper: fills the class's empty stack and takes a block. */
HIDDEN void *tai_tcache_refill(tcache_t *tc, unsigned cls, bool zero);
HIDDEN void tai_tcache_dalloc_slow(tcache_t *tc, void *p, unsigned cls);
/* Every FREE_WINDOW frees ta_free pushes where last_bin did not say:
 * whether the cache goes on predicting (free_map), and while it does
 * not, a window of predicting at every FREE_RETRY looks. */
#define FREE_WINDOW 4096
#define FREE_RETRY 32
HIDDEN void tai_tcache_free_look(tcache_t *tc);
/* Moves every class to its full stack (before the profiler's windows). */
HIDDEN void tai_tcache_full_stacks(tcache_t *tc);
/* Frees a cacheable block of another arena without caching it. */
HIDDEN void tai_tcache_dalloc_remote(tcache_t *tc, const block_ref_t *b, unsigned cls);
/* Returns a full batch of remote frees to the blocks' bins. */
HIDDEN void tai_tcache_flush_remote(tcache_t *tc, unsigned cls);
/* Bytes the cache's owner allocated and freed (thread.allocated). */
HIDDEN uint64_t tai_tcache_allocated(const tcache_t *tc);
HIDDEN uint64_t tai_tcache_deallocated(const tcache_t *tc);
/* Bytes of the blocks the cache holds, its own arena's and others'. */
HIDDEN size_t tai_tcache_cached(const tcache_t *tc);
HIDDEN void tai_tcache_update_peak(tcache_t *tc);
/* Restarts thread.peak from the current level. */
HIDDEN void tai_tcache_reset_peak(tcache_t *tc);
/* Adds the cache's unmerged request counts to its arena's bin stats. */
HIDDEN void tai_tcache_merge_stats(tcache_t *tc);
/* Merges every live cache's counts (an epoch refresh). */
HIDDEN void tai_tcache_merge_all_stats(void);
/* Points a cache at another arena after flushing it. */
HIDDEN void tai_tcache_rebind(tcache_t *tc, arena_t *a);
HIDDEN void tai_tcache_prefork(void);
HIDDEN void tai_tcache_postfork(bool child);

#endif
