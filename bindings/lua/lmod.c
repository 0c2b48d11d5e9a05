/* require "tunalloc": this state's counters and limit, switching a
 * running state to tunalloc, and arenas made from Lua. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, RTLD_NODELETE */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lmod.h"

static const char *const kind_names[TA_LUA_NTYPES] = {
    "string", "table", "function", "userdata", "thread", "other",
};

/* Counters exist only for states on tunalloc; say how to get there. */
static talua_state *check_state(lua_State *L, const char *fn)
{
    talua_state *s = talua_of(L);
    if (s == NULL)
        luaL_error(L, "tunalloc.%s: this state does not allocate through "
                   "tunalloc (call tunalloc.install() first)", fn);
    return s;
}

/* Keeps the table builders below one line per field. */
static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

/* Per-kind counters as {string = {count=, bytes=}, ...}. */
static void push_kinds(lua_State *L, const ta_lua_stats_t *st)
{
    lua_createtable(L, 0, TA_LUA_NTYPES);
    for (int k = 0; k < TA_LUA_NTYPES; k++) {
        lua_createtable(L, 0, 2);
        set_int(L, "count", (lua_Integer)st->type_count[k]);
        set_int(L, "bytes", (lua_Integer)st->type_bytes[k]);
        lua_setfield(L, -2, kind_names[k]);
    }
}

/* state(): this state's counters, limit and arena. */
static int l_state(lua_State *L)
{
    ta_lua_stats_t st;
    talua_fill_stats(check_state(L, "state"), &st);
    lua_createtable(L, 0, 16);
    set_int(L, "in_use", (lua_Integer)st.in_use);
    set_int(L, "peak", (lua_Integer)st.peak);
    set_int(L, "limit", (lua_Integer)st.limit);
    set_int(L, "baseline", (lua_Integer)st.baseline);
    set_int(L, "nalloc", (lua_Integer)st.nalloc);
    set_int(L, "nfree", (lua_Integer)st.nfree);
    set_int(L, "nrealloc", (lua_Integer)st.nrealloc);
    set_int(L, "nfail", (lua_Integer)st.nfail);
    set_int(L, "cached", (lua_Integer)st.cached);
    set_int(L, "arena", st.arena);
    lua_pushboolean(L, st.own_arena);
    lua_setfield(L, -2, "own_arena");
    lua_pushboolean(L, st.installed);
    lua_setfield(L, -2, "installed");
    lua_pushboolean(L, st.huge_pages);
    lua_setfield(L, -2, "huge_pages");
    push_kinds(L, &st);
    lua_setfield(L, -2, "types");
    return 1;
}

/* flush(): gives the blocks this state's cache holds back to its arena;
 * returns how many bytes that was. */
static int l_flush(lua_State *L)
{
    talua_state *s = check_state(L, "flush");
    size_t cached = ta_tcache_cached_bytes(s->sized.cache);
    ta_tcache_flush(s->sized.cache);
    lua_pushinteger(L, (lua_Integer)cached);
    return 1;
}

/* setlimit(bytes): 0 removes the limit; returns the previous one. */
static int l_setlimit(lua_State *L)
{
    lua_Integer limit = luaL_checkinteger(L, 1);
    luaL_argcheck(L, limit >= 0, 1, "limit must be >= 0 bytes");
    talua_state *s = check_state(L, "setlimit");
    lua_pushinteger(L, (lua_Integer)s->limit);
    ta_lua_setlimit(L, (size_t)limit);
    return 1;
}

/* Arena indexes from Lua are checked before they reach the core. */
static ta_arena_t *arena_arg(lua_State *L, int arg)
{
    lua_Integer idx = luaL_checkinteger(L, arg);
    ta_arena_t *a = idx >= 0 && idx < TA_ARENAS_ALL
                        ? ta_arena_get((unsigned)idx) : NULL;
    if (a == NULL)
        luaL_error(L, "tunalloc: no arena %I", idx);
    return a;
}

/* install([arena]): true if the state switched, false if it already ran
 * on tunalloc (tunalua, or a second install). */
static int l_install(lua_State *L)
{
    ta_arena_t *a = lua_isnoneornil(L, 1) ? NULL : arena_arg(L, 1);
    int err = ta_lua_install(L, a);
    if (err == ENOMEM)
        return luaL_error(L, "tunalloc.install: out of memory");
    lua_pushboolean(L, err == 0);
    return 1;
}

/* Options are checked by name so a typo fails loudly. Decay times are
 * checked by ta_arena_create, the one place that rule lives; omitting one
 * inherits the default, so its C sentinel is no value to pass here. */
static void arena_opt(lua_State *L, ta_arena_opts *o, const char *key)
{
    lua_Integer v = 0;
    int isint = 0;
    v = lua_tointegerx(L, -1, &isint);
    if (!isint)
        luaL_error(L, "tunalloc.arena_create: option '%s' must be an integer",
                   key);
    if (strcmp(key, "dirty_decay_ms") == 0 && v != TA_DECAY_DEFAULT)
        o->dirty_decay_ms = v;
    else if (strcmp(key, "muzzy_decay_ms") == 0 && v != TA_DECAY_DEFAULT)
        o->muzzy_decay_ms = v;
    else if (strcmp(key, "limit") == 0 && v >= 0)
        o->limit = (size_t)v;
    else if (strcmp(key, "dirty_decay_ms") == 0 ||
             strcmp(key, "muzzy_decay_ms") == 0 || strcmp(key, "limit") == 0)
        luaL_error(L, "tunalloc.arena_create: option '%s' out of range (%I)",
                   key, v);
    else
        luaL_error(L, "tunalloc.arena_create: unknown option '%s' (use "
                   "dirty_decay_ms, muzzy_decay_ms, limit)", key);
}

/* arena_create{dirty_decay_ms=, muzzy_decay_ms=, limit=}: a manual arena
 * for install() or ctl; returns its index. */
static int l_arena_create(lua_State *L)
{
    ta_arena_opts o;
    ta_arena_opts_init(&o);
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 1) != 0) {
            if (lua_type(L, -2) != LUA_TSTRING)
                return luaL_error(L, "tunalloc.arena_create: option names "
                                  "must be strings");
            size_t len;
            const char *key = lua_tolstring(L, -2, &len);
            if (strlen(key) != len)
                return luaL_error(L, "tunalloc.arena_create: option name "
                                  "with a NUL character");
            arena_opt(L, &o, key);
            lua_pop(L, 1);
        }
    }
    ta_arena_t *a = ta_arena_create(&o);
    if (a == NULL && errno == EINVAL)
        return luaL_error(L, "tunalloc.arena_create: decay times must be -1 "
                          "(never), 0 (at once) or up to %I ms",
                          (lua_Integer)TA_DECAY_MS_MAX);
    if (a == NULL)
        return luaL_error(L, "tunalloc.arena_create: %s", strerror(errno));
    lua_pushinteger(L, ta_arena_index(a));
    return 1;
}

/* A manual arena's blocks wait only in caches bound to it, which the
 * core refuses to destroy under (EBUSY), and only a state's thread runs
 * its script: the test and the act do not race this state. The caches
 * this thread owns are flushed first all the same, as ta_arena_live
 * asks. */
void talua_arena_release(lua_State *L, const char *fn, lua_Integer index,
                         bool destroy, bool force)
{
    ta_arena_t *a = index >= 0 && index < TA_ARENAS_ALL
                        ? ta_arena_find((unsigned)index) : NULL;
    if (a == NULL)
        luaL_error(L, "tunalloc.%s: no arena %I", fn, index);
    talua_state *s = talua_of(L);
    if (s != NULL)
        ta_tcache_flush(s->sized.cache);
    ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    size_t blocks = 0, bytes = 0;
    int err = ta_arena_live(a, &blocks, &bytes);
    if (err == 0 && blocks != 0 && !force)
        luaL_error(L, "tunalloc.%s: arena %I still has %I live blocks (%I "
                   "bytes); free what uses them first, or pass force = true "
                   "to free them anyway (unsafe: whatever still uses them "
                   "then crashes the process)", fn, index,
                   (lua_Integer)blocks, (lua_Integer)bytes);
    if (err == 0 && destroy) {
        err = ta_arena_destroy(a);
    } else if (err == 0) {
        char name[48];
        snprintf(name, sizeof name, "arena.%u.reset", (unsigned)index);
        err = ta_ctl(name, NULL, NULL, NULL, 0);
    }
    if (err == EPERM)
        luaL_error(L, "tunalloc.%s: arena %I is automatic; only arenas from "
                   "arena_create can be destroyed or reset", fn, index);
    if (err == EBUSY)
        luaL_error(L, "tunalloc.%s: arena %I is in use (a state or thread "
                   "allocates from it)", fn, index);
    if (err != 0)
        luaL_error(L, "tunalloc.%s: %s", fn, strerror(err));
}

/* Both take (i [, force]); force must be a boolean so a stray second
 * argument cannot free live blocks by accident. */
static int arena_release(lua_State *L, const char *fn, bool destroy)
{
    lua_Integer index = luaL_checkinteger(L, 1);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TBOOLEAN);
    talua_arena_release(L, fn, index, destroy, lua_toboolean(L, 2));
    return 0;
}

/* arena_destroy(i [, force]): manual arenas with nothing live. */
static int l_arena_destroy(lua_State *L)
{
    return arena_release(L, "arena_destroy", true);
}

/* arena_reset(i [, force]): frees every block, keeps the arena. */
static int l_arena_reset(lua_State *L)
{
    return arena_release(L, "arena_reset", false);
}

/* The arena that holds a Lua object, for checking isolation. */
static int l_arena_of(lua_State *L)
{
    const void *p = lua_topointer(L, 1);
    luaL_argexpected(L, p != NULL, 1, "table, userdata, function or thread");
    ta_arena_t *a = ta_arena_of(p);
    if (a == NULL)
        lua_pushnil(L);
    else
        lua_pushinteger(L, ta_arena_index(a));
    return 1;
}

/* Lua unloads C modules in lua_close, but this one's code must outlive
 * that: the installed allocator is called for the frees that follow,
 * and the core's thread-exit hooks and caches live here too. Marking the
 * library RTLD_NODELETE keeps it mapped; linked into a program it is a
 * no-op (the program is never unloaded). */
static void pin_library(void)
{
    Dl_info info;
    if (dladdr((void *)pin_library, &info) == 0 || info.dli_fname == NULL)
        return;
    void *h = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    if (h != NULL)
        dlclose(h);
}

/* One table for the whole library; the ctl and stats parts add theirs. */
int luaopen_tunalloc(lua_State *L)
{
    pin_library();
    static const luaL_Reg fns[] = {
        {"state", l_state},
        {"setlimit", l_setlimit},
        {"flush", l_flush},
        {"install", l_install},
        {"arena_create", l_arena_create},
        {"arena_destroy", l_arena_destroy},
        {"arena_reset", l_arena_reset},
        {"arena_of", l_arena_of},
        {NULL, NULL},
    };
    luaL_newlib(L, fns);
    talua_open_ctl(L);
    talua_open_stats(L);
    talua_open_prof(L);
    lua_pushliteral(L, TA_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushinteger(L, TA_ARENAS_ALL);
    lua_setfield(L, -2, "ARENAS_ALL");
    return 1;
}
