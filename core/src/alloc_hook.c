/* The hook callbacks: PyMemAllocatorEx-style entry points on a ta_hook_t,
 * an explicit cache that serves hits and fallbacks for everything else. */
#include <string.h>

#include "alloc.h"
#include "owner_map.h"

static ALWAYS_INLINE ta_tcache_t *hook_cache(ta_tcache_t *const *slot)
{
    return __atomic_load_n(slot, __ATOMIC_RELAXED);
}

NOINLINE static void *hook_malloc_slow(ta_hook_t *h, ta_tcache_t *tc, size_t size)
{
    return tc ? tai_tcache_malloc_slow(&tc->t, size) : h->malloc_fallback(h, size);
}

void *ta_hook_malloc(void *hook, size_t size)
{
    ta_hook_t *h = hook;
    ta_tcache_t *tc = hook_cache(&h->alloc_cache);
    void *p;
    if (likely(tc != NULL) && likely(cache_pop(&tc->t, size, &p)))
        return p;
    return hook_malloc_slow(h, tc, size);
}

NOINLINE static void *hook_calloc_slow(ta_hook_t *h, ta_tcache_t *tc, size_t n, size_t size)
{
    return tc ? ta_tcache_calloc(tc, n, size) : h->calloc_fallback(h, n, size);
}

void *ta_hook_calloc(void *hook, size_t n, size_t size)
{
    ta_hook_t *h = hook;
    ta_tcache_t *tc = hook_cache(&h->alloc_cache);
    size_t total;
    void *p;
    if (likely(tc != NULL) && likely(!__builtin_mul_overflow(n, size, &total)) &&
        likely(cache_pop(&tc->t, total, &p)))
        return memset(p, 0, total);
    return hook_calloc_slow(h, tc, n, size);
}

/* NULL needs no test of its own: the owner map's first unit, the lowest
 * segment-sized stretch of addresses, is never ours (mappings there would
 * have to start at address 0), so NULL goes to the fallback. */
void ta_hook_free(void *hook, void *p)
{
    ta_hook_t *h = hook;
    ta_tcache_t *tc = hook_cache(&h->free_cache);
    if (likely(tc != NULL) && likely(tai_owner_map_get(p)))
        tcache_free_in(&tc->t, p);
    else
        h->free_fallback(h, p);
}
