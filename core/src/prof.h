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
 * top vset[c] blocks of class c's real stack, poppable on the fast path
 * and paid for in advance from the countdown; pushes always miss (the
 * bins show no room), so a window never refills behind the profiler's
 * back. */
struct prof_tc {
    void **base[NCACHED_CLASSES];
    uint32_t ncached[NCACHED_CLASSES]; /* real level when the window was set */
    uint32_t cap[NCACHED_CLASSES];
    uint32_t vset[NCACHED_CLASSES];    /* window size when set */
    int64_t bytes_left; /* to the next sample, less the open windows' bytes */
    uint64_t rng;
    uint64_t gen; /* tai_prof_gen this countdown was drawn under */
};

extern HIDDEN atomic_bool tai_prof_on;
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
