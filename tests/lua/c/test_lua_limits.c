/* The per-state limit in every phase: start-up (luaL_openlibs), running
 * scripts, finalizers, lua_close, tiny limits, and live changes. */
#include <errno.h>
#include <unistd.h>

#include "lua_test_util.h"

static lua_State *limited(size_t limit, int counts_startup, ta_arena_t *arena)
{
    ta_lua_opts o;
    ta_lua_opts_init(&o);
    o.limit = limit;
    o.limit_counts_startup = counts_startup;
    o.arena = arena;
    return ta_lua_newstate(&o);
}

/* A limit smaller than Lua needs to start ends in NULL/ENOMEM, never a
 * panic, and leaves nothing behind in the arena. */
static void test_tiny_limits_at_startup(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    CHECK(a != NULL);
    int failed = 0, made = 0;
    for (size_t limit = 1; limit <= (1u << 20); limit *= 2) {
        errno = 0;
        lua_State *L = limited(limit, 1, a);
        if (L == NULL) {
            CHECK_EQ(errno, ENOMEM);
            failed++;
        } else {
            CHECK(run_ok(L, "local t = {} for i = 1, 10 do t[i] = i end"));
            CHECK_EQ(ta_lua_close(L), 0);
            made++;
        }
        CHECK_EQ(arena_allocated(ta_arena_index(a)), 0);
    }
    CHECK(failed > 5);  /* 1 byte .. 32 KiB cannot hold the libraries */
    CHECK(made > 0);    /* 1 MiB can */
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* Excluding start-up (the default) lets a tiny limit apply to the
 * script only: the state starts, and the script's growth is refused. */
static void test_tiny_limit_excluding_startup(void)
{
    lua_State *L = limited(64, 0, NULL);
    CHECK(L != NULL);
    char err[256];
    CHECK_EQ(run_chunk(L, "local t = {} for i = 1, 1e5 do t[i] = i end", err,
                       sizeof err), LUA_ERRMEM);
    CHECK(strstr(err, "not enough memory") != NULL);
    CHECK_EQ(ta_lua_close(L), 0);
}

/* A script over the limit gets a catchable error; the state stays usable
 * and never holds more than the limit allows. */
static void test_script_limit_catchable(void)
{
    lua_State *L = limited(256 << 10, 0, NULL);
    CHECK(L != NULL);
    CHECK(run_ok(L,
        "local ok, msg = pcall(function()\n"
        "  local t = {} for i = 1, 1e7 do t[i] = ('x'):rep(64) .. i end end)\n"
        "assert(not ok and msg:find('not enough memory'), tostring(msg))\n"
        "collectgarbage()\n"
        "local s = {} for i = 1, 100 do s[i] = i end\n"
        "assert(#s == 100)"));
    ta_lua_stats_t st;
    ta_lua_stats(L, &st);
    CHECK(st.nfail > 0);
    CHECK(st.peak <= st.baseline + st.limit);
    CHECK(run_ok(L, "x = string.rep('y', 1000)"));
    CHECK_EQ(ta_lua_close(L), 0);
}

static int finalized;

static int note_finalized(lua_State *L)
{
    (void)L;
    finalized++;
    return 0;
}

/* Finalizers that allocate, under a limit that refuses them, run during
 * collection and during lua_close (every one of them, counted from C);
 * their errors become warnings and the host survives. */
static void test_finalizers_under_limit(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    lua_State *L = limited(128 << 10, 0, a);
    CHECK(L != NULL);
    finalized = 0;
    lua_register(L, "note", note_finalized);
    CHECK(run_ok(L,
        "local mt = {__gc = function(o)\n"
        "  note()\n"
        "  local t = {} for i = 1, 1e6 do t[i] = ('z'):rep(100) .. i end end}\n"
        "for i = 1, 50 do setmetatable({}, mt) end\n"
        "for i = 1, 20 do collectgarbage() end\n"
        "keep = {} for i = 1, 50 do keep[i] = setmetatable({}, mt) end"));
    CHECK(finalized > 0);
    ta_lua_stats_t st;
    ta_lua_stats(L, &st);
    CHECK(st.nfail > 0);
    CHECK(run_ok(L, "local s = ('ok'):rep(10)"));
    CHECK_EQ(ta_lua_close(L), 0);
    CHECK_EQ(finalized, 100);
    CHECK_EQ(arena_allocated(ta_arena_index(a)), 0);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* Dropping the limit below what the state holds must not break frees,
 * shrinks or lua_close, and lifting it restores growth. */
static void test_limit_changed_while_running(void)
{
    lua_State *L = limited(0, 0, NULL);
    CHECK(L != NULL);
    preload_tunalloc(L);
    CHECK(run_ok(L, "big = {} for i = 1, 2e4 do big[i] = 'v' .. i end"));
    ta_lua_stats_t st;
    ta_lua_stats(L, &st);
    CHECK_EQ(ta_lua_setlimit(L, st.in_use - st.baseline), 0);
    char err[256];
    CHECK_EQ(run_chunk(L, "local t = {} for i = 1, 1e5 do t[i] = {} end", err,
                       sizeof err), LUA_ERRMEM);
    CHECK(run_ok(L, "big = nil collectgarbage()"));
    ta_lua_stats(L, &st);
    CHECK(st.in_use < st.baseline + st.limit);
    CHECK(run_ok(L,
        "local tunalloc = require 'tunalloc'\n"
        "local old = tunalloc.setlimit(0)\n"
        "assert(old > 0)\n"
        "local t = {} for i = 1, 1e5 do t[i] = {} end\n"
        "assert(tunalloc.state().limit == 0)\n"
        "tunalloc.setlimit(tunalloc.state().in_use - tunalloc.state().baseline)\n"
        "t = nil\n"
        "assert(not pcall(function() local u = {} for i = 1, 1e6 do u[i] = i end end))"));
    CHECK_EQ(ta_lua_close(L), 0);
}

/* The stock allocator's semantics for the same program: with no limit
 * the program completes, which is what the limit is measured against. */
static void test_no_limit_completes(void)
{
    lua_State *L = limited(0, 0, NULL);
    CHECK(L != NULL);
    CHECK(run_ok(L, "local t = {} for i = 1, 1e5 do t[i] = ('x'):rep(64) .. i end"));
    ta_lua_stats_t st;
    ta_lua_stats(L, &st);
    CHECK_EQ(st.nfail, 0);
    CHECK(st.peak > (6u << 20));
    CHECK_EQ(ta_lua_close(L), 0);
}

static lua_State *marked(size_t limit, size_t huge_pages_at)
{
    ta_lua_opts o;
    ta_lua_opts_init(&o);
    o.limit = limit;
    o.huge_pages_at = huge_pages_at;
    return ta_lua_newstate(&o);
}

/* Whether the table in global `name` lies in a mapping that asked for
 * huge pages. */
static int global_on_huge_pages(lua_State *L, const char *name)
{
    lua_getglobal(L, name);
    int on = test_mapping_has_flag(lua_topointer(L, -1), " hg");
    lua_pop(L, 1);
    return on;
}

/* The state's own arena asks for huge pages once Lua holds
 * huge_pages_at bytes, not before and not with 0; a state that stays
 * small never does. */
static void test_huge_pages_mark(void)
{
    int thp = access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
    const char *grow = "big = {} for i = 1, 1e5 do big[i] = {i} end";
    ta_lua_stats_t st;
    lua_State *L = marked(0, 1u << 20);
    CHECK(L != NULL);
    CHECK(run_ok(L, "small = {}"));
    ta_lua_stats(L, &st);
    CHECK_EQ(st.huge_pages, 0);
    CHECK_EQ(global_on_huge_pages(L, "small"), 0);
    CHECK(run_ok(L, grow));
    ta_lua_stats(L, &st);
    CHECK_EQ(st.huge_pages, thp);
    CHECK_EQ(st.nfail, 0);
    CHECK_EQ(global_on_huge_pages(L, "big"), thp);
    CHECK_EQ(global_on_huge_pages(L, "small"), thp); /* the segments it had */
    CHECK_EQ(ta_lua_close(L), 0);

    L = marked(0, 0);
    CHECK(L != NULL);
    CHECK(run_ok(L, grow));
    ta_lua_stats(L, &st);
    CHECK_EQ(st.huge_pages, 0);
    CHECK_EQ(global_on_huge_pages(L, "big"), 0);
    CHECK_EQ(ta_lua_close(L), 0);

    L = marked(0, TA_LUA_HUGE_PAGES_AT);
    CHECK(L != NULL);
    CHECK(run_ok(L, "small = {} for i = 1, 1000 do small[i] = {i} end"));
    ta_lua_stats(L, &st);
    CHECK_EQ(st.huge_pages, 0);
    CHECK_EQ(ta_lua_close(L), 0);
}

/* The mark rides on the limit's cap: a limit above it still holds once
 * the mark is passed, and one below it is never lifted by it. */
static void test_limit_across_huge_mark(void)
{
    int thp = access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
    const char *fill =
        "local ok, msg = pcall(function()\n"
        "  local t = {} for i = 1, 1e7 do t[i] = {i} end end)\n"
        "assert(not ok and msg:find('not enough memory'), tostring(msg))";
    static const struct { size_t limit, mark; int on; } cases[] = {
        {3u << 20, 1u << 20, 1}, {512u << 10, 1u << 20, 0}};
    for (int i = 0; i < 2; i++) {
        lua_State *L = marked(cases[i].limit, cases[i].mark);
        CHECK(L != NULL);
        CHECK(run_ok(L, fill));
        ta_lua_stats_t st;
        ta_lua_stats(L, &st);
        CHECK(st.nfail > 0);
        CHECK(st.peak <= st.baseline + st.limit);
        if (cases[i].on) /* the growth went on past the mark */
            CHECK(st.peak > st.baseline + cases[i].mark);
        CHECK_EQ(st.huge_pages, cases[i].on && thp);
        CHECK_EQ(ta_lua_close(L), 0);
    }
}

int main(void)
{
    RUN(test_tiny_limits_at_startup);
    RUN(test_tiny_limit_excluding_startup);
    RUN(test_script_limit_catchable);
    RUN(test_finalizers_under_limit);
    RUN(test_limit_changed_while_running);
    RUN(test_no_limit_completes);
    RUN(test_huge_pages_mark);
    RUN(test_limit_across_huge_mark);
    return TEST_EXIT();
}
