/* What the entry-point files share (alloc.c, alloc_arena.c,
 * alloc_tcache.c, alloc_hook.c): the slow paths behind their fast paths,
 * defined once in alloc.c or alloc_tcache.c, and the helpers inlined
 * into them. */
#ifndef TA_ALLOC_H
#define TA_ALLOC_H

#include <errno.h>

#include "opts.h"
#include "secure.h"
#include "tcache_fast.h"
#include "thread.h"

/* Every block leaves through here in secure mode (its fast paths always
 * miss), which marks it live and writes its canary. */
static inline void *handed_out(void *p, size_t size)
{
    return unlikely(tai_opt.secure) && p ? tai_secure_out(p, size) : p;
}

static inline void *set_enomem(void *p)
{
    if (unlikely(!p))
        errno = ENOMEM;
    return p;
}

/* Where a reallocation's or an aligned allocation's block comes from: a
 * given cache, a given arena, or (both NULL) the calling thread's
 * default. */
typedef struct alloc_src {
    tcache_t *tc;
    arena_t *arena;
} alloc_src_t;

/* ---- alloc.c ---- */

/* The misses of ta_malloc (ta_calloc with zero) and of ta_free, whose
 * p may be NULL; errno is set as ta_malloc sets it. */
HIDDEN void *tai_malloc_slow(size_t size, bool zero);
HIDDEN void tai_free_slow(void *p);

/* A block straight from arena a (NULL: fails), or through cache tc; both
 * leave through handed_out, neither sets errno. */
HIDDEN void *tai_alloc_arena(arena_t *a, size_t size, bool zero);
HIDDEN void *tai_alloc_tcache(tcache_t *tc, size_t size, bool zero);
HIDDEN void *tai_realloc_src(void *p, size_t size, alloc_src_t src);
/* align is a power of two. */
HIDDEN void *tai_aligned_src(size_t align, size_t size, alloc_src_t src);
/* Frees a resolved block through explicit cache tc, which may keep
 * blocks of its own manual arena. */
HIDDEN void tai_tcache_dalloc_ref(tcache_t *tc, block_ref_t b);
/* The miss of every sized free (tc: an explicit cache, or NULL). */
HIDDEN void tai_free_sized_slow(void *p, size_t size, tcache_t *tc);

/* ---- alloc_arena.c ---- */

/* arena as an arena_t if it is a live entry of the arena table, else
 * NULL. */
HIDDEN arena_t *tai_arena_valid(const ta_arena_t *arena);

/* ---- alloc_tcache.c ---- */

/* The misses of ta_tcache_malloc and of an explicit-cache free of p (not
 * NULL); errno is set as ta_malloc sets it. */
HIDDEN void *tai_tcache_malloc_slow(tcache_t *tc, size_t size);
HIDDEN void tai_tcache_free_slow(tcache_t *tc, void *p);

/* The body of every explicit-cache free; p is not NULL. Every miss is a
 * jump to the slow path, so callers keep no registers for it. */
static ALWAYS_INLINE void tcache_free_in(tcache_t *tc, void *p)
{
    if (likely(!tai_opt.check && cache_push(tc, p, page_tag(head_of(p), p))))
        return;
    tai_tcache_free_slow(tc, p);
}

/* The thread cache's push (onto tai_tls_free, prof.h) of a block its tag
 * map takes (tag.h: colours). Checked mode takes the slow path before p is dereferenced: a
 * foreign pointer's segment header may not be mapped. */
static ALWAYS_INLINE bool thread_push_nonnull(void *p)
{
    if (likely(!tai_opt.check)) {
        tcache_t *tc = tai_tls_free;
        const map_head_t *h = head_of(p);
        return likely(cache_push(tc, p, tc->tagmap[page_tag(h, p)]));
    }
    return false;
}

/* The thread cache's push (onto tai_tls_free) of a block freed with its
 * size (checked mode misses in cache_push_size before p is read). */
static ALWAYS_INLINE bool thread_push_size(void *p, size_t size)
{
    return likely(p != NULL) && cache_push_size(tai_tls_free, p, size);
}

#endif
