/* The hook callbacks: PyMemAllocatorEx-style entry points on a ta_hook_t,
 * an explicit cache (or the calling thread's) that serves hits and
 * fallbacks for everything else. */
#include <string.h>

#include "alloc.h"
#include "owner_map.h"
#include "prof.h"

static ALWAYS_INLINE ta_tcache_t *hook_cache(ta_tcache_t *const *slot)
{
    return __atomic_load_n(slot, __ATOMIC_RELAXED);
}

NOINLINE static void *hook_malloc_slow(ta_hook_t *h, ta_tcache_t *tc, size_t size)
{
    return tc ? tai_tcache_malloc_slow(&tc->t, size) : h->malloc_fallback(h, size);
}

NOINLINE static void *hook_calloc_slow(ta_hook_t *h, ta_tcache_t *tc, size_t n, size_t size)
{
    return tc ? ta_tcache_calloc(tc, n, size) : h->calloc_fallback(h, n, size);
}

/* The counting entry points (prof_count_pop), for a hook to install
 * while it samples: a miss there hands the cache's windows over to them.
 * The malloc slow path reads the cache again rather than taking it as an
 * argument, which saves the fast path two register moves. */
NOINLINE static void *hook_count_malloc_slow(ta_hook_t *h, size_t size)
{
    ta_tcache_t *tc = hook_cache(&h->alloc_cache);
    if (tc)
        prof_count_miss(&tc->t);
    return hook_malloc_slow(h, tc, size);
}

NOINLINE static void *hook_count_calloc_slow(ta_hook_t *h, ta_tcache_t *tc, size_t n, size_t size)
{
    if (tc)
        prof_count_miss(&tc->t);
    return hook_calloc_slow(h, tc, n, size);
}

/* One body for each plain entry point and its counting twin; counting is
 * a constant in every caller, so each compiles to its own straight path. */
static ALWAYS_INLINE void *hook_malloc(void *hook, size_t size, bool counting)
{
    ta_hook_t *h = hook;
    ta_tcache_t *tc = hook_cache(&h->alloc_cache);
    void *p;
    if (likely(tc != NULL) &&
        likely(counting ? prof_count_pop(&tc->t, size, &p) : cache_pop(&tc->t, size, &p)))
        return p;
    return counting ? hook_count_malloc_slow(h, size) : hook_malloc_slow(h, tc, size);
}

static ALWAYS_INLINE void *hook_calloc(void *hook, size_t n, size_t size, bool counting)
{
    ta_hook_t *h = hook;
    ta_tcache_t *tc = hook_cache(&h->alloc_cache);
    size_t total;
    void *p;
    if (likely(tc != NULL) && likely(!__builtin_mul_overflow(n, size, &total)) &&
        likely(counting ? prof_count_pop(&tc->t, total, &p) : cache_pop(&tc->t, total, &p)))
        return memset(p, 0, total);
    return counting ? hook_count_calloc_slow(h, tc, n, size) : hook_calloc_slow(h, tc, n, size);
}

HOT_ENTRY void *ta_hook_malloc(void *hook, size_t size) { return hook_malloc(hook, size, false); }

void *ta_hook_calloc(void *hook, size_t n, size_t size) { return hook_calloc(hook, n, size, false); }

void *ta_hook_count_malloc(void *hook, size_t size) { return hook_malloc(hook, size, true); }

void *ta_hook_count_calloc(void *hook, size_t n, size_t size)
{
    return hook_calloc(hook, n, size, true);
}

/* free_cache is the free fast path's pointer of prof.h: the cache's free
 * side while it samples. It is brought up to date here, but only where it
 * still names the cache or its side: NULL and other caches are the
 * hook's own switches. */
NOINLINE static void hook_free_slow(ta_hook_t *h, ta_tcache_t *fp, void *p)
{
    tcache_t *tc = prof_cache_of(&fp->t);
    ta_tcache_t *want = (ta_tcache_t *)prof_free_cache(tc);
    if (want != fp)
        __atomic_compare_exchange_n(&h->free_cache, &fp, want, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED);
    tai_tcache_free_slow(tc, p);
}

/* NULL needs no test of its own: the owner map's first unit, the lowest
 * segment-sized stretch of addresses, is never ours (mappings there would
 * have to start at address 0), so NULL goes to the fallback. Nor does
 * checked mode: it gives explicit caches (and their sampling free sides)
 * no slots, so the push misses into the validating slow path, and the
 * page tag it reads first is in a segment the owner map has vouched for. */
HOT_ENTRY void ta_hook_free(void *hook, void *p)
{
    ta_hook_t *h = hook;
    ta_tcache_t *tc = hook_cache(&h->free_cache);
    if (likely(tc != NULL) && likely(tai_owner_map_get(p))) {
        if (likely(cache_push(&tc->t, p, page_tag(head_of(p), p))))
            return;
        hook_free_slow(h, tc, p);
    } else {
        h->free_fallback(h, p);
    }
}

/* The calling thread's cache instead of an explicit one: the cache
 * pointers are only switches, never dereferenced. */
NOINLINE static void *hook_thread_malloc_slow(ta_hook_t *h, size_t size)
{
    return hook_cache(&h->alloc_cache) ? tai_malloc_slow(size, false) : h->malloc_fallback(h, size);
}

HOT_ENTRY void *ta_hook_thread_malloc(void *hook, size_t size)
{
    ta_hook_t *h = hook;
    void *p;
    if (likely(hook_cache(&h->alloc_cache) != NULL) && likely(cache_pop(tai_tls_tcache, size, &p)))
        return p;
    return hook_thread_malloc_slow(h, size);
}

NOINLINE static void *hook_thread_count_malloc_slow(ta_hook_t *h, size_t size)
{
    prof_count_miss(tai_tls_tcache);
    return hook_thread_malloc_slow(h, size);
}

void *ta_hook_thread_count_malloc(void *hook, size_t size)
{
    ta_hook_t *h = hook;
    void *p;
    if (likely(hook_cache(&h->alloc_cache) != NULL) &&
        likely(prof_count_pop(tai_tls_tcache, size, &p)))
        return p;
    return hook_thread_count_malloc_slow(h, size);
}

void *ta_hook_thread_calloc(void *hook, size_t n, size_t size)
{
    ta_hook_t *h = hook;
    if (likely(hook_cache(&h->alloc_cache) != NULL))
        return ta_calloc(n, size);
    return h->calloc_fallback(h, n, size);
}

/* NULL goes to the fallback as in ta_hook_free. */
HOT_ENTRY void ta_hook_thread_free(void *hook, void *p)
{
    ta_hook_t *h = hook;
    if (likely(hook_cache(&h->free_cache) != NULL) && likely(tai_owner_map_get(p))) {
        if (likely(thread_push_nonnull(p)))
            return;
        tai_free_slow(p);
    } else {
        h->free_fallback(h, p);
    }
}
