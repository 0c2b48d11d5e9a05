/* The explicit caches: a tcache_t bound to one arena that a runtime
 * which serialises its own calls uses without lock or TLS. */
#include "alloc.h"
#include "check.h"
#include "init.h"
#include "owner_map.h"
#include "prof.h"
#include "thread.h"

ta_tcache_t *ta_tcache_create(ta_arena_t *arena)
{
    if (!tai_ensure_init()) {
        errno = ENOMEM;
        return NULL;
    }
    if (arena && !tai_arena_valid(arena)) {
        errno = EINVAL;
        return NULL;
    }
    arena_t *a = arena ? &arena->a : tai_thread_arena();
    tcache_t *tc = a ? tai_tcache_new(a, EXPLICIT_CACHE_SCALE) : NULL;
    if (!tc)
        errno = ENOMEM;
    return (ta_tcache_t *)tc;
}

void ta_tcache_destroy(ta_tcache_t *tc)
{
    if (tc)
        tai_tcache_delete(&tc->t);
}

void ta_tcache_flush(ta_tcache_t *tc)
{
    if (tc)
        tai_tcache_flush_all(&tc->t);
}

ta_arena_t *ta_tcache_arena(const ta_tcache_t *tc) { return (ta_arena_t *)tc->t.arena; }
size_t ta_tcache_cached_bytes(const ta_tcache_t *tc) { return tc ? tai_tcache_cached(&tc->t) : 0; }

/* Out of line, so the hit path saves no register for the miss. */
NOINLINE void *tai_tcache_malloc_slow(tcache_t *tc, size_t size)
{
    return set_enomem(tai_alloc_tcache(tc, size, false));
}

void *ta_tcache_malloc(ta_tcache_t *tcache, size_t size)
{
    void *p;
    return likely(cache_pop(&tcache->t, size, &p)) ? p : tai_tcache_malloc_slow(&tcache->t, size);
}

void *ta_tcache_calloc(ta_tcache_t *tcache, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return set_enomem(tai_alloc_tcache(&tcache->t, total, true));
}

void *ta_tcache_realloc(ta_tcache_t *tcache, void *p, size_t size)
{
    return tai_realloc_src(p, size, (alloc_src_t){&tcache->t, NULL});
}

/* Checked mode validates first; blocks of the cache's own manual arena
 * may be cached here, other manual arenas' blocks go straight back so
 * those arenas stay destroyable. */
NOINLINE static void tcache_free_general(tcache_t *tc, void *p)
{
    if (unlikely(tai_opt.check) && !tai_check_free(p, true))
        return;
    tai_tcache_dalloc_ref(tc, block_resolve(p));
}

/* As ta_free's slow path: a sampling cache's window first. */
NOINLINE void tai_tcache_free_slow(tcache_t *tc, void *p)
{
    if (unlikely(tc->prof != NULL) && !tai_opt.check && prof_free(tc, p))
        return;
    tcache_free_general(tc, p);
}

void ta_tcache_free(ta_tcache_t *tcache, void *p)
{
    if (likely(p))
        tcache_free_in(&tcache->t, p);
}

/* Hooks that wrap another allocator free every block through here: one
 * call for the ownership test and the free. */
int ta_tcache_free_if_owned(ta_tcache_t *tcache, void *p)
{
    if (!p || !tai_owner_map_get(p))
        return 0;
    tcache_free_in(&tcache->t, p);
    return 1;
}

void ta_tcache_free_sized(ta_tcache_t *tcache, void *p, size_t size)
{
    if (likely(p && !tai_opt.check && cache_push_sized(&tcache->t, p)))
        return;
    tai_free_sized_slow(p, size, &tcache->t);
}
