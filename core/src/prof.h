/* Sampled heap profiling. Off, it costs the fast paths nothing: a cache
 * starts sampling at its next miss by hiding its stacks behind windows
 * (struct prof_tc) and a free side, and stops the same way.
 * Sampled blocks come from the profiler's own manual arena, whose pages
 * carry manual tags, so their frees take the slow path without a test on
 * the fast one. */
#ifndef TA_PROF_H
#define TA_PROF_H

#include "tcache_fast.h"

/* A sampling cache's real stacks while its bins show only a window: the
 * top blocks of class c's real stack (bins[c].ncached of them, above the
 * below[c] it hides), poppable on the fast path and paid for in advance
 * from the countdown. The bins show no room, so pushes onto the cache
 * itself miss; the free fast paths push onto its free side instead
 * (tc->side, see prof_free_cache), a tcache_t whose class-c stack is the
 * free part of the real stack above the window, a few slots of it. Pops
 * never see the free side: its blocks join the window when it is full
 * (paid for from the countdown then) or the real stack when the window
 * is settled, and only a window paid for hands them out, so a malloc/free
 * loop reaches the countdown as often as any other allocations do. */
struct prof_tc {
    /* Bytes of the countdown the counting pops may take, paid for in
     * advance (all of it but a byte, at each of their misses) and given
     * back by settle_open. One for all classes: a budget per class would
     * leave most of the countdown with the classes not in use, and the
     * busy ones would miss often. First in the struct, so the pop reaches
     * it with no offset. */
    int64_t budget;
    void **base[NCACHED_CLASSES];
    uint32_t below[NCACHED_CLASSES]; /* real blocks under the window */
    uint32_t cap[NCACHED_CLASSES];
    int64_t bytes_left; /* to the next sample, less the open windows' and the budget's bytes */
    uint64_t open; /* bit c: class c's window holds bytes of the countdown */
    uint64_t rng;
    uint64_t gen; /* tai_prof_gen this countdown was drawn under */
    /* Set by a counting entry point's miss (prof_count_miss): from then on
     * a class's window, when it opens, is empty and its free side is the
     * whole real stack, which only counting pops take from. */
    bool counted;
};

/* A cache's free side and its sampling state, made together when it first
 * samples and kept as long as the cache (its state is unused while it
 * does not sample): the counting pop finds the free side at a constant
 * distance from the state, without a load. */
struct prof_mem {
    struct prof_tc pt;
    tcache_t side; /* last: a tcache_t ends in a flexible array (empty here) */
};

static ALWAYS_INLINE struct prof_mem *prof_mem_of(tcache_t *side)
{
    return (struct prof_mem *)(void *)((char *)side - offsetof(struct prof_mem, side));
}

/* The free side of the cache whose sampling state is pt (tc->side). */
static ALWAYS_INLINE tcache_t *prof_side_of(struct prof_tc *pt)
{
    return &((struct prof_mem *)(void *)pt)->side;
}

_Static_assert(NCACHED_CLASSES <= 64, "struct prof_tc's open mask has a bit per class");

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
/* Where the free fast paths of cache tc push: its free side while it
 * samples, else tc itself. Each fast path keeps this in a pointer of its
 * own (the thread's tai_tls_free, a hook's free_cache), which the free
 * slow paths bring up to date: a pointer left behind only costs misses,
 * as a sampling cache shows no room and a free side not in use shows
 * none either. */
static inline tcache_t *prof_free_cache(tcache_t *tc)
{
    return unlikely(tc->prof != NULL) ? tc->side : tc;
}

/* *b -= bytes; whether *b is still not negative. On x86 one subtraction
 * on memory, whose sign flag the branch reads (compilers load, subtract
 * and store). */
static ALWAYS_INLINE bool budget_take(int64_t *b, int64_t bytes)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
    bool neg;
    __asm__("subq %2, %0" : "+m"(*b), "=@ccs"(neg) : "r"(bytes));
    return !neg;
#else
    return (*b -= bytes) >= 0;
#endif
}

/* The pop of an entry point that counts bytes itself (ta_hook_count_*):
 * installed by a runtime only while it samples, so a cache that does not
 * sample pops as cache_pop does. A sampling cache's pops come from the
 * top of its free side, where its frees go too, so a block freed is the
 * next one taken, as in a cache that does not sample. Each takes its
 * class's bytes from the budget paid for in advance (a subtraction on
 * memory and a sign test), and the pop that would take it below zero
 * misses instead, leaving it as it was; nalloc counts as in cache_pop
 * (thread.allocated reads it). */
static ALWAYS_INLINE bool prof_count_pop(tcache_t *tc, size_t size, void **out)
{
    struct prof_tc *pt = tc->prof;
    if (unlikely(pt == NULL))
        return cache_pop(tc, size, out);
    if (likely(size <= TCACHE_MAX)) {
        size_t c = size_class(size), n;
        cache_bin_t *sb = &prof_side_of(pt)->bins[c];
        if (likely(!__builtin_sub_overflow((size_t)sb->ncached, 1, &n))) {
            int64_t bytes = tai_class_size[c];
            if (likely(budget_take(&pt->budget, bytes))) {
                ctr_inc_own(&tc->bins[c].nalloc);
                sb->ncached = (uint32_t)n;
                *out = sb->stack[n];
                return true;
            }
            pt->budget += bytes;
        }
    }
    return false;
}

/* A counting entry point's miss: the cache's windows go over to counted
 * pops as each class next opens one. */
static inline void prof_count_miss(tcache_t *tc)
{
    if (tc->prof)
        tc->prof->counted = true;
}

/* The cache a free fast path's pointer fp belongs to. */
static inline tcache_t *prof_cache_of(tcache_t *fp)
{
    return unlikely(!fp->mem_size && fp->side) ? fp->side : fp;
}

/* p (of class c and tc's arena) onto tc's full free side, after its
 * blocks joined the window; false when the countdown cannot pay. */
HIDDEN bool tai_prof_side_full(tcache_t *tc, void *p, unsigned c);

/* The first thing the free slow paths do for a sampling cache (tc->prof
 * set), inline, so a free that missed only because its fast path's
 * pointer still named the cache costs a few instructions more than a
 * fast one: a block (p not NULL, verified in checked mode) of tc's own
 * arena goes onto its class's free side, whose blocks join the window
 * first if it is full (true: done); anything else (false) goes on to the
 * usual slow path, where tai_prof_dalloc sees it. */
static ALWAYS_INLINE bool prof_free(tcache_t *tc, void *p)
{
    const map_head_t *h = head_of(p);
    unsigned tag = tag_auto_class(page_tag(h, p));
    if (unlikely(h->arena != tc->arena))
        return false;
    if (unlikely(tag >= NCACHED_CLASSES)) {
        /* an explicit cache's own manual arena, never the profiler's */
        if (!tag_is_manual(tag) ||
            h->arena == atomic_load_explicit(&tai_prof_arena, memory_order_relaxed))
            return false;
        tag = tag_class(tag);
    }
    return cache_push(tc->side, p, tag) || tai_prof_side_full(tc, p, tag);
}

/* A slow free: a sampled block leaves the profile (false: free it as
 * usual); a sampling cache's own block is cached (true: done). */
HIDDEN bool tai_prof_dalloc(tcache_t *tc, void *p, unsigned tag);
/* Puts a sampling cache's stacks back, its free side's blocks on them,
 * before anything walks them. */
HIDDEN void tai_prof_tcache_restore(tcache_t *tc);
/* Frees a restored cache's free side, as the cache goes. */
HIDDEN void tai_prof_tcache_delete(tcache_t *tc);
/* Blocks a cache holds in class c, hidden or not. */
HIDDEN uint32_t tai_prof_ncached(const tcache_t *tc, unsigned c);
/* Adds the live sampled blocks made through caches of arena a, and their
 * bytes, to the arena's own counts (ta_arena_live). */
HIDDEN void tai_prof_arena_live(const arena_t *a, uint64_t *blocks, uint64_t *bytes);
HIDDEN void tai_prof_prefork(void);
HIDDEN void tai_prof_postfork(bool child);

#endif
