/* A C host running several sandboxed Lua scripts, each in its own state
 * and arena with its own memory limit, printing per-state statistics and
 * showing that closing a state gives its arena back.
 *
 *   make build/examples/lua_host && build/examples/lua_host */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "ta_lua.h"

typedef struct sandbox {
    const char *name;
    size_t limit;
    const char *code;
} sandbox;

static const sandbox boxes[] = {
    {"polite", 1 << 20,
     "local t = {} for i = 1, 1000 do t[i] = i * i end return 'sum of squares ok'"},
    {"greedy", 512 << 10,
     "local t = {} for i = 1, 1e8 do t[i] = ('%08d'):format(i) end"},
    {"strings", 4 << 20,
     "local parts = {} for i = 1, 20000 do parts[i] = tostring(i) end\n"
     "return ('built %d bytes'):format(#table.concat(parts, ','))"},
    {"recovers", 256 << 10,
     "local ok, err = pcall(function() local t = {} for i = 1, 1e8 do t[i] = {} end end)\n"
     "collectgarbage()\n"
     "return ok and 'no limit hit?' or 'caught: ' .. tostring(err)"},
};

/* The limit applies on top of the start-up memory (lupa's convention),
 * so both are shown next to what the script holds. */
static void print_stats(const char *name, lua_State *L)
{
    ta_lua_stats_t st;
    if (ta_lua_stats(L, &st) != 0)
        return;
    printf("  %-8s arena %-3u limit %8zu + start-up %6zu  in use %8zu  peak %8zu"
           "  allocs %6llu  refused %llu\n", name, st.arena, st.limit, st.baseline,
           st.in_use, st.peak, (unsigned long long)st.nalloc,
           (unsigned long long)st.nfail);
    printf("           created: strings %llu B, tables %llu B, functions %llu B,"
           " userdata %llu B, threads %llu B, other %llu B\n",
           (unsigned long long)st.type_bytes[TA_LUA_T_STRING],
           (unsigned long long)st.type_bytes[TA_LUA_T_TABLE],
           (unsigned long long)st.type_bytes[TA_LUA_T_FUNCTION],
           (unsigned long long)st.type_bytes[TA_LUA_T_USERDATA],
           (unsigned long long)st.type_bytes[TA_LUA_T_THREAD],
           (unsigned long long)st.type_bytes[TA_LUA_T_OTHER]);
}

/* Each script runs protected: a sandbox that runs out of memory reports
 * it, and the host carries on with the next one. */
static lua_State *run_box(const sandbox *b)
{
    ta_lua_opts o;
    ta_lua_opts_init(&o);
    o.limit = b->limit;
    lua_State *L = ta_lua_newstate(&o);
    if (L == NULL) {
        printf("%-8s could not start\n", b->name);
        return NULL;
    }
    int st = luaL_loadstring(L, b->code);
    if (st == LUA_OK)
        st = lua_pcall(L, 0, 1, 0);
    const char *res = lua_tostring(L, -1);
    printf("%-8s %s: %s\n", b->name, st == LUA_OK ? "ok" : "error",
           res ? res : "(no result)");
    lua_pop(L, 1);
    return L;
}

/* Mapped memory before and after closing shows arenas going back. */
static size_t mapped_bytes(void)
{
    uint64_t one = 1;
    size_t v = 0, len = sizeof v;
    ta_ctl("epoch", NULL, NULL, &one, sizeof one);
    return ta_ctl("stats.mapped", &v, &len, NULL, 0) == 0 ? v : 0;
}

/* All states stay open until every script ran, so the stats can be
 * compared side by side before the arenas are destroyed. */
int main(void)
{
    enum { N = sizeof boxes / sizeof *boxes };
    lua_State *states[N];
    for (int i = 0; i < N; i++)
        states[i] = run_box(&boxes[i]);
    printf("\nper-state statistics:\n");
    for (int i = 0; i < N; i++)
        if (states[i] != NULL)
            print_stats(boxes[i].name, states[i]);
    size_t before = mapped_bytes();
    printf("\nclosing:\n");
    for (int i = 0; i < N; i++) {
        if (states[i] == NULL)
            continue;
        ta_lua_stats_t st;
        ta_lua_stats(states[i], &st);
        ta_lua_close(states[i]);
        printf("  %-8s closed, arena %u %s\n", boxes[i].name, st.arena,
               ta_arena_get(st.arena) == NULL ? "arena destroyed" : "still exists");
    }
    printf("stats.mapped: %zu bytes before closing, %zu after\n", before,
           mapped_bytes());
    return 0;
}
