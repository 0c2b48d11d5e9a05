/* The thread-cache fast paths, inline: the malloc family's entry points
 * in alloc.c are built from them, and so is the Lua binding's lua_Alloc,
 * which links the core statically and owns its cache. No lock, no system
 * call, no atomic read-modify-write. */
#ifndef TA_TCACHE_FAST_H
#define TA_TCACHE_FAST_H

#include "tcache.h"

/* The allocation fast path: a pop from the cache's stack for the size's
 * class; false on a miss. (A bool rather than a NULL test, which would
 * cost the hit path a compare the compiler cannot drop.) */
static ALWAYS_INLINE bool cache_pop(tcache_t *tc, size_t size, void **out)
{
    if (likely(size <= TCACHE_MAX)) {
        cache_bin_t *cb = &tc->bins[size_class(size)];
        if (likely(cb->ncached)) {
            *out = cb->stack[--cb->ncached];
            ctr_add(&cb->nalloc, 1);
            return true;
        }
    }
    return false;
}

/* The free fast path: a push onto the stack of the block's class, false
 * when the class is not cacheable here or its stack is full. */
static ALWAYS_INLINE bool cache_push(tcache_t *tc, void *p, unsigned tag)
{
    if (likely(tag < NCACHED_CLASSES)) {
        cache_bin_t *cb = &tc->bins[tag];
        if (likely(cb->ncached < cb->cap)) {
            cb->stack[cb->ncached++] = p;
            return true;
        }
    }
    return false;
}

/* A sized free's push: a small block's class comes from the size, which
 * needs neither the page shift nor the block's page entry. The caller
 * vouches for the size, as free_sized's contract says (checked mode
 * verifies it and must not come here: p is dereferenced). Small classes
 * only: a large run resized in place no longer matches its first size's
 * class. The arena test keeps other arenas' blocks, manual ones
 * included, out. p must not be NULL. */
static ALWAYS_INLINE bool cache_push_sized(tcache_t *tc, void *p, size_t size)
{
    if (likely(size <= SMALL_MAX && segment_of(p)->arena == tc->arena)) {
        unsigned cls = size_class(size);
        if (cls >= NBINS)
            __builtin_unreachable(); /* the table maps small sizes to bins */
        return cache_push(tc, p, cls);
    }
    return false;
}

#endif
