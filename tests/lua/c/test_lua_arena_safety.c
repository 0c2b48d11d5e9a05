/* No call of the Lua API frees memory still in use (issue 13 item 4): a
 * script cannot destroy or reset an arena whose blocks are live or that a
 * state allocates from, a state closed twice is EINVAL, and a destroyed
 * arena cannot be given to a new state. */
#include <errno.h>

#include "lua_test_util.h"

/* A state on its own arena with require "tunalloc" loaded as `t`. */
static lua_State *scripting_state(void)
{
    lua_State *L = ta_lua_newstate(NULL);
    CHECK(L != NULL);
    luaL_requiref(L, "tunalloc", luaopen_tunalloc, 0);
    lua_setglobal(L, "t");
    return L;
}

/* Runs code that must fail with an error containing want. */
static void check_refused(lua_State *L, const char *code, const char *want)
{
    char err[512];
    CHECK(run_chunk(L, code, err, sizeof err) != LUA_OK);
    CHECK(strstr(err, want) != NULL);
    if (strstr(err, want) == NULL)
        fprintf(stderr, "'%s' gave '%s', not '%s'\n", code, err, want);
}

/* A block the host holds in an arena survives every way a script has to
 * destroy or reset it, until the script forces it. */
static void test_script_cannot_free_live_blocks(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    CHECK(a != NULL);
    char *p = ta_arena_malloc(a, 1000);
    CHECK(p != NULL);
    memset(p, 'x', 1000);
    lua_State *L = scripting_state();
    char set[64];
    snprintf(set, sizeof set, "i = %u", ta_arena_index(a));
    CHECK(run_ok(L, set));
    const char *tries[] = {
        "t.arena_destroy(i)", "t.arena_reset(i)", "t.arena_destroy(i, false)",
        "t.ctl('arena.' .. i .. '.destroy')", "t.ctl('arena.' .. i .. '.reset')",
    };
    for (size_t k = 0; k < sizeof tries / sizeof *tries; k++)
        check_refused(L, tries[k], "1 live blocks");
    check_refused(L, "t.arena_destroy(i, 1)", "boolean expected");
    CHECK_EQ(ta_check_ptr(p), 0);
    if (ta_check_ptr(p) == 0)
        CHECK(p[0] == 'x' && p[999] == 'x');
    CHECK(run_ok(L, "t.arena_reset(i, true)"));
    CHECK(ta_check_ptr(p) != 0);
    CHECK(run_ok(L, "t.arena_destroy(i)"));
    CHECK(ta_arena_get(ta_arena_index(a)) == NULL);
    check_refused(L, "t.arena_destroy(i)", "no arena");
    check_refused(L, "t.arena_destroy(0)", "is automatic");
    check_refused(L, "t.arena_reset(-1)", "no arena");
    check_refused(L, "t.arena_reset(math.maxinteger, true)", "no arena");
    check_refused(L, "t.arena_reset('x')", "number expected");
    CHECK_EQ(ta_lua_close(L), 0);
}

/* A state allocating from a shared arena keeps it from every script. */
static void test_arena_of_a_running_state_is_refused(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    CHECK(a != NULL);
    ta_lua_opts o;
    ta_lua_opts_init(&o);
    o.arena = a;
    lua_State *user = ta_lua_newstate(&o);
    CHECK(user != NULL);
    CHECK(run_ok(user, "keep = {} for i = 1, 1000 do keep[i] = {i} end"));
    lua_State *L = scripting_state();
    char set[64];
    snprintf(set, sizeof set, "i = %u", ta_arena_index(a));
    CHECK(run_ok(L, set));
    check_refused(L, "t.arena_destroy(i, true)", "is in use");
    check_refused(L, "t.ctl('arena.' .. i .. '.reset')", "live blocks");
    check_refused(L, "t.arena_reset(i, true)", "is in use");
    CHECK(run_ok(user, "for i = 1, 1000 do assert(keep[i][1] == i) end"));
    CHECK_EQ(ta_lua_close(user), 0);
    CHECK(run_ok(L, "t.arena_destroy(i)"));
    CHECK_EQ(ta_lua_close(L), 0);
}

/* The second close of a state is refused, whichever arena it had. */
static void test_close_twice(void)
{
    lua_State *own = ta_lua_newstate(NULL);
    CHECK(own != NULL);
    CHECK(run_ok(own, "x = {} for i = 1, 1000 do x[i] = tostring(i) end"));
    CHECK_EQ(ta_lua_close(own), 0);
    CHECK_EQ(ta_lua_close(own), EINVAL);
    ta_arena_t *a = ta_arena_create(NULL);
    CHECK(a != NULL);
    ta_lua_opts o;
    ta_lua_opts_init(&o);
    o.arena = a;
    lua_State *shared = ta_lua_newstate(&o);
    lua_State *other = ta_lua_newstate(&o);
    CHECK(shared != NULL && other != NULL);
    CHECK_EQ(ta_lua_close(shared), 0);
    CHECK_EQ(ta_lua_close(shared), EINVAL);
    CHECK(run_ok(other, "y = 1"));
    CHECK_EQ(ta_lua_close(other), 0);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* A destroyed arena handed to the host API is EINVAL, not a state on
 * freed metadata. */
static void test_destroyed_arena_handle(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    CHECK(a != NULL);
    CHECK_EQ(ta_arena_destroy(a), 0);
    ta_lua_opts o;
    ta_lua_opts_init(&o);
    o.arena = a;
    errno = 0;
    CHECK(ta_lua_newstate(&o) == NULL);
    CHECK_EQ(errno, EINVAL);
    lua_State *stock = luaL_newstate();
    CHECK(stock != NULL);
    CHECK_EQ(ta_lua_install(stock, a), EINVAL);
    lua_close(stock);
}

int main(void)
{
    RUN(test_script_cannot_free_live_blocks);
    RUN(test_arena_of_a_running_state_is_refused);
    RUN(test_close_twice);
    RUN(test_destroyed_arena_handle);
    return TEST_EXIT();
}
