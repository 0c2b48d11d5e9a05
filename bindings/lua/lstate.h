/* Internal to the Lua binding: the per-state allocator record that
 * lua_Alloc receives as its ud, and the accounting around it. */
#ifndef TA_LUA_LSTATE_H
#define TA_LUA_LSTATE_H

#include <stdbool.h>

#include "ta_lua.h"

#define TALUA_HIDDEN __attribute__((visibility("hidden")))

typedef struct talua_state {
    ta_sized_t sized;     /* first: talua_failed gets its address; its
                             explicit cache serves the single-threaded state */
    ta_arena_t *arena;
    bool own_arena;       /* destroyed with the state */
    lua_Alloc prev_f;     /* installed mode: the allocator we wrap */
    void *prev_ud;
    void *main_block;     /* installed mode: freeing it ends the state */
    size_t limit, baseline;
    size_t cap;           /* in_use may reach limit + baseline; SIZE_MAX
                             when there is no limit (set by talua_set_limit);
                             lower while huge_mark is set */
    size_t huge_mark;     /* in_use past which the own arena asks for huge
                             pages; 0 = none (asked already, or never) */
    bool huge_pages;      /* it asked, and the kernel took it */
    size_t in_use, peak;
    uint64_t nfree, nrealloc, nfail;
    uint64_t type_count[TA_LUA_NTYPES]; /* their sum is nalloc */
    uint64_t type_bytes[TA_LUA_NTYPES];
    unsigned pending_kind; /* type of the block being asked for, counted */
    lua_State *L;         /* made by ta_lua_newstate: the state, and the */
    struct talua_state *next_open; /* list of states not closed yet */
} talua_state;

/* lua_Alloc of states made by ta_lua_newstate. */
TALUA_HIDDEN void *talua_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
/* lua_Alloc installed over another allocator by ta_lua_install. */
TALUA_HIDDEN void *talua_alloc_wrapped(void *ud, void *ptr, size_t osize,
                                       size_t nsize);
/* The same two counting for the heap profile (ta_sized_count_*),
 * installed by profile_start. */
TALUA_HIDDEN void *talua_alloc_count(void *ud, void *ptr, size_t osize, size_t nsize);
TALUA_HIDDEN void *talua_alloc_wrapped_count(void *ud, void *ptr, size_t osize,
                                             size_t nsize);
/* Switches L, whose record is s, to the counting lua_Alloc or back. */
TALUA_HIDDEN void talua_set_counting(lua_State *L, talua_state *s, bool count);
/* Forgets the profiled state (profile_start) whose cache this is: called
 * as the cache goes, after its state closed. */
TALUA_HIDDEN void talua_prof_forget(ta_tcache_t *cache);
/* The record of L if L allocates through tunalloc, else NULL. */
TALUA_HIDDEN talua_state *talua_of(lua_State *L);
/* The sized calls' failure callback: takes back what the request counted. */
TALUA_HIDDEN void *talua_failed(ta_sized_t *sized, void *ptr, size_t osize, size_t nsize);
/* Sets the limit (0 = none) and the start-up bytes it does not count. */
TALUA_HIDDEN void talua_set_limit(talua_state *s, size_t limit, size_t baseline);
/* Fills the public stats view of a record. */
TALUA_HIDDEN void talua_fill_stats(const talua_state *s, ta_lua_stats_t *out);

#endif
