/* Heap profiling of Lua states: profile_start installs the counting
 * lua_Alloc (a block freed is the next one of its class handed out, as
 * without sampling; samples come at the rate), accounting and limits
 * stay exact under it, profile_stop puts the plain one back, and starting
 * and stopping from finalizers, at close too, neither crashes nor leaks. */
#include <errno.h>
#include <stdbool.h>

#include "lua_test_util.h"

/* A rate no test reaches: the state samples (its cache hides its
 * stacks) but takes no sample. */
#define NO_SAMPLE "1 << 40"
#define N 2000

static void set_seed(uint64_t seed)
{
    CHECK_EQ(ta_ctl("prof.seed", NULL, NULL, &seed, sizeof seed), 0);
}

static bool prof_active(void)
{
    bool on = false;
    size_t len = sizeof on;
    CHECK_EQ(ta_ctl("prof.active", &on, &len, NULL, 0), 0);
    return on;
}

static void with_library(lua_State *L)
{
    luaL_requiref(L, "tunalloc", luaopen_tunalloc, 1);
    lua_pop(L, 1);
}

/* A bare state on tunalloc (ta_lua_newstate), or a stock one with
 * tunalloc installed over its allocator. */
static lua_State *profiled_state(bool installed)
{
    lua_State *L;
    if (installed) {
        L = luaL_newstate();
        CHECK(L != NULL);
        CHECK_EQ(ta_lua_install(L, NULL), 0);
    } else {
        ta_lua_opts o;
        ta_lua_opts_init(&o);
        o.openlibs = 0;
        L = ta_lua_newstate(&o);
        CHECK(L != NULL);
    }
    luaL_openlibs(L);
    with_library(L);
    return L;
}

/* A cache starts sampling at its next miss: enough blocks of a size to
 * miss, all freed again. */
static void churn(lua_State *L, size_t size)
{
    static void *v[N];
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++)
            CHECK((v[i] = f(ud, NULL, LUA_TUSERDATA, size)) != NULL);
        for (int i = 0; i < N; i++)
            f(ud, v[i], size, 0);
    }
}

static void close_state(lua_State *L, bool installed)
{
    if (installed)
        lua_close(L);
    else
        CHECK_EQ(ta_lua_close(L), 0);
}

static size_t in_use(lua_State *L)
{
    ta_lua_stats_t st;
    CHECK_EQ(ta_lua_stats(L, &st), 0);
    return st.in_use;
}

/* A state made by ta_lua_newstate counts every byte Lua believes it
 * holds, from its first block: exactly Lua's own count. */
static bool counts_as_lua_does(lua_State *L)
{
    size_t lua_bytes = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
    return in_use(L) == lua_bytes;
}

/* Every block Lua frees is the next one of its class it gets, on a new
 * block and on a resize that moves class: only the counting lua_Alloc
 * does that while the cache samples (the plain one's pops come from a
 * window its frees do not reach). profile_stop puts the plain function
 * back, and counts stay exact throughout. */
static void reuse_order(bool installed)
{
    lua_State *L = profiled_state(installed);
    void *ud;
    lua_Alloc plain = lua_getallocf(L, &ud);
    CHECK(run_ok(L, "tunalloc.profile_start{sample_bytes = " NO_SAMPLE "}"));
    void *cud;
    lua_Alloc f = lua_getallocf(L, &cud);
    CHECK(f != plain);
    CHECK(cud == ud);
    churn(L, 56);
    churn(L, 200);
    ta_lua_stats_t before, after;
    CHECK_EQ(ta_lua_stats(L, &before), 0);
    unsigned same = 0, moved_same = 0;
    for (int i = 0; i < N; i++) {
        void *p = f(ud, NULL, LUA_TTABLE, 56);
        CHECK(p != NULL);
        f(ud, p, 56, 0);
        void *x = f(ud, NULL, LUA_TTABLE, 56);
        same += x == p;
        void *q = f(ud, NULL, LUA_TSTRING, 200);
        f(ud, q, 200, 0);
        void *r = f(ud, x, 56, 200);
        CHECK(r != NULL);
        moved_same += r == q;
        f(ud, r, 200, 0);
    }
    CHECK_EQ(same, N);
    CHECK_EQ(moved_same, N);
    CHECK_EQ(ta_lua_stats(L, &after), 0);
    CHECK_EQ(after.in_use, before.in_use);
    CHECK_EQ(after.nalloc - before.nalloc, 3 * N);
    CHECK_EQ(after.nfree - before.nfree, 3 * N);
    CHECK_EQ(after.nrealloc - before.nrealloc, N);
    CHECK_EQ(after.type_bytes[TA_LUA_T_TABLE] - before.type_bytes[TA_LUA_T_TABLE], 2 * 56 * N);
    CHECK(installed || counts_as_lua_does(L));
    CHECK(run_ok(L, "tunalloc.profile_stop()"));
    CHECK(!prof_active());
    CHECK(lua_getallocf(L, NULL) == plain);
    close_state(L, installed);
}

static void test_reuse_order_newstate(void)
{
    reuse_order(false);
}

static void test_reuse_order_installed(void)
{
    reuse_order(true);
}

static int add_samples(void *arg, const ta_prof_stack *s)
{
    *(uint64_t *)arg += s->alloc_blocks;
    return 0;
}

static uint64_t samples_taken(void)
{
    uint64_t n = 0;
    CHECK_EQ(ta_prof_read(add_samples, &n), 0);
    return n;
}

/* A malloc/free loop through the counting lua_Alloc is sampled at the
 * rate: one sample per sample_bytes of blocks handed out (64-byte class,
 * 4 KiB rate: 64 blocks a sample on average). */
static void test_sample_rate(void)
{
    lua_State *L = profiled_state(false);
    set_seed(7);
    CHECK(run_ok(L, "tunalloc.profile_start{sample_bytes = 4096}"));
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    churn(L, 64);
    uint64_t before = samples_taken();
    const int loops = 200000;
    for (int i = 0; i < loops; i++) {
        void *p = f(ud, NULL, LUA_TTABLE, 64);
        CHECK(p != NULL);
        f(ud, p, 64, 0);
    }
    uint64_t got = samples_taken() - before;
    double expected = loops * 64.0 / 4096;
    CHECK(got > 0.9 * expected && got < 1.1 * expected);
    if (!(got > 0.9 * expected && got < 1.1 * expected))
        fprintf(stderr, "samples %llu, expected %.0f\n", (unsigned long long)got, expected);
    CHECK(run_ok(L, "tunalloc.profile_stop()"));
    CHECK_EQ(ta_lua_close(L), 0);
}

/* The limit is exact under the counting lua_Alloc: growth to the limit
 * passes, a byte more is refused and counted, and a refused request
 * leaves in_use as it was. */
static void test_limit_exact_while_profiling(void)
{
    lua_State *L = profiled_state(false);
    CHECK(run_ok(L, "tunalloc.profile_start{sample_bytes = 1024}"));
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    size_t base = in_use(L);
    ta_lua_stats_t st;
    CHECK_EQ(ta_lua_stats(L, &st), 0);
    CHECK_EQ(ta_lua_setlimit(L, base - st.baseline + 10050), 0);
    void *blocks[100];
    int n = 0;
    size_t used = base;
    while (used + 100 <= base + 10050) {
        blocks[n] = f(ud, NULL, LUA_TSTRING, 100);
        CHECK(blocks[n] != NULL);
        used += 100;
        n++;
    }
    CHECK_EQ(in_use(L), used);
    size_t room = base + 10050 - used;
    uint64_t fails = st.nfail;
    CHECK(f(ud, NULL, LUA_TSTRING, room + 1) == NULL);
    CHECK_EQ(in_use(L), used);
    void *last = f(ud, NULL, LUA_TSTRING, room);
    CHECK(last != NULL);
    CHECK_EQ(in_use(L), base + 10050);
    /* a growth past the limit is refused and leaves the block */
    CHECK(f(ud, last, room, room + 1) == NULL);
    CHECK_EQ(ta_lua_stats(L, &st), 0);
    CHECK_EQ(st.nfail, fails + 2);
    CHECK_EQ(st.in_use, base + 10050);
    f(ud, last, room, 0);
    for (int i = 0; i < n; i++)
        f(ud, blocks[i], 100, 0);
    CHECK_EQ(in_use(L), base);
    CHECK(counts_as_lua_does(L));
    CHECK_EQ(ta_lua_setlimit(L, 0), 0);
    CHECK(run_ok(L, "tunalloc.profile_stop()"));
    CHECK_EQ(ta_lua_close(L), 0);
}

/* Two states profiled at once: stopping in one puts its plain lua_Alloc
 * back and ends sampling for both; the other keeps counting, correctly,
 * until it stops too. */
static void test_two_states(void)
{
    lua_State *A = profiled_state(false), *B = profiled_state(true);
    lua_Alloc fa = lua_getallocf(A, NULL), fb = lua_getallocf(B, NULL);
    const char *work = "local t = {} for i = 1, 20000 do t[i] = {i, tostring(i)} end";
    CHECK(run_ok(A, "tunalloc.profile_start{sample_bytes = 4096}"));
    CHECK(run_ok(B, "tunalloc.profile_start{sample_bytes = 4096}"));
    CHECK(lua_getallocf(A, NULL) != fa && lua_getallocf(B, NULL) != fb);
    CHECK(run_ok(A, work) && run_ok(B, work));
    CHECK(run_ok(A, "tunalloc.profile_stop()"));
    CHECK(lua_getallocf(A, NULL) == fa && lua_getallocf(B, NULL) != fb);
    CHECK(run_ok(A, work) && run_ok(B, work));
    CHECK(run_ok(B, "collectgarbage() tunalloc.profile_stop()"));
    CHECK(lua_getallocf(B, NULL) == fb);
    CHECK(run_ok(A, work) && run_ok(B, work));
    close_state(A, false);
    close_state(B, true);
}

/* profile_start and profile_stop from finalizers, while the state runs
 * and while it closes, in both orders against the state's own first
 * profile_start. Closing must leave no trace in the registry of profiled
 * states: a state leaving one behind for each would fill it after
 * MAX_PROFILED (256) rounds, and a later cache at the same address would
 * have its samples walk the dead state. */
static void test_finalizers(void)
{
    const char *hostile =
        "local t = tunalloc\n"
        "early = setmetatable({}, {__gc = function() t.profile_start{sample_bytes = 4096} end})\n"
        "t.profile_start{sample_bytes = 4096}\n"
        "late = setmetatable({}, {__gc = function() t.profile_stop() t.profile_start() end})\n"
        "for i = 1, 200 do\n"
        "  setmetatable({}, {__gc = function()\n"
        "    if i % 2 == 0 then t.profile_stop() else t.profile_start{sample_bytes = 4096} end\n"
        "  end})\n"
        "  local x = {} for j = 1, 50 do x[j] = tostring(j) end\n"
        "end\n"
        "collectgarbage()\n";
    for (int round = 0; round < 300; round++) {
        bool installed = round % 2;
        lua_State *L = profiled_state(installed);
        CHECK(run_ok(L, hostile));
        close_state(L, installed);
    }
    lua_State *L = profiled_state(false);
    CHECK(run_ok(L, "tunalloc.profile_start() tunalloc.profile_stop()"));
    CHECK_EQ(ta_lua_close(L), 0);
    /* only a finalizer at close started it: a state that never did */
    for (int round = 0; round < 300; round++) {
        L = profiled_state(false);
        CHECK(run_ok(L, "local t = tunalloc\n"
                        "x = setmetatable({}, {__gc = function() "
                        "t.profile_start{sample_bytes = 4096} end})"));
        CHECK_EQ(ta_lua_close(L), 0);
    }
    /* a state sampled without profile_start of its own, whose cache may
     * sit where the last one's was */
    L = profiled_state(false);
    size_t rate = 256;
    bool on = true, off = false;
    CHECK_EQ(ta_ctl("prof.sample_bytes", NULL, NULL, &rate, sizeof rate), 0);
    CHECK_EQ(ta_ctl("prof.active", NULL, NULL, &on, sizeof on), 0);
    CHECK(run_ok(L, "local t = {} for i = 1, 1e4 do t[i] = {i} end"));
    CHECK_EQ(ta_ctl("prof.active", NULL, NULL, &off, sizeof off), 0);
    CHECK_EQ(ta_lua_close(L), 0);
}

/* Start and stop over and over while the state allocates, from Lua and
 * from a coroutine: counts stay exact and everything comes back. */
static void test_start_stop_churn(void)
{
    lua_State *L = profiled_state(false);
    lua_Alloc plain = lua_getallocf(L, NULL);
    CHECK(run_ok(L, "local t = tunalloc\n"
                    "local co = coroutine.wrap(function()\n"
                    "  for i = 1, 1000 do t.profile_start{sample_bytes = 512}\n"
                    "    coroutine.yield() t.profile_stop() coroutine.yield() end\n"
                    "end)\n"
                    "for i = 1, 2000 do co()\n"
                    "  local x = {} for j = 1, 20 do x[j] = {j, tostring(j)} end\n"
                    "  x = string.rep('y', i) end\n"
                    "collectgarbage() collectgarbage()"));
    CHECK(!prof_active());
    CHECK(lua_getallocf(L, NULL) == plain);
    CHECK(counts_as_lua_does(L));
    CHECK_EQ(ta_lua_close(L), 0);
}

int main(void)
{
    RUN(test_reuse_order_newstate);
    RUN(test_reuse_order_installed);
    RUN(test_sample_rate);
    RUN(test_limit_exact_while_profiling);
    RUN(test_two_states);
    RUN(test_finalizers);
    RUN(test_start_stop_churn);
    return TEST_EXIT();
}
