/* The host API: making, closing, measuring and limiting Lua states that
 * allocate through tunalloc. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lstate.h"

/* Own arena and lupa's exclusion of start-up memory are the defaults
 * because isolation and "limit what the script does" are what embedders
 * ask for first. */
void ta_lua_opts_init(ta_lua_opts *opts)
{
    opts->arena = NULL;
    opts->limit = 0;
    opts->limit_counts_startup = 0;
    opts->openlibs = 1;
    opts->gc = TA_LUA_GC_DEFAULT;
    opts->huge_pages_at = TA_LUA_HUGE_PAGES_AT;
}

/* States made by ta_lua_newstate and not closed yet, so that closing
 * one twice (or a state made otherwise) is EINVAL, not a read of the
 * freed state. Hosts close states from any thread. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t open_once = PTHREAD_ONCE_INIT;
static talua_state *open_states;

/* Held across fork, so a child forked while another thread makes or
 * closes a state finds the list whole and the lock free. */
static void open_lock_take(void) { pthread_mutex_lock(&open_lock); }
static void open_lock_give(void) { pthread_mutex_unlock(&open_lock); }
static void open_fork_handlers(void)
{
    pthread_atfork(open_lock_take, open_lock_give, open_lock_give);
}

static void open_add(talua_state *s, lua_State *L)
{
    s->L = L;
    pthread_once(&open_once, open_fork_handlers);
    pthread_mutex_lock(&open_lock);
    s->next_open = open_states;
    open_states = s;
    pthread_mutex_unlock(&open_lock);
}

/* Unlinks and returns L's record, or NULL if L is not an open state. */
static talua_state *open_take(lua_State *L)
{
    pthread_mutex_lock(&open_lock);
    talua_state **link = &open_states;
    while (*link != NULL && (*link)->L != L)
        link = &(*link)->next_open;
    talua_state *s = *link;
    if (s != NULL)
        *link = s->next_open;
    pthread_mutex_unlock(&open_lock);
    return s;
}

/* Undoes a record in reverse order, keeping errno; returns what
 * destroying an own arena returned (0 when there is none). */
static int drop_record(talua_state *s)
{
    int e = errno, err = 0;
    if (s->sized.cache != NULL) {
        talua_prof_forget(s->sized.cache);
        ta_tcache_destroy(s->sized.cache);
    }
    if (s->own_arena)
        err = ta_arena_destroy(s->arena);
    ta_free(s);
    errno = e;
    return err;
}

/* The record outlives the state (lua_close still allocates through it),
 * so it comes from tunalloc's default arena, not the state's own. */
static talua_state *new_record(ta_arena_t *shared)
{
    talua_state *s = ta_calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->arena = shared;
    if (shared == NULL) {
        s->arena = ta_arena_create(NULL);
        if (s->arena == NULL) {
            drop_record(s);
            return NULL;
        }
        s->own_arena = true;
    }
    s->sized.cache = ta_tcache_create(s->arena);
    if (s->sized.cache == NULL) {
        drop_record(s);
        return NULL;
    }
    s->sized.free_cache = s->sized.cache;
    s->sized.failed = talua_failed;
    talua_set_limit(s, 0, 0);
    return s;
}

/* Lua calls this before abort() when an error escapes every protected
 * call; saying why is all a host-less state can do. */
static int on_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "tunalloc lua: unprotected error: %s\n",
            msg ? msg : "(error object is not a string)");
    return 0;
}

/* luaL_openlibs raises on a memory error; running it protected turns a
 * tiny limit into an error the host sees instead of a panic. */
static int open_libs(lua_State *L)
{
    luaL_openlibs(L);
    return 0;
}

/* lauxlib builds the metatable of its string buffers (string.rep, gsub,
 * table.concat...) at their first growth past the stack buffer, in steps;
 * a memory error between them leaves it registered without __close, and
 * every later large buffer fails ("got a non-closable value") for the
 * life of the state. One growth now, before any limit applies, builds
 * it whole. */
static int build_buffer_metatable(lua_State *L)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_prepbuffsize(&b, LUAL_BUFFERSIZE + 1);
    luaL_pushresult(&b);
    return 0;
}

static int arm_buffers(lua_State *L)
{
    lua_pushcfunction(L, build_buffer_metatable);
    int st = lua_pcall(L, 0, 0, 0);
    if (st != LUA_OK)
        lua_pop(L, 1);
    return st;
}

/* Start-up steps that can fail; the state is closed by the caller. */
static int set_up(lua_State *L, const ta_lua_opts *opts)
{
    lua_atpanic(L, on_panic);
    int armed = arm_buffers(L);
    if (armed != LUA_OK)
        return armed == LUA_ERRMEM ? ENOMEM : EIO;
    if (opts->openlibs) {
        lua_pushcfunction(L, open_libs);
        int st = lua_pcall(L, 0, 0, 0);
        if (st != LUA_OK) {
            lua_pop(L, 1);
            return st == LUA_ERRMEM ? ENOMEM : EIO;
        }
    }
    if (opts->gc == TA_LUA_GC_GENERATIONAL)
        lua_gc(L, LUA_GCGEN, 0, 0);
    else if (opts->gc == TA_LUA_GC_INCREMENTAL)
        lua_gc(L, LUA_GCINC, 0, 0, 0);
    return 0;
}

/* Builds record, cache and arena first so Lua's very first allocation
 * (the state itself) already runs on tunalloc and under the limit. */
lua_State *ta_lua_newstate(const ta_lua_opts *opts)
{
    ta_lua_opts defaults;
    if (opts == NULL) {
        ta_lua_opts_init(&defaults);
        opts = &defaults;
    }
    if (opts->gc < TA_LUA_GC_DEFAULT || opts->gc > TA_LUA_GC_GENERATIONAL) {
        errno = EINVAL;
        return NULL;
    }
    talua_state *s = new_record(opts->arena);
    if (s == NULL)
        return NULL;
    if (s->own_arena)
        s->huge_mark = opts->huge_pages_at;
    talua_set_limit(s, 0, 0);
    if (opts->limit_counts_startup)
        talua_set_limit(s, opts->limit, 0);
    lua_State *L = lua_newstate(talua_alloc, s);
    int err = L == NULL ? ENOMEM : set_up(L, opts);
    if (err != 0) {
        if (L != NULL)
            lua_close(L);
        errno = err;
        drop_record(s);
        return NULL;
    }
    if (!opts->limit_counts_startup)
        talua_set_limit(s, opts->limit, s->in_use);
    open_add(s, L);
    return L;
}

/* The cache must give its blocks back before the arena goes, and the
 * arena goes last so its pages return to the OS in one step. */
int ta_lua_close(lua_State *L)
{
    talua_state *s = L == NULL ? NULL : open_take(L);
    if (s == NULL)
        return EINVAL;
    lua_close(L);
    return drop_record(s);
}

/* Hosts poll this between calls into the state. */
int ta_lua_stats(lua_State *L, ta_lua_stats_t *out)
{
    talua_state *s = L == NULL ? NULL : talua_of(L);
    if (s == NULL || out == NULL)
        return EINVAL;
    talua_fill_stats(s, out);
    return 0;
}

/* The allocator reads the limit on every growth, so a plain store is a
 * live change (the state's thread is the only reader). */
int ta_lua_setlimit(lua_State *L, size_t limit)
{
    talua_state *s = L == NULL ? NULL : talua_of(L);
    if (s == NULL)
        return EINVAL;
    talua_set_limit(s, limit, s->baseline);
    return 0;
}

/* The cache is the state's alone, so its owner may empty it between
 * calls. */
int ta_lua_flush(lua_State *L)
{
    talua_state *s = L == NULL ? NULL : talua_of(L);
    if (s == NULL)
        return EINVAL;
    ta_tcache_flush(s->sized.cache);
    return 0;
}

/* The main thread's block (which holds the global state) starts at its
 * extra space and is the last thing lua_close frees; remembering it lets
 * the wrapper free its own record at exactly that moment. */
static void *main_block(lua_State *L)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    lua_State *main = lua_tothread(L, -1);
    lua_pop(L, 1);
    return lua_getextraspace(main);
}

/* Wrapping instead of replacing keeps blocks made by the previous
 * allocator valid: they go back to it. */
int ta_lua_install(lua_State *L, ta_arena_t *arena)
{
    if (L == NULL)
        return EINVAL;
    if (talua_of(L) != NULL)
        return EEXIST;
    if (arm_buffers(L) != LUA_OK)
        return ENOMEM;
    talua_state *s = ta_calloc(1, sizeof *s);
    if (s == NULL)
        return ENOMEM;
    s->sized.cache = ta_tcache_create(arena);
    if (s->sized.cache == NULL) {
        int err = errno == EINVAL ? EINVAL : ENOMEM;
        ta_free(s);
        return err;
    }
    s->sized.failed = talua_failed;
    s->sized.free_cache = s->sized.cache;
    s->arena = ta_tcache_arena(s->sized.cache);
    talua_set_limit(s, 0, 0);
    s->prev_f = lua_getallocf(L, &s->prev_ud);
    s->main_block = main_block(L);
    lua_setallocf(L, talua_alloc_wrapped, s);
    return 0;
}
