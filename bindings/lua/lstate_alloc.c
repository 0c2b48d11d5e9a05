/* The lua_Alloc functions: Lua 5.4's allocation contract on an explicit
 * tunalloc cache, with the per-state accounting and limit. */
#include <string.h>

#include "lstate.h"

/* Lua calls the allocator through a pointer for every block; folding the
 * paths into that one function saves a call level per request. */
#define TALUA_INLINE static inline __attribute__((always_inline))

/* Lua passes variant tags through novariant(), but masking keeps a
 * variant tag from an unusual build in the right bucket. */
TALUA_INLINE int tag_kind(size_t tag)
{
    switch (tag & 0x0F) {
    case LUA_TSTRING: return TA_LUA_T_STRING;
    case LUA_TTABLE: return TA_LUA_T_TABLE;
    case LUA_TFUNCTION: return TA_LUA_T_FUNCTION;
    case LUA_TUSERDATA: return TA_LUA_T_USERDATA;
    case LUA_TTHREAD: return TA_LUA_T_THREAD;
    default: return TA_LUA_T_OTHER;
    }
}

/* Growth is refused before it happens so Lua can collect and retry; the
 * sums are checked for overflow because nsize may be absurd. */
TALUA_INLINE bool over_limit(const talua_state *s, size_t grow)
{
    if (s->limit == 0)
        return false;
    size_t cap = s->limit > SIZE_MAX - s->baseline ? SIZE_MAX
                                                   : s->limit + s->baseline;
    return grow > SIZE_MAX - s->in_use || s->in_use + grow > cap;
}

/* in_use follows the sizes Lua believes its blocks have, so the limit
 * means exactly what the script can observe with collectgarbage. */
TALUA_INLINE void note_size(talua_state *s, size_t osize, size_t nsize)
{
    s->in_use = s->in_use - osize + nsize;
    if (s->in_use > s->peak)
        s->peak = s->in_use;
}

/* Sized frees skip the size lookup, but only while every size Lua
 * reports is the one tunalloc was asked for. */
TALUA_INLINE void release(talua_state *s, void *ptr, size_t osize)
{
    if (s->unsized_frees)
        ta_tcache_free(s->tc, ptr);
    else
        ta_tcache_free_sized(s->tc, ptr, osize);
    note_size(s, osize, 0);
    s->nfree++;
}

/* With ptr NULL, osize is Lua's type tag and not a size. */
TALUA_INLINE void *fresh(talua_state *s, size_t tag, size_t nsize)
{
    if (over_limit(s, nsize)) {
        s->nfail++;
        return NULL;
    }
    void *p = ta_tcache_malloc(s->tc, nsize);
    if (p == NULL) {
        s->nfail++;
        return NULL;
    }
    int k = tag_kind(tag);
    s->type_count[k]++;
    s->type_bytes[k] += nsize;
    s->nalloc++;
    note_size(s, 0, nsize);
    return p;
}

/* Lua treats a failed shrink as fatal, so a shrink that tunalloc cannot
 * move keeps the old block, and frees turn unsized from then on. */
TALUA_INLINE void *resize(talua_state *s, void *ptr, size_t osize, size_t nsize)
{
    if (nsize > osize && over_limit(s, nsize - osize)) {
        s->nfail++;
        return NULL;
    }
    void *p = ta_tcache_realloc(s->tc, ptr, nsize);
    if (p == NULL) {
        if (nsize > osize) {
            s->nfail++;
            return NULL;
        }
        s->unsized_frees = true;
        p = ptr;
    }
    s->nrealloc++;
    note_size(s, osize, nsize);
    return p;
}

/* One entry point for every request, as lua_Alloc requires. */
void *talua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    talua_state *s = ud;
    if (nsize == 0) {
        if (ptr != NULL)
            release(s, ptr, osize);
        return NULL;
    }
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
    out->nalloc = s->nalloc;
    out->nfree = s->nfree;
    out->nrealloc = s->nrealloc;
    out->nfail = s->nfail;
    memcpy(out->type_count, s->type_count, sizeof out->type_count);
    memcpy(out->type_bytes, s->type_bytes, sizeof out->type_bytes);
    out->arena = ta_arena_index(s->arena);
    out->own_arena = s->own_arena;
    out->installed = s->prev_f != NULL;
}
