/* A fork taken while another thread refreshes the epoch leaves the child
 * with usable control locks (the fork handlers take and reset them). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tunalloc.h"

static atomic_bool stop;
static atomic_int poller_failures;

static void *poller(void *arg)
{
    (void)arg;
    do {
        uint64_t e = 1;
        size_t v = 0, len = sizeof(v);
        if (ta_ctl("epoch", NULL, NULL, &e, sizeof(e)) != 0 ||
            ta_ctl("stats.allocated", &v, &len, NULL, 0) != 0)
            atomic_fetch_add(&poller_failures, 1);
    } while (!atomic_load(&stop));
    return NULL;
}

/* The child only talks to the control namespace, then exits; alarm turns
 * a deadlock on a lock inherited from the parent into a failure. */
static int child(void)
{
    alarm(30);
    uint64_t e = 1;
    size_t v = 0, len = sizeof(v);
    unsigned tc = 0;
    size_t tlen = sizeof(tc);
    bool ok = ta_ctl("epoch", NULL, NULL, &e, sizeof(e)) == 0 &&
              ta_ctl("stats.allocated", &v, &len, NULL, 0) == 0 &&
              ta_ctl("tcache.create", &tc, &tlen, NULL, 0) == 0 &&
              ta_ctl("tcache.destroy", NULL, NULL, &tc, sizeof(tc)) == 0;
    return ok ? 0 : 1;
}

static void test_fork_while_polling(void)
{
    const unsigned forks = 20 * test_scale();
    void *keep = ta_malloc(1000);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, poller, NULL), 0);
    for (unsigned k = 0; k < forks; k++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(child());
        CHECK(pid > 0);
        int status = 0;
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    atomic_store(&stop, true);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(atomic_load(&poller_failures), 0);
    ta_free(keep);
}

int main(void)
{
    RUN(test_fork_while_polling);
    return TEST_EXIT();
}
