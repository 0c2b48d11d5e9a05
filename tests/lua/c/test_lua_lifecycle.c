/* What closing gives back, and switching a running state's allocator. */
#include <errno.h>

#include "lua_test_util.h"

static const char *workload =
    "local t = {}\n"
    "for i = 1, 2e4 do t[i] = {i, tostring(i), function() return i end} end\n"
    "local parts = {} for i = 1, 1000 do parts[#parts + 1] = ('%d,'):format(i) end\n"
    "s = table.concat(parts)\n"
    "co = coroutine.wrap(function() for i = 1, 10 do coroutine.yield(i) end end)\n"
    "co() keep = t";

/* A state on a new shared arena that has run the workload. */
static lua_State *worked_state(ta_arena_t **arena)
{
    ta_arena_t *a = ta_arena_create(NULL);
    CHECK(a != NULL);
    ta_lua_opts o;
    ta_lua_opts_init(&o);
    o.arena = a;
    lua_State *L = ta_lua_newstate(&o);
    CHECK(L != NULL);
    CHECK(run_ok(L, workload));
    *arena = a;
    return L;
}

/* A shared arena is back to zero live bytes once its state is closed. */
static void test_close_returns_everything_shared(void)
{
    ta_arena_t *a;
    lua_State *L = worked_state(&a);
    unsigned idx = ta_arena_index(a);
    CHECK(arena_allocated(idx) > (1 << 20));
    ta_lua_stats_t st;
    ta_lua_stats(L, &st);
    CHECK_EQ(st.arena, idx);
    CHECK_EQ(st.own_arena, 0);
    CHECK_EQ(ta_lua_close(L), 0);
    CHECK_EQ(arena_allocated(idx), 0);
    CHECK(ta_arena_get(idx) == a);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* An own arena is destroyed with its state. */
static void test_close_destroys_own_arena(void)
{
    lua_State *L = ta_lua_newstate(NULL);
    CHECK(L != NULL);
    CHECK(run_ok(L, workload));
    ta_lua_stats_t st;
    ta_lua_stats(L, &st);
    CHECK_EQ(st.own_arena, 1);
    CHECK(st.in_use > (1 << 20));
    CHECK(ta_arena_of(lua_topointer(L, LUA_REGISTRYINDEX)) == ta_arena_get(st.arena));
    unsigned idx = st.arena;
    CHECK_EQ(ta_lua_close(L), 0);
    CHECK(ta_arena_get(idx) == NULL);
}

/* A parked state's cache goes back to its arena on ta_lua_flush: the
 * arena's live bytes fall by exactly what the state reported cached,
 * Lua's own bytes do not move, and the state goes on working. */
static void test_flush_parked_state(void)
{
    ta_arena_t *a;
    lua_State *L = worked_state(&a);
    unsigned idx = ta_arena_index(a);
    CHECK(run_ok(L, "keep = nil collectgarbage() collectgarbage()"));
    ta_lua_stats_t before, after;
    ta_lua_stats(L, &before);
    size_t live = arena_allocated(idx);
    CHECK(before.cached > 0);
    CHECK_EQ(ta_lua_flush(L), 0);
    ta_lua_stats(L, &after);
    CHECK_EQ(after.cached, 0);
    CHECK_EQ(after.in_use, before.in_use);
    CHECK_EQ(live - arena_allocated(idx), before.cached);
    CHECK(run_ok(L, workload));
    CHECK_EQ(ta_lua_flush(NULL), EINVAL);
    lua_State *stock = luaL_newstate();
    CHECK_EQ(ta_lua_flush(stock), EINVAL);
    lua_close(stock);
    CHECK_EQ(ta_lua_close(L), 0);
    CHECK_EQ(arena_allocated(idx), 0);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* Switching mid-script: blocks made by the stock allocator keep working
 * (and go back to it), growth of old blocks moves them to tunalloc, and
 * lua_close frees everything through the right allocator (ASan checks
 * that no block crosses over). */
static void test_install_mid_script(void)
{
    lua_State *L = luaL_newstate();
    CHECK(L != NULL);
    luaL_openlibs(L);
    preload_tunalloc(L);
    CHECK(run_ok(L,
        "old = {} for i = 1, 1000 do old[i] = 'before' .. i end\n"
        "old_str = ('q'):rep(5000)\n"
        "local tunalloc = require 'tunalloc'\n"
        "assert(not pcall(tunalloc.state))\n"
        "assert(tunalloc.install() == true)\n"
        "assert(tunalloc.install() == false)\n"
        "assert(tunalloc.state().installed)\n"
        "for i = 1001, 50000 do old[i] = 'after' .. i end\n"
        "new = {} for i = 1, 1000 do new[i] = {i} end\n"
        "for i = 1, 500 do old[i] = nil end collectgarbage()\n"
        "assert(tunalloc.arena_of(new) ~= nil)\n"
        "assert(tunalloc.arena_of(old_str) == nil)\n"
        "local st = tunalloc.state()\n"
        "assert(st.in_use > 0 and st.nalloc > 1000)"));
    lua_getglobal(L, "new");
    CHECK(ta_owns(lua_topointer(L, -1)));
    lua_pop(L, 1);
    lua_getglobal(L, "old_str");
    CHECK(!ta_owns(lua_topointer(L, -1)));
    lua_pop(L, 1);
    ta_lua_stats_t st;
    CHECK_EQ(ta_lua_stats(L, &st), 0);
    CHECK_EQ(st.installed, 1);
    CHECK_EQ(ta_lua_close(L), EINVAL); /* not made by ta_lua_newstate */
    CHECK(run_ok(L, "new = nil old = nil collectgarbage()"));
    lua_close(L);
}

/* After the switch a table's array grows past the huge-mapping size,
 * moving and growing in place: every block must still be recognised as
 * tunalloc's (ta_owns) so the wrapper frees it through tunalloc. */
static void test_install_huge_growth(void)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    preload_tunalloc(L);
    CHECK(run_ok(L,
        "local tunalloc = require 'tunalloc'\n"
        "assert(tunalloc.install())\n"
        "small = {}\n"
        "local big = {} for i = 1, 6e5 do big[i] = i end\n"
        "assert(tunalloc.arena_of(small) ~= nil, 'small block lost')\n"
        "assert(tunalloc.arena_of(big) ~= nil, 'table lost')"));
    lua_getglobal(L, "small");
    CHECK(ta_owns(lua_topointer(L, -1)));
    lua_pop(L, 1);
    lua_close(L);
}

/* Installing into a manual arena puts the state's new blocks there, and
 * closing gives them all back. */
static void test_install_into_arena(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    CHECK_EQ(ta_lua_install(L, a), 0);
    CHECK_EQ(ta_lua_install(L, a), EEXIST);
    CHECK(run_ok(L, workload));
    CHECK(arena_allocated(ta_arena_index(a)) > 0);
    lua_close(L);
    CHECK_EQ(arena_allocated(ta_arena_index(a)), 0);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

int main(void)
{
    RUN(test_close_returns_everything_shared);
    RUN(test_close_destroys_own_arena);
    RUN(test_flush_parked_state);
    RUN(test_install_mid_script);
    RUN(test_install_huge_growth);
    RUN(test_install_into_arena);
    return TEST_EXIT();
}
