/* Several states profiled at once in several threads: each starts and
 * stops the (process-wide) profile over and over while the others
 * allocate, with and without their counting allocator function, takes
 * snapshots, and closes; counts stay Lua's own and every state's
 * allocator function is the plain one once it stopped. */
#include <pthread.h>
#include <stdbool.h>

#include "lua_test_util.h"

#define NTHREADS 4
#define ROUNDS 12

static const char *script =
    "local t = tunalloc\n"
    "for r = 1, 6 do\n"
    "  t.profile_start{sample_bytes = 8192}\n"
    "  local keep = {} for i = 1, 1500 do keep[i] = {i, ('%d'):format(i)} end\n"
    "  local co = coroutine.wrap(function() for i = 1, 50 do coroutine.yield({i}) end end)\n"
    "  for i = 1, 50 do co() end\n"
    "  if r % 2 == 0 then local s = t.profile_snapshot() assert(type(s) == 'table') end\n"
    "  t.profile_stop()\n"
    "  keep = nil\n"
    "end\n"
    "collectgarbage()";

static bool counts_as_lua_does(lua_State *L)
{
    ta_lua_stats_t st;
    if (ta_lua_stats(L, &st) != 0)
        return false;
    size_t lua_bytes = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
    return st.in_use == lua_bytes;
}

/* Counts what went wrong instead of CHECKing: the harness counters are
 * not thread-safe. */
static void *worker(void *arg)
{
    int *failures = arg;
    for (int r = 0; r < ROUNDS; r++) {
        ta_lua_opts o;
        ta_lua_opts_init(&o);
        lua_State *L = ta_lua_newstate(&o);
        if (L == NULL) {
            (*failures)++;
            continue;
        }
        luaL_requiref(L, "tunalloc", luaopen_tunalloc, 1);
        lua_pop(L, 1);
        lua_Alloc plain = lua_getallocf(L, NULL);
        *failures += run_chunk(L, script, NULL, 0) != LUA_OK;
        *failures += lua_getallocf(L, NULL) != plain;
        *failures += !counts_as_lua_does(L);
        *failures += ta_lua_close(L) != 0;
    }
    return NULL;
}

static void test_states_profiled_at_once(void)
{
    pthread_t th[NTHREADS];
    int failures[NTHREADS] = {0};
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, worker, &failures[i]), 0);
    for (int i = 0; i < NTHREADS; i++) {
        CHECK_EQ(pthread_join(th[i], NULL), 0);
        CHECK_EQ(failures[i], 0);
    }
    bool off = false;
    CHECK_EQ(ta_ctl("prof.active", NULL, NULL, &off, sizeof off), 0);
}

int main(void)
{
    RUN(test_states_profiled_at_once);
    return TEST_EXIT();
}
