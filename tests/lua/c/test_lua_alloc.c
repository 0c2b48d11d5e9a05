/* The lua_Alloc contract, called directly through lua_getallocf: type
 * tags, sized frees, shrinks that never fail, exact accounting. */
#include <errno.h>

#include "lua_test_util.h"

static lua_State *bare_state(size_t limit)
{
    ta_lua_opts o;
    ta_lua_opts_init(&o);
    o.openlibs = 0;
    o.limit = limit;
    return ta_lua_newstate(&o);
}

static size_t in_use(lua_State *L)
{
    ta_lua_stats_t st;
    CHECK_EQ(ta_lua_stats(L, &st), 0);
    return st.in_use;
}

/* With ptr NULL, osize is a type tag: it must not be taken for a size
 * (in_use grows by nsize alone) and must land in the right kind. */
static void test_type_tags(void)
{
    lua_State *L = bare_state(0);
    CHECK(L != NULL);
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    const int tags[] = {LUA_TSTRING, LUA_TTABLE, LUA_TFUNCTION, LUA_TUSERDATA,
                        LUA_TTHREAD, 0, LUA_NUMTYPES + 1};
    const int kinds[] = {TA_LUA_T_STRING, TA_LUA_T_TABLE, TA_LUA_T_FUNCTION,
                         TA_LUA_T_USERDATA, TA_LUA_T_THREAD, TA_LUA_T_OTHER,
                         TA_LUA_T_OTHER};
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++) {
        ta_lua_stats_t before, after;
        ta_lua_stats(L, &before);
        void *p = f(ud, NULL, (size_t)tags[i], 24);
        CHECK(p != NULL);
        ta_lua_stats(L, &after);
        CHECK_EQ(after.in_use - before.in_use, 24);
        CHECK_EQ(after.type_count[kinds[i]] - before.type_count[kinds[i]], 1);
        CHECK_EQ(after.type_bytes[kinds[i]] - before.type_bytes[kinds[i]], 24);
        f(ud, p, 24, 0);
        CHECK_EQ(in_use(L), before.in_use);
    }
    /* nsize 0 with ptr NULL is a no-op that returns NULL. */
    size_t u = in_use(L);
    CHECK(f(ud, NULL, LUA_TTABLE, 0) == NULL);
    CHECK_EQ(in_use(L), u);
    CHECK_EQ(ta_lua_close(L), 0);
}

/* Sized frees across small, large and huge sizes, with resizes between:
 * osize is always the size last asked for, which ta_free_sized needs. */
static void test_sized_frees(void)
{
    lua_State *L = bare_state(0);
    CHECK(L != NULL);
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    ta_lua_stats_t st;
    ta_lua_stats(L, &st);
    size_t base = st.in_use;
    ta_arena_t *arena = ta_arena_get(st.arena);
    const size_t sizes[] = {1, 8, 17, 100, 4096, 5000, 70000, 3 << 20};
    void *ps[8];
    size_t total = 0;
    for (int i = 0; i < 8; i++) {
        ps[i] = f(ud, NULL, 0, sizes[i]);
        CHECK(ps[i] != NULL);
        CHECK(ta_malloc_usable_size(ps[i]) >= sizes[i]);
        CHECK(ta_arena_of(ps[i]) == arena);
        memset(ps[i], 0x5a, sizes[i]);
        total += sizes[i];
    }
    CHECK_EQ(in_use(L), base + total);
    for (int i = 0; i < 8; i++) {
        size_t grown = sizes[i] * 3 + 1;
        ps[i] = f(ud, ps[i], sizes[i], grown);
        CHECK(ps[i] != NULL);
        CHECK_EQ(((unsigned char *)ps[i])[sizes[i] - 1], 0x5a);
        ps[i] = f(ud, ps[i], grown, sizes[i] / 2 + 1);
        CHECK(ps[i] != NULL);
    }
    for (int i = 0; i < 8; i++)
        CHECK(f(ud, ps[i], sizes[i] / 2 + 1, 0) == NULL);
    CHECK_EQ(in_use(L), base);
    CHECK_EQ(ta_lua_close(L), 0);
}

/* Small blocks moving between classes, thousands at once: far more than
 * a cache stack holds, so the moves take every path (cache hit, a miss
 * that fills, an old block that does not fit back in its full stack).
 * Contents survive every move and the counters stay exact. */
static void test_class_moves(void)
{
    enum { N = 6000, SMALL = 40, BIG = 200 };
    lua_State *L = bare_state(0);
    CHECK(L != NULL);
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    ta_lua_stats_t before, after;
    ta_lua_stats(L, &before);
    static unsigned char *ps[N];
    for (int i = 0; i < N; i++) {
        ps[i] = f(ud, NULL, LUA_TTABLE, SMALL);
        CHECK(ps[i] != NULL);
        memset(ps[i], i & 0xff, SMALL);
    }
    for (int i = 0; i < N; i++) {
        ps[i] = f(ud, ps[i], SMALL, BIG);
        CHECK(ps[i] != NULL);
        CHECK(ps[i][0] == (i & 0xff) && ps[i][SMALL - 1] == (i & 0xff));
        memset(ps[i] + SMALL, ~i & 0xff, BIG - SMALL);
    }
    CHECK_EQ(in_use(L), before.in_use + (size_t)N * BIG);
    for (int i = N - 1; i >= 0; i--) {
        ps[i] = f(ud, ps[i], BIG, SMALL);
        CHECK(ps[i] != NULL);
        for (int k = 0; k < SMALL; k++)
            CHECK(ps[i][k] == (i & 0xff));
    }
    for (int i = 0; i < N; i++)
        CHECK(f(ud, ps[i], SMALL, 0) == NULL);
    ta_lua_stats(L, &after);
    CHECK_EQ(after.in_use, before.in_use);
    CHECK_EQ(after.nalloc - before.nalloc, N);
    CHECK_EQ(after.nfree - before.nfree, N);
    CHECK_EQ(after.nrealloc - before.nrealloc, 2 * N);
    CHECK_EQ(after.type_count[TA_LUA_T_TABLE] - before.type_count[TA_LUA_T_TABLE], N);
    CHECK_EQ(after.nfail, before.nfail);
    CHECK_EQ(ta_lua_close(L), 0);
}

/* Over the limit, growth fails but shrinks and frees still work. */
static void test_shrink_never_fails(void)
{
    lua_State *L = bare_state(0);
    CHECK(L != NULL);
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    void *p = f(ud, NULL, LUA_TSTRING, 100000);
    CHECK(p != NULL);
    CHECK_EQ(ta_lua_setlimit(L, 1), 0);
    CHECK(f(ud, NULL, LUA_TTABLE, 16) == NULL);
    CHECK(f(ud, p, 100000, 200000) == NULL);
    void *q = f(ud, p, 100000, 10);
    CHECK(q != NULL);
    CHECK(f(ud, q, 10, 0) == NULL);
    ta_lua_stats_t st;
    ta_lua_stats(L, &st);
    CHECK(st.nfail >= 2);
    CHECK_EQ(ta_lua_setlimit(L, 0), 0);
    CHECK_EQ(ta_lua_close(L), 0);
}

/* Absurd sizes fail cleanly with or without a limit. */
static void test_absurd_sizes(void)
{
    lua_State *L = bare_state(1 << 20);
    CHECK(L != NULL);
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    CHECK(f(ud, NULL, 0, SIZE_MAX) == NULL);
    CHECK(f(ud, NULL, 0, SIZE_MAX / 2) == NULL);
    ta_lua_setlimit(L, 0);
    CHECK(f(ud, NULL, 0, SIZE_MAX - 4096) == NULL);
    CHECK_EQ(ta_lua_close(L), 0);
}

/* The host API refuses states it did not make, and bad options. */
static void test_bad_input(void)
{
    ta_lua_stats_t st;
    CHECK_EQ(ta_lua_stats(NULL, &st), EINVAL);
    CHECK_EQ(ta_lua_setlimit(NULL, 1), EINVAL);
    CHECK_EQ(ta_lua_close(NULL), EINVAL);
    CHECK_EQ(ta_lua_install(NULL, NULL), EINVAL);
    lua_State *stock = luaL_newstate();
    CHECK_EQ(ta_lua_stats(stock, &st), EINVAL);
    CHECK_EQ(ta_lua_close(stock), EINVAL);
    lua_close(stock);
    ta_lua_opts o;
    ta_lua_opts_init(&o);
    o.gc = (ta_lua_gc)42;
    errno = 0;
    CHECK(ta_lua_newstate(&o) == NULL);
    CHECK_EQ(errno, EINVAL);
    lua_State *L = ta_lua_newstate(NULL);
    CHECK(L != NULL);
    CHECK_EQ(ta_lua_stats(L, NULL), EINVAL);
    CHECK_EQ(ta_lua_install(L, NULL), EEXIST);
    CHECK_EQ(ta_lua_close(L), 0);
}

int main(void)
{
    RUN(test_type_tags);
    RUN(test_sized_frees);
    RUN(test_class_moves);
    RUN(test_shrink_never_fails);
    RUN(test_absurd_sizes);
    RUN(test_bad_input);
    return TEST_EXIT();
}
