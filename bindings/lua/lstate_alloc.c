/* The lua_Alloc functions: Lua 5.4's allocation contract on an explicit
 * tunalloc cache, with the per-state accounting and limit. */
#include <string.h>

#include "lstate.h"
#include "tcache_fast.h"

/* Lua calls the allocator through a pointer for every block. The state
 * owns its cache and links the core statically, so the cache's inline
 * fast paths run here and the core is called only on a miss. The entry
 * point only dispatches, jumping to one out-of-line path per kind of
 * request, so no path pays for the registers the others need (a third of
 * the calls free NULL and must cost next to nothing). */
#define TALUA_INLINE static inline __attribute__((always_inline))
#define TALUA_PATH static __attribute__((noinline))

/* Lua's basic type of a block from its type tag (osize when ptr is
 * NULL); the low four bits, so a variant tag lands in its base type. */
_Static_assert(LUA_TSTRING == 4 && LUA_TTABLE == 5 && LUA_TFUNCTION == 6 &&
                   LUA_TUSERDATA == 7 && LUA_TTHREAD == 8,
               "Lua 5.4 basic type numbers");
#define OTHER TA_LUA_T_OTHER
static const uint8_t kind_of_tag[16] = {
    OTHER, OTHER, OTHER, OTHER, TA_LUA_T_STRING, TA_LUA_T_TABLE, TA_LUA_T_FUNCTION,
    TA_LUA_T_USERDATA, TA_LUA_T_THREAD, OTHER, OTHER, OTHER, OTHER, OTHER, OTHER, OTHER};
#undef OTHER

void talua_set_limit(talua_state *s, size_t limit, size_t baseline)
{
    s->limit = limit;
    s->baseline = baseline;
    s->cap = limit == 0 || limit > SIZE_MAX - baseline ? SIZE_MAX : limit + baseline;
}

/* Growth is refused before it happens so Lua can collect and retry. One
 * precomputed cap, and no sum that could overflow: nsize may be absurd,
 * and a lowered limit may leave in_use above the cap. */
TALUA_INLINE bool over_limit(const talua_state *s, size_t grow)
{
    return s->in_use > s->cap || grow > s->cap - s->in_use;
}

/* in_use follows the sizes Lua believes its blocks have, so the limit
 * means exactly what the script can observe with collectgarbage. The
 * counters are updated before the call into tunalloc so that call can be
 * the last thing a free does. */
TALUA_PATH void *release(talua_state *s, void *ptr, size_t osize)
{
    s->in_use -= osize;
    s->nfree++;
    if (s->unsized_frees)
        ta_tcache_free(s->tc, ptr);
    else if (!cache_push_sized(&s->tc->t, ptr))
        ta_tcache_free_sized(s->tc, ptr, osize);
    return NULL;
}

/* A block Lua got: its bytes, its type's counters and the peak. */
TALUA_INLINE void count_fresh(talua_state *s, size_t tag, size_t nsize)
{
    unsigned k = kind_of_tag[tag & 0x0F];
    s->in_use += nsize;
    s->type_count[k]++;
    s->type_bytes[k] += nsize;
    if (s->in_use > s->peak)
        s->peak = s->in_use;
}

/* A cache miss: the core fills the cache or serves the size itself. */
TALUA_PATH void *fresh_slow(talua_state *s, size_t tag, size_t nsize)
{
    void *p = ta_tcache_malloc(s->tc, nsize);
    if (unlikely(p == NULL)) {
        s->nfail++;
        return NULL;
    }
    count_fresh(s, tag, nsize);
    return p;
}

/* With ptr NULL, osize is Lua's type tag and not a size. The pop comes
 * before the counting so a hit keeps nothing live across a call and
 * saves no registers. */
TALUA_PATH void *fresh(talua_state *s, size_t tag, size_t nsize)
{
    if (over_limit(s, nsize)) {
        s->nfail++;
        return NULL;
    }
    void *p;
    if (!cache_pop(&s->tc->t, nsize, &p))
        return fresh_slow(s, tag, nsize);
    count_fresh(s, tag, nsize);
    return p;
}

/* A resize that went through. */
TALUA_INLINE void count_resize(talua_state *s, size_t osize, size_t nsize)
{
    s->nrealloc++;
    s->in_use = s->in_use - osize + nsize;
    if (s->in_use > s->peak)
        s->peak = s->in_use;
}

/* Lua treats a failed shrink as fatal, so a shrink that tunalloc cannot
 * move keeps the old block, and frees turn unsized from then on. */
TALUA_INLINE void *resize_failed(talua_state *s, void *ptr, size_t osize, size_t nsize)
{
    if (nsize > osize) {
        s->nfail++;
        return NULL;
    }
    s->unsized_frees = true;
    count_resize(s, osize, nsize);
    return ptr;
}

/* Bigger blocks, which may be resized in place, and every block after a
 * failed shrink (osize is then no longer the block's size). */
TALUA_PATH void *resize_by_realloc(talua_state *s, void *ptr, size_t osize, size_t nsize)
{
    void *p = ta_tcache_realloc(s->tc, ptr, nsize);
    if (p == NULL)
        return resize_failed(s, ptr, osize, nsize);
    count_resize(s, osize, nsize);
    return p;
}

/* A small block moving class when the cache cannot both give the new
 * block and take the old one back: the copy must come before the old
 * block may go back to its slab. */
TALUA_PATH void *move_small_slow(talua_state *s, void *p, void *ptr, size_t osize, size_t nsize)
{
    if (p == NULL && (p = ta_tcache_malloc(s->tc, nsize)) == NULL)
        return resize_failed(s, ptr, osize, nsize);
    memcpy(p, ptr, osize < nsize ? osize : nsize);
    ta_tcache_free_sized(s->tc, ptr, osize);
    count_resize(s, osize, nsize);
    return p;
}

/* A small block resized to another small size: same class, same block;
 * else a new block from the cache and the old one back to it by size.
 * The cache's stacks are apart from the blocks, and the state's cache
 * has one user, so the old block can be pushed before it is copied and
 * the copy is the last call, with nothing to keep after it. */
TALUA_PATH void *resize(talua_state *s, void *ptr, size_t osize, size_t nsize)
{
    /* luaH_resize reallocates a table's array even when its size stays:
     * a third of all requests in table-heavy scripts */
    if (nsize == osize) {
        s->nrealloc++;
        return ptr;
    }
    if (nsize > osize && over_limit(s, nsize - osize)) {
        s->nfail++;
        return NULL;
    }
    if (s->unsized_frees || osize > SMALL_MAX || nsize > SMALL_MAX)
        return resize_by_realloc(s, ptr, osize, nsize);
    if (size_class(osize) == size_class(nsize)) {
        count_resize(s, osize, nsize);
        return ptr;
    }
    tcache_t *tc = &s->tc->t;
    void *p;
    if (!cache_pop(tc, nsize, &p))
        return move_small_slow(s, NULL, ptr, osize, nsize);
    if (!cache_push_sized(tc, ptr))
        return move_small_slow(s, p, ptr, osize, nsize);
    count_resize(s, osize, nsize);
    return memcpy(p, ptr, osize < nsize ? osize : nsize);
}

/* One entry point for every request, as lua_Alloc requires. */
void *talua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    talua_state *s = ud;
    if (nsize == 0)
        return ptr != NULL ? release(s, ptr, osize) : NULL;
    if (ptr == NULL)
        return fresh(s, osize, nsize);
    return resize(s, ptr, osize, nsize);
}

/* The record of an installed state lives as long as the state: lua_close
 * frees the main block last, so that free is the moment to let go. */
static void end_installed(talua_state *s)
{
    ta_tcache_destroy(s->tc);
    ta_free(s);
}

/* Blocks made before the switch belong to the previous allocator: it
 * frees and shrinks them; growth moves them to tunalloc by copy. */
static void *foreign(talua_state *s, void *ptr, size_t osize, size_t nsize)
{
    if (nsize == 0) {
        bool last = ptr == s->main_block;
        lua_Alloc f = s->prev_f;
        void *fud = s->prev_ud;
        if (last)
            end_installed(s);
        return f(fud, ptr, osize, 0);
    }
    if (nsize <= osize)
        return s->prev_f(s->prev_ud, ptr, osize, nsize);
    void *p = fresh(s, 0, nsize);
    if (p == NULL)
        return NULL;
    memcpy(p, ptr, osize);
    s->prev_f(s->prev_ud, ptr, osize, 0);
    return p;
}

/* ta_owns is exact and lock-free, so telling the two allocators' blocks
 * apart costs one lookup per free or resize. */
void *talua_alloc_wrapped(void *ud, void *ptr, size_t osize, size_t nsize)
{
    talua_state *s = ud;
    if (ptr != NULL && !ta_owns(ptr))
        return foreign(s, ptr, osize, nsize);
    return talua_alloc(ud, ptr, osize, nsize);
}

/* The library and the host API both need to recognise our states. */
talua_state *talua_of(lua_State *L)
{
    void *ud = NULL;
    lua_Alloc f = lua_getallocf(L, &ud);
    if (f == talua_alloc || f == talua_alloc_wrapped)
        return ud;
    return NULL;
}

/* Keeps the internal record private while giving hosts every counter. */
void talua_fill_stats(const talua_state *s, ta_lua_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->in_use = s->in_use;
    out->peak = s->peak;
    out->limit = s->limit;
    out->baseline = s->baseline;
    for (int k = 0; k < TA_LUA_NTYPES; k++)
        out->nalloc += s->type_count[k];
    out->nfree = s->nfree;
    out->nrealloc = s->nrealloc;
    out->nfail = s->nfail;
    memcpy(out->type_count, s->type_count, sizeof out->type_count);
    memcpy(out->type_bytes, s->type_bytes, sizeof out->type_bytes);
    out->arena = ta_arena_index(s->arena);
    out->own_arena = s->own_arena;
    out->installed = s->prev_f != NULL;
    out->cached = ta_tcache_cached_bytes(s->tc);
}
