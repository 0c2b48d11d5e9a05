/* Helpers shared by the host-API tests: running chunks and reading an
 * arena's live bytes from the control namespace. */
#ifndef TA_LUA_TEST_UTIL_H
#define TA_LUA_TEST_UTIL_H

#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "harness.h"
#include "ta_lua.h"

/* Runs code protected; returns the status and copies the error text. */
static inline int run_chunk(lua_State *L, const char *code, char *err, size_t errlen)
{
    int st = luaL_loadstring(L, code);
    if (st == LUA_OK)
        st = lua_pcall(L, 0, 0, 0);
    if (st != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        if (err != NULL)
            snprintf(err, errlen, "%s", m ? m : "?");
        lua_pop(L, 1);
    } else if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    return st;
}

/* Runs code that must succeed, printing its error otherwise. */
static inline int run_ok(lua_State *L, const char *code)
{
    char err[256];
    int st = run_chunk(L, code, err, sizeof err);
    if (st != LUA_OK)
        fprintf(stderr, "lua error: %s\n", err);
    return st == LUA_OK;
}

/* Bytes the arena has handed out and not taken back, from a fresh
 * snapshot; -1 if the namespace cannot say. */
static inline long long arena_allocated(unsigned idx)
{
    uint64_t one = 1;
    if (ta_ctl("epoch", NULL, NULL, &one, sizeof one) != 0)
        return -1;
    long long total = 0;
    const char *kinds[] = {"small", "large"};
    for (int k = 0; k < 2; k++) {
        char name[96];
        size_t v = 0, len = sizeof v;
        snprintf(name, sizeof name, "stats.arenas.%u.%s.allocated", idx, kinds[k]);
        if (ta_ctl(name, &v, &len, NULL, 0) != 0)
            return -1;
        total += (long long)v;
    }
    return total;
}

/* Makes `require "tunalloc"` resolve to the linked-in library. */
static inline void preload_tunalloc(lua_State *L)
{
    luaL_requiref(L, "tunalloc", luaopen_tunalloc, 1);
    lua_pop(L, 1);
}

#endif
