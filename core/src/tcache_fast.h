/* The thread-cache fast paths, inline: the malloc family's entry points
 * in alloc*.c are built from them, and so is the Lua binding's lua_Alloc,
 * which links the core statically and owns its cache. No lock, no system
 * call, no atomic read-modify-write. */
#ifndef TA_TCACHE_FAST_H
#define TA_TCACHE_FAST_H

#include "tcache.h"

/* The allocation fast path: a pop from the cache's stack for the size's
 * class; false on a miss. (A bool rather than a NULL test, which would
 * cost the hit path a compare the compiler cannot drop.) A hit leaves its
 * bin in last_bin for cache_push_last; the empty cache, which threads
 * share, never hits, so is never written. */
static ALWAYS_INLINE bool cache_pop(tcache_t *tc, size_t size, void **out)
{
    if (likely(size <= TCACHE_MAX)) {
        cache_bin_t *cb = &tc->bins[size_class(size)];
        size_t n;
        if (likely(!__builtin_sub_overflow((size_t)cb->ncached, 1, &n))) {
            ctr_inc_own(&cb->nalloc);
            tc->last_bin = cb;
            cb->ncached = (uint32_t)n;
            *out = cb->stack[n];
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

/* A sized free's push onto the stack of the class its size names, which
 * is known before p is read: the stores' addresses wait for no load from
 * p's page, so the next allocation need not wait for them either, and
 * the page tag only has to agree, through the cache's tag map (a branch).
 * A block whose size names another class than its page (a shrink that
 * could not move), or that the map refuses, misses.
 * The bin's room is looked at before p is read, and checked mode (no
 * slots, so no room) misses there, before touching a pointer it has not
 * validated. */
static ALWAYS_INLINE bool cache_push_size(tcache_t *tc, void *p, size_t size)
{
    if (likely(size <= TCACHE_MAX)) {
        unsigned cls = size_class(size);
        cache_bin_t *cb = &tc->bins[cls];
        uint32_t n = cb->ncached;
        if (likely(n < cb->cap)) {
            if (likely(tc->tagmap[page_tag(head_of(p), p)] == cls)) {
                cb->ncached = n + 1;
                cb->stack[n] = p;
                return true;
            }
        }
    }
    return false;
}

/* ta_free's push: onto the bin of the last pop when the block's class
 * names it, else by the class. *offp is the bin offset of the block's
 * free_map entry (made its bin's where the push falls through): the
 * class, or TAGMAP_NONE or above TAGMAP_FOREIGN where the map refuses
 * the block (the range check fails). The bin's address
 * then comes from last_bin, loaded at once, not from the tag, which
 * waits for p's page to be read, and the tag only decides a branch: a
 * free's stores whose addresses wait for that load hold up the next
 * malloc's loads behind them (about 40 % of fast-imm's time on a Xeon).
 * The empty asm keeps the compiler from taking the address from the
 * class, which it knows is equal. A last_bin of another cache (or none)
 * never equals tc's bin for the class, nor the slot a refused block's
 * entry names (tcache.h: TAGMAP_FOREIGN), nor an entry of a cache that
 * does not predict (FREE_UNPREDICTED), so is never pushed onto. Pushes
 * past the prediction are counted (tcache.c: tai_tcache_free_look). */
static ALWAYS_INLINE bool cache_push_last(tcache_t *tc, void *p, size_t *offp)
{
    cache_bin_t *cb = tc->last_bin;
    size_t off = *offp;
    __asm__("" : "+r"(cb));
    if (likely((uintptr_t)cb - off == (uintptr_t)tc->bins)) {
        uint32_t n = cb->ncached;
        if (likely(n < cb->cap)) {
            cb->ncached = n + 1;
            cb->stack[n] = p;
            return true;
        }
        return false;
    }
    *offp = off %= FREE_OFF_MOD;
    if (likely(off < sizeof(tc->bins))) {
        cache_bin_t *b = (cache_bin_t *)((char *)tc->bins + off);
        uint32_t n = b->ncached;
        if (likely(n < b->cap)) {
            b->ncached = n + 1;
            b->stack[n] = p;
            if (unlikely(--tc->free_ticks == 0))
                tai_tcache_free_look(tc);
            return true;
        }
    }
    return false;
}

/* A remote free's push: a small block of another arena waits in the
 * cache's batch for its class, never handed out here, until the batch
 * fills and goes back to the block's bin under one lock. False when the
 * block is not small or the cache keeps no batches (the empty cache: a
 * thread's first call, secure mode). cls is the block's class if it is an
 * automatic arena's (tag_auto_class); the caller has seen that the block
 * is not the cache's own arena's. The thread's deallocated bytes count a
 * batch when it is flushed (tcache.c: remote_pending). */
static ALWAYS_INLINE bool cache_push_batch(tcache_t *tc, void *p, unsigned cls)
{
    if (likely(cls < NBINS)) {
        remote_batch_t *rb = &tc->remote[cls];
        uint32_t n = rb->ncached, cap = rb->cap;
        if (likely(n < cap)) {
            rb->stack[n++] = p;
            rb->ncached = n;
            if (unlikely(n == cap))
                tai_tcache_flush_remote(tc, cls);
            return true;
        }
    }
    return false;
}

/* cache_push_batch for a block that may be the cache's own arena's
 * (false then). */
static ALWAYS_INLINE bool cache_push_remote(tcache_t *tc, void *p, const map_head_t *h,
                                           unsigned cls)
{
    return h->arena != tc->arena && cache_push_batch(tc, p, cls);
}

/* An explicit cache's sized free. The class comes from the block's
 * page, not from the size: a shrinking realloc that could not move keeps its block in
 * the bigger class (and a large run resized in place outgrows its first
 * class), so the size the caller last asked for need not name the class
 * the block lives in, and a block filed by its size would corrupt the
 * bin it is flushed to. Only blocks of the cache's own arena (a manual
 * one included: its tags carry PB_MANUAL, which an explicit cache's map
 * takes) are taken; checked mode verifies first and must not come here,
 * as p is dereferenced. p must not be NULL. */
static ALWAYS_INLINE bool cache_push_sized(tcache_t *tc, void *p)
{
    const map_head_t *h = head_of(p);
    if (likely(h->arena == tc->arena))
        return cache_push(tc, p, tc->tagmap[page_tag(h, p)]);
    return false;
}

#endif
