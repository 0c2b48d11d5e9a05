/* Statistics identities across threads: each thread fills its own manual
 * arena, then the automatic arenas through its cache, while a poller keeps
 * refreshing the epoch and reading counters (which TSan checks for races).
 * At each barrier the numbers must match the live blocks exactly. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "tunalloc.h"

enum { NTHREADS = 4, NBLOCKS = 300 };

typedef struct worker {
    pthread_t tid;
    unsigned seed;
    unsigned arena;
    void *manual[NBLOCKS];
    void *automatic[NBLOCKS];
    uint64_t manual_live, auto_live;
} worker_t;

static worker_t workers[NTHREADS];
static pthread_barrier_t barrier;
static atomic_bool stop;
static atomic_ulong polls;

static unsigned rd_unsigned(const char *name)
{
    unsigned v = 0;
    size_t len = sizeof(v);
    CHECK_EQ(ta_ctl(name, &v, &len, NULL, 0), 0);
    return v;
}

static size_t rd_arena(unsigned i, const char *leaf)
{
    return test_ctl_size("stats.arenas.%u.%s", i, leaf);
}

static void refresh(void)
{
    uint64_t e = 1;
    CHECK_EQ(ta_ctl("epoch", NULL, NULL, &e, sizeof(e)), 0);
}

/* A size mix with small, page-sized and large blocks. */
static size_t size_for(unsigned seed, unsigned k)
{
    unsigned x = seed * 2654435761u + k * 40503u;
    unsigned pick = x % 10;
    if (pick < 6)
        return 1 + x % 2000;
    if (pick < 9)
        return 2000 + x % 30000;
    return 40000 + x % 200000;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    unsigned home = 0;
    size_t len = sizeof(home);
    TCHECK(ta_ctl("thread.arena", &home, &len, NULL, 0) == 0);
    len = sizeof(w->arena);
    TCHECK(ta_ctl("arenas.create", &w->arena, &len, NULL, 0) == 0);
    TCHECK(ta_ctl("thread.arena", NULL, NULL, &w->arena, sizeof(w->arena)) == 0);
    for (unsigned k = 0; k < NBLOCKS; k++) {
        w->manual[k] = ta_malloc(size_for(w->seed, k));
        TCHECK(w->manual[k] != NULL);
        w->manual_live += ta_malloc_usable_size(w->manual[k]);
    }
    TCHECK(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    pthread_barrier_wait(&barrier); /* phase 1 allocated and flushed */
    pthread_barrier_wait(&barrier); /* phase 1 checked */
    TCHECK(ta_ctl("thread.arena", NULL, NULL, &home, sizeof(home)) == 0);
    for (unsigned k = 0; k < NBLOCKS; k++) {
        w->automatic[k] = ta_malloc(size_for(w->seed + 7, k));
        TCHECK(w->automatic[k] != NULL);
        w->auto_live += ta_malloc_usable_size(w->automatic[k]);
    }
    TCHECK(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    pthread_barrier_wait(&barrier); /* phase 2 allocated and flushed */
    pthread_barrier_wait(&barrier); /* phase 2 checked */
    for (unsigned k = 0; k < NBLOCKS; k++) {
        ta_free(w->manual[k]);
        ta_free(w->automatic[k]);
    }
    TCHECK(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    return NULL;
}

/* Reads everything a monitoring loop would, as fast as it can. */
static void *poller_main(void *arg)
{
    (void)arg;
    size_t mib[8], miblen = 8;
    TCHECK(ta_ctl_nametomib("stats.arenas.4096.small.nrequests", mib, &miblen) == 0);
    uint64_t last = 0;
    do {
        uint64_t e = 1, now = 0;
        size_t len = sizeof(now);
        TCHECK(ta_ctl("epoch", &now, &len, &e, sizeof(e)) == 0);
        TCHECK(now > last);
        last = now;
        size_t allocated = 0;
        len = sizeof(allocated);
        TCHECK(ta_ctl("stats.allocated", &allocated, &len, NULL, 0) == 0);
        uint64_t req = 0;
        len = sizeof(req);
        TCHECK(ta_ctl_bymib(mib, miblen, &req, &len, NULL, 0) == 0);
        atomic_fetch_add(&polls, 1);
    } while (!atomic_load(&stop));
    return NULL;
}

static void check_manual_arenas(void)
{
    for (int t = 0; t < NTHREADS; t++) {
        unsigned i = workers[t].arena;
        size_t small = rd_arena(i, "small.allocated"), large = rd_arena(i, "large.allocated");
        CHECK_EQ(small + large, workers[t].manual_live);
        char name[64];
        snprintf(name, sizeof(name), "stats.arenas.%u.nthreads", i);
        CHECK_EQ(rd_unsigned(name), 1);
        size_t active = rd_arena(i, "pactive") * test_ctl_size("arenas.page");
        CHECK(small + large <= active && active <= rd_arena(i, "mapped"));
        uint64_t sum = 0;
        unsigned nbins = 0;
        size_t len = sizeof(nbins);
        CHECK_EQ(ta_ctl("arenas.nbins", &nbins, &len, NULL, 0), 0);
        for (unsigned j = 0; j < nbins; j++) {
            snprintf(name, sizeof(name), "bins.%u.curregs", j);
            size_t cur = rd_arena(i, name);
            snprintf(name, sizeof(name), "arenas.bin.%u.size", j);
            sum += cur * test_ctl_size("%s", name);
        }
        CHECK_EQ(sum, small);
    }
}

static void test_threads(void)
{
    CHECK_EQ(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    refresh();
    size_t base = test_ctl_size("stats.allocated");
    pthread_barrier_init(&barrier, NULL, NTHREADS + 1);
    pthread_t poller;
    CHECK_EQ(pthread_create(&poller, NULL, poller_main, NULL), 0);
    for (int t = 0; t < NTHREADS; t++) {
        workers[t].seed = 1000u + (unsigned)t;
        CHECK_EQ(pthread_create(&workers[t].tid, NULL, worker_main, &workers[t]), 0);
    }
    pthread_barrier_wait(&barrier);
    refresh();
    uint64_t manual = 0;
    for (int t = 0; t < NTHREADS; t++)
        manual += workers[t].manual_live;
    CHECK_EQ(test_ctl_size("stats.allocated") - base, manual);
    check_manual_arenas();
    pthread_barrier_wait(&barrier);

    pthread_barrier_wait(&barrier);
    refresh();
    uint64_t automatic = 0;
    for (int t = 0; t < NTHREADS; t++)
        automatic += workers[t].auto_live;
    size_t allocated = test_ctl_size("stats.allocated");
    CHECK_EQ(allocated - base, manual + automatic);
    CHECK(allocated <= test_ctl_size("stats.active") &&
          test_ctl_size("stats.active") <= test_ctl_size("stats.mapped"));
    CHECK_EQ(rd_arena(4096, "small.allocated") + rd_arena(4096, "large.allocated"), allocated);
    pthread_barrier_wait(&barrier);

    for (int t = 0; t < NTHREADS; t++)
        CHECK_EQ(pthread_join(workers[t].tid, NULL), 0);
    atomic_store(&stop, true);
    CHECK_EQ(pthread_join(poller, NULL), 0);
    CHECK(atomic_load(&polls) > 0);
    CHECK_EQ(test_thread_failures(), 0);
    refresh();
    CHECK_EQ(test_ctl_size("stats.allocated"), base);
    for (int t = 0; t < NTHREADS; t++) {
        char name[64];
        snprintf(name, sizeof(name), "arena.%u.destroy", workers[t].arena);
        CHECK_EQ(ta_ctl(name, NULL, NULL, NULL, 0), 0);
    }
    pthread_barrier_destroy(&barrier);
}

/* Many threads creating and destroying caches and arenas through ctl at
 * once must hand out distinct indexes and never lose one. */
static void *churn_main(void *arg)
{
    (void)arg;
    for (int r = 0; r < 50; r++) {
        unsigned tc = 0, a = 0;
        size_t len = sizeof(tc);
        TCHECK(ta_ctl("tcache.create", &tc, &len, NULL, 0) == 0);
        TCHECK(ta_ctl("arenas.create", &a, &len, NULL, 0) == 0);
        void *p = ta_arena_malloc(ta_arena_get(a), 100 + (size_t)r);
        TCHECK(p != NULL);
        ta_free(p);
        TCHECK(ta_ctl("tcache.flush", NULL, NULL, &tc, sizeof(tc)) == 0);
        TCHECK(ta_ctl("tcache.destroy", NULL, NULL, &tc, sizeof(tc)) == 0);
        char name[64];
        snprintf(name, sizeof(name), "arena.%u.destroy", a);
        TCHECK(ta_ctl(name, NULL, NULL, NULL, 0) == 0);
    }
    return NULL;
}

static void test_churn(void)
{
    pthread_t t[NTHREADS];
    for (int k = 0; k < NTHREADS; k++)
        CHECK_EQ(pthread_create(&t[k], NULL, churn_main, NULL), 0);
    for (int k = 0; k < NTHREADS; k++)
        CHECK_EQ(pthread_join(t[k], NULL), 0);
    CHECK_EQ(test_thread_failures(), 0);
    unsigned tc = 99;
    size_t len = sizeof(tc);
    CHECK_EQ(ta_ctl("tcache.create", &tc, &len, NULL, 0), 0);
    CHECK_EQ(tc, 0);
    CHECK_EQ(ta_ctl("tcache.destroy", NULL, NULL, &tc, sizeof(tc)), 0);
}

int main(void)
{
    RUN(test_threads);
    RUN(test_churn);
    return TEST_EXIT();
}
