/* Sized blocks on an explicit cache: the free and resize that a runtime
 * which hands every block's size back (Lua's lua_Alloc) builds its
 * allocator on. The caller's size picks the class, so a hit reads no page
 * entry; the runtime's accounting stays with the caller. */
#include <errno.h>
#include <string.h>

#include "opts.h"
#include "tcache_fast.h"

/* Whether the fast paths may take a size at its word: checked and secure
 * modes verify every size (secure mode keeps a canary after it), and a
 * kept shrink left a block in a bigger class than its size names. */
static ALWAYS_INLINE bool sizes_trusted(const tcache_t *tc)
{
    return !(ta_opt.check | tc->sizes_inexact);
}

/* Out of line, so the hit path saves no register for the miss.
 * ta_tcache_free_sized verifies the size in checked mode; once sizes are
 * inexact only the block's page tells its class. */
NOINLINE static void sized_free_slow(ta_tcache_t *tc, void *p, size_t size)
{
    if (tc->t.sizes_inexact)
        ta_tcache_free(tc, p);
    else
        ta_tcache_free_sized(tc, p, size);
}

/* Returns NULL, what an allocator function returns for a free, so a
 * runtime's free path can end in this call. */
void *ta_sized_free(ta_tcache_t *tc, void *p, size_t size)
{
    if (likely(p && sizes_trusted(&tc->t) && cache_push_sized(&tc->t, p, size)))
        return NULL;
    sized_free_slow(tc, p, size);
    return NULL;
}

/* Large blocks (which may change in place) and sizes not to be trusted:
 * the realloc path, which knows every kind of block and verifies in
 * checked mode. It keeps the block on a shrink it cannot move; a large
 * block kept for a small size is the one case a sized free would then
 * misplace (a small block kept by checked mode's realloc has its new
 * size recorded, and checked mode frees by the page anyway). */
NOINLINE static void *resize_general(ta_tcache_t *tc, void *p, size_t osize, size_t nsize)
{
    void *q = ta_tcache_realloc(tc, p, nsize);
    if (q == p && osize > SMALL_MAX && nsize <= SMALL_MAX)
        tc->t.sizes_inexact = true;
    return q;
}

/* A small block moving class when the cache cannot both give the new
 * block and take the old one back: the copy must come before the old
 * block may go back to its slab. */
NOINLINE static void *move_slow(ta_tcache_t *tc, void *q, void *p, size_t osize, size_t nsize)
{
    if (q == NULL) {
        int saved = errno;
        if ((q = ta_tcache_malloc(tc, nsize)) == NULL) {
            if (nsize > osize)
                return NULL; /* ENOMEM, p as it was */
            /* a shrink never fails: p stays, bigger than its size says */
            errno = saved;
            tc->t.sizes_inexact = true;
            return p;
        }
    }
    memcpy(q, p, osize < nsize ? osize : nsize);
    ta_tcache_free_sized(tc, p, osize);
    return q;
}

/* A small block resized to another small size: same class, same block;
 * else a new block from the cache and the old one back to it by size.
 * The cache's stacks are apart from the blocks and the cache has one
 * user, so the old block can be pushed before it is copied and the copy
 * is the last call, with nothing to keep after it. */
void *ta_sized_resize(ta_tcache_t *tc, void *p, size_t osize, size_t nsize)
{
    if (unlikely(p == NULL))
        return ta_tcache_malloc(tc, nsize);
    if (unlikely(nsize == 0))
        return ta_sized_free(tc, p, osize);
    tcache_t *t = &tc->t;
    if (!sizes_trusted(t) || osize > SMALL_MAX || nsize > SMALL_MAX)
        return resize_general(tc, p, osize, nsize);
    if (size_class(osize) == size_class(nsize))
        return p;
    void *q;
    if (!cache_pop(t, nsize, &q))
        return move_slow(tc, NULL, p, osize, nsize);
    if (!cache_push_sized(t, p, osize))
        return move_slow(tc, q, p, osize, nsize);
    return memcpy(q, p, osize < nsize ? osize : nsize);
}
