/* Sized blocks on an explicit cache: the allocate, free and resize that a
 * runtime which hands every block's size back (Lua's lua_Alloc) builds
 * its allocator on. The sizes decide whether a small resize stays or
 * moves without a look at the block. Every path ends in a call or a
 * return the caller can end its own path in: the runtime counts before
 * it calls, and hears of a failure through its `failed` callback instead
 * of a NULL it would have to wait for. */
#include <errno.h>
#include <string.h>

#include "opts.h"
#include "prof.h"
#include "tcache_fast.h"

/* tcache_t.sized_mode: one byte for the fast paths to test. Checked and
 * secure modes verify every size (secure mode keeps a canary after it),
 * so they never trust one. A shrink that kept a block in a bigger class
 * leaves a size that names another class: the pushes file blocks by
 * their pages (cache_push_sized), but checked mode's size check would
 * call it wrong, so from then on it checks the pointer alone. The
 * options are fixed before a cache exists. */
enum { SIZED_UNSET, SIZED_TRUSTED, SIZED_CHECKED, SIZED_INEXACT };

static ALWAYS_INLINE bool sizes_trusted(tcache_t *tc)
{
    return likely(tc->sized_mode == SIZED_TRUSTED);
}

static NOINLINE bool sizes_trusted_slow(tcache_t *tc)
{
    if (tc->sized_mode == SIZED_UNSET)
        tc->sized_mode = tai_opt.check ? SIZED_CHECKED : SIZED_TRUSTED;
    return tc->sized_mode == SIZED_TRUSTED;
}

static void *failed(ta_sized_t *sz, void *p, size_t osize, size_t nsize)
{
    return sz->failed ? sz->failed(sz, p, osize, nsize) : NULL;
}

/* sz->free_cache follows the cache (prof.h: prof_free_cache), with the
 * mode the free fast path reads there. A cache starts and stops sampling
 * at its misses, so the allocating slow paths, which have sz, bring it up
 * to date after each; the free slow paths (without sz) need not, as a
 * pointer left behind only makes frees miss. */
static void follow_cache(ta_sized_t *sz)
{
    tcache_t *tc = &sz->cache->t;
    tcache_t *fp = prof_free_cache(tc);
    fp->sized_mode = tc->sized_mode;
    sz->free_cache = (ta_tcache_t *)fp;
}

NOINLINE static void *sized_alloc_slow(ta_sized_t *sz, size_t size)
{
    void *p = ta_tcache_malloc(sz->cache, size);
    follow_cache(sz);
    return p ? p : failed(sz, NULL, 0, size);
}

HOT_ENTRY void *ta_sized_alloc(ta_sized_t *sz, size_t size)
{
    void *p;
    return likely(cache_pop(&sz->cache->t, size, &p)) ? p : sized_alloc_slow(sz, size);
}

/* A counting pop's miss (prof.h: prof_count_miss) hands the sampling
 * cache's windows over to the counting pops, which then take blocks from
 * the top of its free side, where ta_sized_free puts them. */
NOINLINE static void *sized_count_alloc_slow(ta_sized_t *sz, size_t size)
{
    prof_count_miss(&sz->cache->t);
    return sized_alloc_slow(sz, size);
}

void *ta_sized_count_alloc(ta_sized_t *sz, size_t size)
{
    void *p;
    return likely(prof_count_pop(&sz->cache->t, size, &p)) ? p
                                                            : sized_count_alloc_slow(sz, size);
}

/* ta_tcache_free_sized verifies the size in checked mode and frees
 * blocks the cache does not take. fp is the free fast path's pointer, the
 * cache or its free side: a free that missed only because the pointer
 * was behind goes onto the free side. */
NOINLINE static void *sized_free_slow(ta_tcache_t *fp, void *p, size_t size)
{
    ta_tcache_t *tc = (ta_tcache_t *)prof_cache_of(&fp->t);
    if (unlikely(tc->t.prof != NULL) && !tai_opt.check && prof_free(&tc->t, p))
        return NULL;
    if (sizes_trusted_slow(&tc->t) && cache_push_sized(&tc->t, p))
        return NULL;
    if (tc->t.sized_mode == SIZED_INEXACT)
        ta_tcache_free(tc, p);
    else
        ta_tcache_free_sized(tc, p, size);
    return NULL;
}

HOT_ENTRY void *ta_sized_free(ta_sized_t *sz, void *p, size_t size)
{
    tcache_t *tc = &sz->free_cache->t;
    if (likely(p != NULL) && sizes_trusted(tc) && likely(cache_push_sized(tc, p)))
        return NULL;
    return p ? sized_free_slow(sz->free_cache, p, size) : NULL;
}

/* Large blocks (which may change in place) and sizes not to be trusted:
 * the realloc path, which knows every kind of block and verifies in
 * checked mode. It keeps the block on a shrink it cannot move, which in
 * checked mode leaves a small size its size check would refuse. */
NOINLINE static void *resize_general(ta_sized_t *sz, void *p, size_t osize, size_t nsize)
{
    if (nsize == 0)
        return ta_sized_free(sz, p, osize);
    void *q = ta_tcache_realloc(sz->cache, p, nsize);
    follow_cache(sz);
    if (q == NULL)
        return failed(sz, p, osize, nsize);
    tcache_t *tc = &sz->cache->t;
    if (q == p && tc->sized_mode == SIZED_CHECKED && nsize <= SMALL_MAX &&
        (osize > SMALL_MAX || size_class(osize) != size_class(nsize))) {
        tc->sized_mode = SIZED_INEXACT;
        follow_cache(sz);
    }
    return q;
}

/* A small block moving class when the cache cannot both give the new
 * block and take the old one back: the copy must come before the old
 * block may go back to its slab. */
NOINLINE static void *move_slow(ta_sized_t *sz, void *q, void *p, size_t osize, size_t nsize)
{
    if (q == NULL) {
        int saved = errno;
        q = ta_tcache_malloc(sz->cache, nsize);
        follow_cache(sz);
        if (q == NULL) {
            if (nsize > osize)
                return failed(sz, p, osize, nsize); /* ENOMEM, p as it was */
            /* a shrink never fails: p stays, bigger than its size says
             * (its page still tells its class) */
            errno = saved;
            return p;
        }
    }
    memcpy(q, p, osize < nsize ? osize : nsize);
    ta_tcache_free_sized(sz->cache, p, osize);
    return q;
}

/* The old block missed the cache's stack: a sampling cache's free side
 * takes it as the cache would (sizes are trusted here, so this is not
 * checked mode; a sampled block is of the profiler's arena, which the
 * free side does not take), with no frame to set up. */
NOINLINE static void *move_push_slow(ta_sized_t *sz, void *q, void *p, size_t osize,
                                     size_t nsize)
{
    tcache_t *tc = &sz->cache->t;
    if (unlikely(tc->prof != NULL) && cache_push_sized(tc->side, p))
        return memcpy(q, p, osize < nsize ? osize : nsize);
    return move_slow(sz, q, p, osize, nsize);
}

NOINLINE static void *count_move_slow(ta_sized_t *sz, void *p, size_t osize, size_t nsize)
{
    prof_count_miss(&sz->cache->t);
    return move_slow(sz, NULL, p, osize, nsize);
}

/* Small to small: same class, same block; else a new block from the
 * cache and the old one back to it by size. The cache's stacks are apart
 * from the blocks and the cache has one user, so the old block can be
 * pushed before it is copied and the copy is the last call. counting (a
 * constant in each caller) pops with the profile's count and pushes the
 * old block where ta_sized_free would (the free side while the cache
 * samples), so the next counting pop of its class takes it back. */
static ALWAYS_INLINE void *resize(ta_sized_t *sz, void *p, size_t osize, size_t nsize,
                                  bool counting)
{
    if (unlikely(p == NULL))
        return counting ? ta_sized_count_alloc(sz, nsize) : ta_sized_alloc(sz, nsize);
    tcache_t *tc = &sz->cache->t;
    /* nsize 0 wraps past SMALL_MAX: a free, in the general path */
    if (osize > SMALL_MAX || nsize - 1 >= SMALL_MAX ||
        (!sizes_trusted(tc) && !sizes_trusted_slow(tc)))
        return resize_general(sz, p, osize, nsize);
    if (size_class(osize) == size_class(nsize))
        return p;
    void *q;
    if (counting ? !prof_count_pop(tc, nsize, &q) : !cache_pop(tc, nsize, &q))
        return counting ? count_move_slow(sz, p, osize, nsize)
                        : move_slow(sz, NULL, p, osize, nsize);
    if (!cache_push_sized(counting ? &sz->free_cache->t : tc, p))
        return move_push_slow(sz, q, p, osize, nsize);
    return memcpy(q, p, osize < nsize ? osize : nsize);
}

HOT_ENTRY void *ta_sized_resize(ta_sized_t *sz, void *p, size_t osize, size_t nsize)
{
    return resize(sz, p, osize, nsize, false);
}

void *ta_sized_count_resize(ta_sized_t *sz, void *p, size_t osize, size_t nsize)
{
    return resize(sz, p, osize, nsize, true);
}
