/*
 * tunalloc for Lua 5.4 hosts: states whose lua_Alloc is tunalloc, with
 * per-state accounting, a hard per-state limit and an arena of their own.
 *
 * A state is used by one thread at a time (Lua's own rule), so each state
 * allocates through an explicit tunalloc cache bound to it: no lock and no
 * thread-local lookup on Lua's allocation path.
 */
#ifndef TA_LUA_H
#define TA_LUA_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "tunalloc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Garbage-collector mode a new state starts in. Lua's embedded default is
 * incremental; the lua5.4 interpreter switches to generational. */
typedef enum ta_lua_gc {
    TA_LUA_GC_DEFAULT = 0, /* leave Lua's default (incremental) */
    TA_LUA_GC_INCREMENTAL,
    TA_LUA_GC_GENERATIONAL
} ta_lua_gc;

typedef struct ta_lua_opts {
    /* NULL: the state gets an arena of its own, destroyed by ta_lua_close
     * (its memory goes back to the OS). Otherwise a shared arena the
     * caller keeps alive longer than the state (the state's cache keeps
     * ta_arena_destroy from taking it while the state is open: EBUSY); a
     * destroyed arena makes ta_lua_newstate fail with EINVAL. */
    ta_arena_t *arena;
    size_t limit;              /* bytes Lua may hold; 0 = no limit */
    int limit_counts_startup;  /* 0: memory in use once the state is set
                                  up is not counted (lupa's default) */
    int openlibs;              /* open the standard libraries (protected) */
    ta_lua_gc gc;
    /* Once Lua holds this many bytes, the state's own arena (arena NULL)
     * asks for transparent huge pages (ta_arena_huge_pages): a big heap's
     * collections walk it faster, while small states, which a 2 MiB page
     * would mostly waste, never get them. 0 = never. */
    size_t huge_pages_at;
} ta_lua_opts;

/* huge_pages_at's default. */
#define TA_LUA_HUGE_PAGES_AT ((size_t)4 << 20)

/* Object kinds of the per-type counters, from Lua's allocation type tags. */
enum {
    TA_LUA_T_STRING,
    TA_LUA_T_TABLE,
    TA_LUA_T_FUNCTION,
    TA_LUA_T_USERDATA,
    TA_LUA_T_THREAD,
    TA_LUA_T_OTHER, /* prototypes, upvalues, arrays, buffers, stacks */
    TA_LUA_NTYPES
};

typedef struct ta_lua_stats {
    size_t in_use;    /* bytes Lua holds now (sizes Lua requested) */
    size_t peak;      /* high-water mark of in_use */
    size_t limit;     /* current limit; 0 = none */
    size_t baseline;  /* in_use not counted against the limit */
    uint64_t nalloc;  /* new blocks */
    uint64_t nfree;   /* blocks freed */
    uint64_t nrealloc; /* blocks resized */
    uint64_t nfail;   /* requests refused (limit or out of memory) */
    /* New objects by kind since the state was made: count and bytes. */
    uint64_t type_count[TA_LUA_NTYPES];
    uint64_t type_bytes[TA_LUA_NTYPES];
    unsigned arena;   /* index of the arena the state allocates from */
    int own_arena;    /* 1 if ta_lua_close destroys that arena */
    int installed;    /* 1 if tunalloc was installed over another
                         allocator (ta_lua_install), 0 if the state was
                         made by ta_lua_newstate */
    size_t cached;    /* bytes in blocks the state's cache holds for
                         reuse (filled from the arena or freed by Lua):
                         not in in_use, not free in the arena either;
                         ta_lua_flush gives them back */
    int huge_pages;   /* 1 once the state's own arena asks for
                         transparent huge pages (huge_pages_at) */
} ta_lua_stats_t;

/* Defaults: own arena, no limit, start-up excluded, libraries opened,
 * Lua's default GC mode, huge pages from TA_LUA_HUGE_PAGES_AT. */
TA_API void ta_lua_opts_init(ta_lua_opts *opts);

/* A new state on tunalloc. NULL opts = defaults. Returns NULL with errno
 * set (ENOMEM: the limit or memory ran out while setting the state up,
 * EINVAL: bad options) and leaks nothing. */
TA_API lua_State *ta_lua_newstate(const ta_lua_opts *opts);

/* Closes a state made by ta_lua_newstate (finalizers run), then releases
 * its cache and, for an own arena, destroys the arena. 0; EINVAL if L is
 * not such a state or was closed already (it is then left untouched); or
 * the error of ta_arena_destroy (the state is closed, the arena stays).
 * The other calls below must not be given a closed state. */
TA_API int ta_lua_close(lua_State *L);

/* This state's counters. 0, or EINVAL if L does not allocate through
 * tunalloc (neither ta_lua_newstate nor ta_lua_install). */
TA_API int ta_lua_stats(lua_State *L, ta_lua_stats_t *out);

/* Changes the limit (0 = none) of a running state; takes effect at the
 * next allocation. Memory already held above it is kept; growth fails
 * until the state is back under it. 0 or EINVAL. */
TA_API int ta_lua_setlimit(lua_State *L, size_t limit);

/* Returns the blocks the state's cache holds to its arena, where decay
 * or a purge can give their pages back: for a host parking an idle
 * state. Call it between calls into the state, like ta_lua_stats. 0, or
 * EINVAL if L does not allocate through tunalloc. */
TA_API int ta_lua_flush(lua_State *L);

/* Switches a running state (made by lua_newstate/luaL_newstate) to
 * tunalloc with lua_setallocf. New blocks come from tunalloc (arena NULL:
 * the calling thread's arena); blocks made before the switch are freed
 * and shrunk by the allocator that made them, and moved to tunalloc by
 * copy when they grow. The wrapper frees itself when lua_close frees the
 * state's main block. 0; EEXIST if L already runs on tunalloc; EINVAL
 * if arena was destroyed; ENOMEM. */
TA_API int ta_lua_install(lua_State *L, ta_arena_t *arena);

/* The Lua library (require "tunalloc"). tunalua links it in and preloads
 * it, so the interpreter and the library share one allocator. */
TA_API int luaopen_tunalloc(lua_State *L);

#ifdef __cplusplus
}
#endif
#endif
