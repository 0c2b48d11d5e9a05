/* Threads that start allocating together each get an automatic arena of
 * their own while empty ones are left. The least loaded arena used to be
 * counted as taken only once the thread's cache was made, a mapping
 * later, so threads released together saw the same empty arena, took
 * neighbouring blocks of one slab and wrote the same cache lines (false
 * sharing, what bench/falseshare measures). */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"

enum { WORKERS = 4 };
/* One arena per worker plus the one the main thread is bound to. */
#define CONF "narenas:5"

static pthread_barrier_t start, chosen;
static unsigned arena_of[WORKERS];
static unsigned scale;

static void *worker(void *arg)
{
    unsigned *out = arg;
    pthread_barrier_wait(&start);
    void *p = ta_malloc(8);
    TCHECK(p != NULL);
    size_t len = sizeof *out;
    TCHECK(ta_ctl("thread.arena", out, &len, NULL, 0) == 0);
    /* No one leaves, giving its arena back, before all have chosen. */
    pthread_barrier_wait(&chosen);
    ta_free(p);
    return NULL;
}

static void test_threads_started_together_get_arenas_of_their_own(void)
{
    unsigned rounds = (TEST_SANITIZED ? 200 : 1000) * scale, shared = 0;
    for (unsigned r = 0; r < rounds; r++) {
        pthread_t t[WORKERS];
        CHECK_EQ(pthread_barrier_init(&start, NULL, WORKERS), 0);
        CHECK_EQ(pthread_barrier_init(&chosen, NULL, WORKERS), 0);
        for (unsigned i = 0; i < WORKERS; i++)
            CHECK_EQ(pthread_create(&t[i], NULL, worker, &arena_of[i]), 0);
        for (unsigned i = 0; i < WORKERS; i++)
            CHECK_EQ(pthread_join(t[i], NULL), 0);
        pthread_barrier_destroy(&start);
        pthread_barrier_destroy(&chosen);
        for (unsigned i = 0; i < WORKERS; i++)
            for (unsigned j = i + 1; j < WORKERS; j++)
                shared += arena_of[i] == arena_of[j];
    }
    CHECK_EQ(shared, 0);
    CHECK_EQ(test_thread_failures(), 0);
}

int main(void)
{
    if (setenv("TUNALLOC_CONF", CONF, 1) != 0)
        return 1;
    scale = test_scale();
    ta_free(ta_malloc(1)); /* the main thread takes arena 0 first */
    RUN(test_threads_started_together_get_arenas_of_their_own);
    return TEST_EXIT();
}
