/* fork() while another thread makes and closes states, every other one
 * profiled: the child can make and close states of its own (the list of
 * open states is whole, and its lock and that of the profiled states
 * free, in the child), and never hangs. A stress test: without the fork
 * handlers of either lock one run in three to six has a child hang.
 * Not a _mt test: under TSan the core's prefork handler holds more locks
 * than TSan's deadlock detector tracks; test_lua_states_mt covers the
 * lock itself under TSan. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lua_test_util.h"

enum { FORKS = 1000, OPEN = 8 };

static atomic_bool stop;

/* Every other state starts the profile (at a rate that takes no sample),
 * so its close looks for its registration. */
static lua_State *new_state(const ta_lua_opts *o, unsigned n)
{
    lua_State *L = ta_lua_newstate(o);
    TCHECK(L != NULL);
    if (L != NULL && n % 2) {
        luaL_requiref(L, "tunalloc", luaopen_tunalloc, 1);
        lua_pop(L, 1);
        TCHECK(run_chunk(L, "tunalloc.profile_start{sample_bytes = 1 << 40}", NULL, 0) ==
               LUA_OK);
    }
    return L;
}

/* Keeps OPEN states and replaces the oldest again and again: closing it
 * walks the whole list of open states, so forks often land while the
 * list's lock is held. */
static void *churn(void *arg)
{
    (void)arg;
    ta_arena_t *shared = ta_arena_create(NULL);
    TCHECK(shared != NULL);
    ta_lua_opts o;
    ta_lua_opts_init(&o);
    o.arena = shared;
    o.openlibs = 0;
    lua_State *ring[OPEN];
    for (int k = 0; k < OPEN; k++)
        ring[k] = new_state(&o, k);
    for (unsigned k = 0, n = OPEN; !atomic_load(&stop); k = (k + 1) % OPEN, n++) {
        TCHECK(ta_lua_close(ring[k]) == 0);
        ring[k] = new_state(&o, n);
    }
    for (int k = 0; k < OPEN; k++)
        TCHECK(ta_lua_close(ring[k]) == 0);
    TCHECK(ta_arena_destroy(shared) == 0);
    return NULL;
}

/* The child's whole life: a state made and closed, within a deadline. */
static void child(void)
{
    alarm(10);
    ta_lua_opts o;
    ta_lua_opts_init(&o);
    o.openlibs = 0;
    lua_State *L = ta_lua_newstate(&o);
    int ok = L != NULL && ta_lua_close(L) == 0 && ta_lua_close(L) == EINVAL;
    _exit(ok ? 0 : 1);
}

int main(void)
{
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, churn, NULL), 0);
    int failed = 0;
    for (int k = 0; k < FORKS; k++) {
        pid_t pid = fork();
        if (pid == 0)
            child();
        int status = 0;
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    }
    atomic_store(&stop, true);
    pthread_join(t, NULL);
    CHECK_EQ(failed, 0);
    CHECK_EQ(test_thread_failures(), 0);
    printf("%s fork_while_states_open\n", failed ? "FAIL" : "ok  ");
    return TEST_EXIT();
}
