/* fork() while another thread makes and closes states: the child can
 * make and close states of its own (the list of open states is whole and
 * its lock free in the child), and never hangs. A stress test: without
 * the fork handlers of that lock about one run in four has a child hang.
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
    for (int k = 0; k < OPEN; k++) {
        ring[k] = ta_lua_newstate(&o);
        TCHECK(ring[k] != NULL);
    }
    for (unsigned k = 0; !atomic_load(&stop); k = (k + 1) % OPEN) {
        TCHECK(ta_lua_close(ring[k]) == 0);
        ring[k] = ta_lua_newstate(&o);
        TCHECK(ring[k] != NULL);
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
