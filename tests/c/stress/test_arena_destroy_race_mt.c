/* A manual arena destroyed while another thread binds to it
 * (thread.arena) or tunes it (arena.<i>.dirty_decay_ms, arena.<i>.limit)
 * through the control namespace: the lookup of the index and the use of
 * the arena are one step against destroy, so a thread that got bound
 * finds its arena alive and allocating from it, and destroy waits for it
 * (EBUSY) instead of freeing the arena under it. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "harness.h"
#include "tunalloc.h"

/* test_scale(), read in main before any thread starts. */
static unsigned scale = 1;

enum { ROUNDS = 2000, CACHED = 256 };

static _Atomic unsigned current = UINT_MAX; /* index of the newest arena */
static atomic_bool done;

static void *destroyer(void *arg)
{
    (void)arg;
    for (unsigned r = 0; r < ROUNDS * scale; r++) {
        ta_arena_t *a = ta_arena_create(NULL);
        TCHECK(a != NULL);
        if (a == NULL)
            break;
        atomic_store(&current, ta_arena_index(a));
        int err;
        while ((err = ta_arena_destroy(a)) == EBUSY)
            sched_yield();
        TCHECK(err == 0);
    }
    atomic_store(&done, true);
    return NULL;
}

/* Fills the thread cache so that rebinding (which flushes it first) takes
 * long enough for a destroy to fall in between. */
static void fill_cache(void)
{
    void *p[CACHED];
    for (int k = 0; k < CACHED; k++)
        p[k] = ta_malloc(16 + (size_t)(k % 8) * 16);
    for (int k = 0; k < CACHED; k++)
        ta_free(p[k]);
}

static void *user(void *arg)
{
    (void)arg;
    unsigned home = 0;
    size_t len = sizeof home;
    TCHECK(ta_ctl("thread.arena", &home, &len, NULL, 0) == 0);
    while (!atomic_load(&done)) {
        unsigned i = atomic_load(&current);
        if (i == UINT_MAX)
            continue;
        char name[64];
        ssize_t decay = 5;
        snprintf(name, sizeof name, "arena.%u.dirty_decay_ms", i);
        int err = ta_ctl(name, NULL, NULL, &decay, sizeof decay);
        TCHECK(err == 0 || err == EFAULT);
        size_t limit = (size_t)1 << 30;
        snprintf(name, sizeof name, "arena.%u.limit", i);
        err = ta_ctl(name, NULL, NULL, &limit, sizeof limit);
        TCHECK(err == 0 || err == EFAULT);
        fill_cache();
        if (ta_ctl("thread.arena", NULL, NULL, &i, sizeof i) != 0)
            continue;
        ta_arena_t *a = ta_arena_get(i);
        TCHECK(a != NULL);
        void *p = ta_malloc(64);
        TCHECK(p != NULL && ta_arena_of(p) == a);
        ta_free(p);
        TCHECK(ta_ctl("thread.arena", NULL, NULL, &home, sizeof home) == 0);
    }
    return NULL;
}

int main(void)
{
    scale = test_scale();
    pthread_t d, u[2];
    CHECK_EQ(pthread_create(&d, NULL, destroyer, NULL), 0);
    for (int k = 0; k < 2; k++)
        CHECK_EQ(pthread_create(&u[k], NULL, user, NULL), 0);
    pthread_join(d, NULL);
    for (int k = 0; k < 2; k++)
        pthread_join(u[k], NULL);
    CHECK_EQ(test_thread_failures(), 0);
    printf("ok   destroy_while_binding\n");
    return TEST_EXIT();
}
