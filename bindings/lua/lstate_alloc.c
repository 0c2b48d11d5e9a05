/* The lua_Alloc functions: Lua 5.4's allocation contract on an explicit
 * tunalloc cache, with the per-state accounting and limit. */
#include <string.h>

#include "lstate.h"

/* Lua calls the allocator through a pointer for every block. The state
 * owns its cache, and the core's sized calls on it (ta_sized_*) do the
 * cache's work; this file only counts. Every path counts first and ends
 * in its sized call, a jump that keeps nothing live across it: a failure
 * comes back through talua_failed, which takes the counts back. The entry
 * point only dispatches (a third of the calls free NULL and must cost
 * next to nothing). */
#define TALUA_INLINE static inline __attribute__((always_inline))
/* noipa: GCC would otherwise clone a path for its constant arguments and
 * shuffle the dispatch's registers into the clone's order */
#if defined(__clang__)
#define TALUA_PATH static __attribute__((noinline))
#else
#define TALUA_PATH static __attribute__((noinline, noipa))
#endif

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

/* The cap also stops at the huge-page mark, so growth that passes it
 * takes the refusal's branch (past_huge_mark) and the path a request
 * takes otherwise has no test of its own for it. */
void talua_set_limit(talua_state *s, size_t limit, size_t baseline)
{
    s->limit = limit;
    s->baseline = baseline;
    s->cap = limit == 0 || limit > SIZE_MAX - baseline ? SIZE_MAX : limit + baseline;
    if (s->huge_mark != 0 && s->huge_mark < s->cap)
        s->cap = s->huge_mark;
}

/* Growth is refused before it happens so Lua can collect and retry: the
 * new in_use, unless it passes the one precomputed cap or overflows
 * (nsize may be absurd). A lowered limit may leave in_use above the cap,
 * which then refuses any growth. */
TALUA_INLINE bool within_limit(const talua_state *s, size_t grow, size_t *in_use)
{
    return !__builtin_add_overflow(s->in_use, grow, in_use) && *in_use <= s->cap;
}

/* A growth refused by the cap: if what stopped it was the huge-page
 * mark and not the limit, the own arena asks for huge pages once, the
 * cap goes back to the limit alone, and the growth goes ahead. */
static bool past_huge_mark(talua_state *s, size_t grow)
{
    if (s->huge_mark == 0)
        return false;
    size_t mark = s->huge_mark, in_use;
    s->huge_mark = 0;
    talua_set_limit(s, s->limit, s->baseline);
    if (!within_limit(s, grow, &in_use)) {
        s->huge_mark = mark;
        talua_set_limit(s, s->limit, s->baseline);
        return false;
    }
    s->huge_pages = ta_arena_huge_pages(s->arena) == 0;
    return true;
}

/* in_use follows the sizes Lua believes its blocks have, so the limit
 * means exactly what the script can observe with collectgarbage. The
 * peak is the highest in_use reached, so it is taken just before in_use
 * falls (a free, a shrink) and when it is read: a growth need not look
 * at it, and one that fails leaves it alone. */
TALUA_INLINE void note_peak(talua_state *s)
{
    if (s->in_use > s->peak)
        s->peak = s->in_use;
}

TALUA_INLINE void *release(talua_state *s, void *ptr, size_t osize)
{
    note_peak(s);
    s->in_use -= osize;
    s->nfree++;
    return ta_sized_free(&s->sized, ptr, osize);
}

/* With ptr NULL, osize is Lua's type tag and not a size; the block's
 * type is kept for talua_failed. The entry point's arguments, so the
 * dispatch hands them on in their registers. Two copies of this path
 * and the next, made by one macro: the plain one and one that counts for
 * the heap profile (the sized calls' counting kind), identical
 * otherwise; the plain one compiles as it did before the counting kind
 * existed (an inline function with a constant flag cost it a move). */
#define TALUA_FRESH(name, sized_alloc)                                           \
    TALUA_PATH void *name(talua_state *s, void *ptr, size_t tag, size_t nsize); \
    TALUA_PATH void *name##_refused(talua_state *s, size_t nsize, size_t tag)   \
    {                                                                            \
        if (past_huge_mark(s, nsize))                                            \
            return name(s, NULL, tag, nsize);                                    \
        s->nfail++;                                                              \
        return NULL;                                                             \
    }                                                                            \
    TALUA_PATH void *name(talua_state *s, void *ptr, size_t tag, size_t nsize)  \
    {                                                                            \
        size_t in_use;                                                           \
        (void)ptr;                                                               \
        if (!within_limit(s, nsize, &in_use))                                    \
            return name##_refused(s, nsize, tag);                                \
        unsigned k = kind_of_tag[tag & 0x0F];                                    \
        s->in_use = in_use;                                                      \
        s->type_count[k]++;                                                      \
        s->type_bytes[k] += nsize;                                               \
        s->pending_kind = k;                                                     \
        return sized_alloc(&s->sized, nsize);                                    \
    }
TALUA_FRESH(fresh, ta_sized_alloc)
TALUA_FRESH(fresh_count, ta_sized_count_alloc)

/* Lua treats a failed shrink as fatal: ta_sized_resize never fails one.
 * luaH_resize reallocates a table's array even when its size stays: a
 * third of all requests in table-heavy scripts. */
#define TALUA_RESIZE(name, sized_resize)                                             \
    TALUA_PATH void *name(talua_state *s, void *ptr, size_t osize, size_t nsize);   \
    TALUA_PATH void *name##_refused(talua_state *s, void *ptr, size_t osize,        \
                                    size_t nsize)                                   \
    {                                                                                \
        if (past_huge_mark(s, nsize - osize))                                        \
            return name(s, ptr, osize, nsize);                                       \
        s->nfail++;                                                                  \
        return NULL;                                                                 \
    }                                                                                \
    TALUA_PATH void *name(talua_state *s, void *ptr, size_t osize, size_t nsize)    \
    {                                                                                \
        if (nsize == osize) {                                                        \
            s->nrealloc++;                                                           \
            return ptr;                                                              \
        }                                                                            \
        if (nsize > osize) {                                                         \
            size_t in_use;                                                           \
            if (!within_limit(s, nsize - osize, &in_use))                            \
                return name##_refused(s, ptr, osize, nsize);                         \
            s->in_use = in_use;                                                      \
        } else {                                                                     \
            note_peak(s);                                                            \
            s->in_use -= osize - nsize;                                              \
        }                                                                            \
        s->nrealloc++;                                                               \
        return sized_resize(&s->sized, ptr, osize, nsize);                           \
    }
TALUA_RESIZE(resize, ta_sized_resize)
TALUA_RESIZE(resize_count, ta_sized_count_resize)

/* A fresh block or a growth the core could not serve: what the request
 * counted is taken back (the peak was not raised for it). */
void *talua_failed(ta_sized_t *sized, void *ptr, size_t osize, size_t nsize)
{
    talua_state *s = (talua_state *)sized;
    if (ptr == NULL) {
        s->in_use -= nsize;
        s->type_count[s->pending_kind]--;
        s->type_bytes[s->pending_kind] -= nsize;
    } else {
        s->nrealloc--;
        s->in_use = s->in_use + osize - nsize;
    }
    s->nfail++;
    return NULL;
}

/* Every request by its kind, inline in every entry point so none jumps
 * to another to dispatch. Frees are the same in both kinds. */
TALUA_INLINE void *dispatch(talua_state *s, void *ptr, size_t osize, size_t nsize, bool count)
{
    if (nsize == 0)
        return ptr != NULL ? release(s, ptr, osize) : NULL;
    if (ptr == NULL)
        return count ? fresh_count(s, ptr, osize, nsize) : fresh(s, ptr, osize, nsize);
    return count ? resize_count(s, ptr, osize, nsize) : resize(s, ptr, osize, nsize);
}

/* One entry point for every request, as lua_Alloc requires. */
void *talua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    return dispatch(ud, ptr, osize, nsize, false);
}

void *talua_alloc_count(void *ud, void *ptr, size_t osize, size_t nsize)
{
    return dispatch(ud, ptr, osize, nsize, true);
}

/* The record of an installed state lives as long as the state: lua_close
 * frees the main block last, so that free is the moment to let go. */
static void end_installed(talua_state *s)
{
    talua_prof_forget(s->sized.cache);
    ta_tcache_destroy(s->sized.cache);
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
    void *p = fresh(s, NULL, 0, nsize);
    if (p == NULL)
        return NULL;
    memcpy(p, ptr, osize);
    s->prev_f(s->prev_ud, ptr, osize, 0);
    return p;
}

/* ta_owns is exact and lock-free, so telling the two allocators' blocks
 * apart costs one lookup per free or resize. */
TALUA_PATH void *owned_or_foreign(talua_state *s, void *ptr, size_t osize, size_t nsize)
{
    if (!ta_owns(ptr))
        return foreign(s, ptr, osize, nsize);
    return dispatch(s, ptr, osize, nsize, false);
}

TALUA_PATH void *owned_or_foreign_count(talua_state *s, void *ptr, size_t osize, size_t nsize)
{
    if (!ta_owns(ptr))
        return foreign(s, ptr, osize, nsize);
    return dispatch(s, ptr, osize, nsize, true);
}

/* New blocks and frees of NULL need no lookup, nor the registers that
 * keep a request across one. */
void *talua_alloc_wrapped(void *ud, void *ptr, size_t osize, size_t nsize)
{
    if (ptr == NULL)
        return dispatch(ud, ptr, osize, nsize, false);
    return owned_or_foreign(ud, ptr, osize, nsize);
}

void *talua_alloc_wrapped_count(void *ud, void *ptr, size_t osize, size_t nsize)
{
    if (ptr == NULL)
        return dispatch(ud, ptr, osize, nsize, true);
    return owned_or_foreign_count(ud, ptr, osize, nsize);
}

/* The library and the host API both need to recognise our states. */
talua_state *talua_of(lua_State *L)
{
    void *ud = NULL;
    lua_Alloc f = lua_getallocf(L, &ud);
    if (f == talua_alloc || f == talua_alloc_wrapped || f == talua_alloc_count ||
        f == talua_alloc_wrapped_count)
        return ud;
    return NULL;
}

/* Both kinds share the record, the cache and the frees, so a block made
 * under one is freed or resized under the other: the switch is
 * lua_setallocf's two stores, between two requests (the state's own
 * thread calls this, from a C function or between calls into Lua). */
void talua_set_counting(lua_State *L, talua_state *s, bool count)
{
    bool installed = s->prev_f != NULL;
    lua_Alloc f = installed ? (count ? talua_alloc_wrapped_count : talua_alloc_wrapped)
                            : (count ? talua_alloc_count : talua_alloc);
    lua_setallocf(L, f, s);
}

/* Keeps the internal record private while giving hosts every counter. */
void talua_fill_stats(const talua_state *s, ta_lua_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->in_use = s->in_use;
    out->peak = s->in_use > s->peak ? s->in_use : s->peak;
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
    out->cached = ta_tcache_cached_bytes(s->sized.cache);
    out->huge_pages = s->huge_pages;
}
