/* Many states in several threads: own arenas, a shared arena used from
 * every thread at once, limits, and states handed between threads. */
#include <pthread.h>

#include "lua_test_util.h"

#define NTHREADS 4
#define STATES_PER_THREAD 40

static ta_arena_t *shared;

typedef struct job {
    int id;
    int failures;
    lua_State *handoff; /* made here, closed by the next thread */
} job;

static const char *script =
    "local t = {} for i = 1, 3000 do t[i] = ('%d-%s'):format(i, ('x'):rep(i % 50)) end\n"
    "local co = coroutine.wrap(function() for i = 1, 100 do coroutine.yield(i) end end)\n"
    "local s = 0 for i = 1, 100 do s = s + co() end assert(s == 5050)\n"
    "n = #t";

/* One state's life; counts what went wrong instead of CHECKing, since
 * the harness counters are not thread-safe. */
static int one_state(int i)
{
    ta_lua_opts o;
    ta_lua_opts_init(&o);
    o.arena = i % 2 ? shared : NULL;
    o.limit = i % 3 == 0 ? 64 << 10 : 0;
    lua_State *L = ta_lua_newstate(&o);
    if (L == NULL)
        return 1;
    int st = run_chunk(L, script, NULL, 0);
    int bad = o.limit ? st != LUA_ERRMEM : st != LUA_OK;
    ta_lua_stats_t s;
    bad += ta_lua_stats(L, &s) != 0 || (o.limit && s.peak > s.baseline + o.limit);
    bad += run_chunk(L, "y = 1", NULL, 0) != LUA_OK;
    return bad + (ta_lua_close(L) != 0);
}

static void *worker(void *arg)
{
    job *j = arg;
    for (int i = 0; i < STATES_PER_THREAD; i++)
        j->failures += one_state(j->id * STATES_PER_THREAD + i);
    j->handoff = ta_lua_newstate(NULL);
    if (j->handoff == NULL || run_chunk(j->handoff, script, NULL, 0) != LUA_OK)
        j->failures++;
    return NULL;
}

/* The second round closes states the first round's threads made. */
static void *closer(void *arg)
{
    job *j = arg;
    if (run_chunk(j->handoff, "assert(n == 3000) n = nil collectgarbage()",
                  NULL, 0) != LUA_OK)
        j->failures++;
    if (ta_lua_close(j->handoff) != 0)
        j->failures++;
    return NULL;
}

static void test_many_states_many_threads(void)
{
    shared = ta_arena_create(NULL);
    CHECK(shared != NULL);
    pthread_t th[NTHREADS];
    job jobs[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        jobs[i] = (job){.id = i};
        CHECK_EQ(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, closer, &jobs[(i + 1) % NTHREADS]), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(jobs[i].failures, 0);
    CHECK_EQ(arena_allocated(ta_arena_index(shared)), 0);
    CHECK_EQ(ta_arena_destroy(shared), 0);
}

int main(void)
{
    RUN(test_many_states_many_threads);
    return TEST_EXIT();
}
