/* Sampled heap profiling. Off, it costs the fast paths nothing: a cache
 * starts sampling at its next miss by hiding its stacks behind windows
 * (struct prof_tc) and stops the same way.
 * Sampled blocks come from the profiler's own manual arena, whose pages
 * carry manual tags, so their frees take the slow path without a test on
 * the fast one. */
#ifndef TA_PROF_H
#define TA_PROF_H

#include "tcache.h"

/* A sampling cache's real stacks while its bins show only a window: the
 * top blocks of class c's real stack (bins[c].ncached of them, above the
 * below[c] it hides), poppable on the fast path and paid for in advance
 * from the countdown. Pushes always miss (the bins show no room), so a
 * window never grows behind the profiler's back: the free slow paths
 * grow it (prof_window_push) while the countdown can pay. */
struct prof_tc {
    void **base[NCACHED_CLASSES];
    uint32_t below[NCACHED_CLASSES]; /* real blocks under the window */
    uint32_t cap[NCACHED_CLASSES];
    int64_t bytes_left; /* to the next sample, less the open windows' bytes */
    uint64_t rng;
    uint64_t gen; /* tai_prof_gen this countdown was drawn under */
};

extern HIDDEN atomic_bool tai_prof_on;
/* The profiler's manual arena, where sampled blocks live (NULL until the
 * first sample). */
extern HIDDEN _Atomic(arena_t *) tai_prof_arena;
/* Set once profiling first starts: from then on sampled blocks may be
 * live, and slow frees look for them. */
extern HIDDEN atomic_bool tai_prof_engaged;

/* Whether a cache's slow path must go through the profiler. */
static inline bool prof_touches(const tcache_t *tc)
{
    return unlikely(tc->prof != NULL) ||
           unlikely(atomic_load_explicit(&tai_prof_on, memory_order_relaxed));
}

/* Applies opt.prof and opt.prof_sample_bytes; during initialisation. */
HIDDEN void tai_prof_boot(void);
/* The cache-miss path of a cache the profiler touches. */
HIDDEN void *tai_prof_tcache_alloc(tcache_t *tc, unsigned cls, bool zero);
/* An uncached (large) allocation through cache tc, sampled or not. */
HIDDEN void *tai_prof_large_alloc(tcache_t *tc, size_t size, bool zero);
/* Class c's window takes p, a block of the cache's arena, as its next
 * block when the countdown can pay for handing it out again (a pop takes
 * it back first, as from any stack) and the real stack has room. A
 * change of prof.active or the rate is seen at the cache's next miss, as
 * for pops: until then the window goes on borrowing from the countdown
 * it has, which sampling only settles. */
static ALWAYS_INLINE bool prof_window_push(tcache_t *tc, struct prof_tc *pt, void *p,
                                           unsigned c)
{
    cache_bin_t *cb = &tc->bins[c];
    int64_t size = (int64_t)tai_class_size[c];
    if (likely(pt->bytes_left > size && pt->below[c] + cb->ncached < pt->cap[c])) {
        cb->stack[cb->ncached++] = p;
        pt->bytes_left -= size;
        return true;
    }
    return false;
}

/* The first thing the free slow paths do for a sampling cache (tc->prof
 * set), inline, so a free that missed only because the cache samples
 * costs a few instructions more than a fast one: a block (p not NULL,
 * verified in checked mode) of tc's own arena joins its class's window
 * (true: done); anything else (false) goes on to the usual slow path,
 * where tai_prof_dalloc sees it. */
static ALWAYS_INLINE bool prof_free(tcache_t *tc, void *p)
{
    const map_head_t *h = head_of(p);
    unsigned tag = page_tag(h, p);
    if (unlikely(h->arena != tc->arena))
        return false;
    if (unlikely(tag >= NCACHED_CLASSES)) {
        /* an explicit cache's own manual arena, never the profiler's */
        if (!tag_is_manual(tag) ||
            h->arena == atomic_load_explicit(&tai_prof_arena, memory_order_relaxed))
            return false;
        tag = tag_class(tag);
    }
    return prof_window_push(tc, tc->prof, p, tag);
}

/* A slow free: a sampled block leaves the profile (false: free it as
 * usual); a sampling cache's own block is cached (true: done). */
HIDDEN bool tai_prof_dalloc(tcache_t *tc, void *p, unsigned tag);
/* Puts a sampling cache's stacks back, before anything walks them. */
HIDDEN void tai_prof_tcache_restore(tcache_t *tc);
/* Blocks a cache holds in class c, hidden or not. */
HIDDEN uint32_t tai_prof_ncached(const tcache_t *tc, unsigned c);
/* Adds the live sampled blocks made through caches of arena a, and their
 * bytes, to the arena's own counts (ta_arena_live). */
HIDDEN void tai_prof_arena_live(const arena_t *a, uint64_t *blocks, uint64_t *bytes);
HIDDEN void tai_prof_prefork(void);
HIDDEN void tai_prof_postfork(bool child);

#endif
