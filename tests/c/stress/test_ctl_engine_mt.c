/* What the control namespace promises about other threads' caches:
 * an epoch counts the cache hits of every thread in nrequests (not only
 * the caller's), and thread.tcache.enabled behaves the same on a thread
 * that has not allocated yet as on one that has. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "harness.h"
#include "tunalloc.h"

enum { HITS = 1000, SIZE = 48 };

static pthread_barrier_t barrier;
static unsigned worker_arena;

static unsigned bin_of(size_t size)
{
    unsigned nbins = 0;
    size_t len = sizeof(nbins);
    CHECK_EQ(ta_ctl("arenas.nbins", &nbins, &len, NULL, 0), 0);
    for (unsigned j = 0; j < nbins; j++) {
        char name[64];
        size_t s = 0, slen = sizeof(s);
        snprintf(name, sizeof(name), "arenas.bin.%u.size", j);
        CHECK_EQ(ta_ctl(name, &s, &slen, NULL, 0), 0);
        if (s >= size)
            return j;
    }
    return 0;
}

/* Warms its cache, then serves HITS requests from it and keeps them
 * unflushed while the main thread takes an epoch. */
static void *hitter(void *arg)
{
    (void)arg;
    size_t len = sizeof(worker_arena);
    TCHECK(ta_ctl("thread.arena", &worker_arena, &len, NULL, 0) == 0);
    void *p = ta_malloc(SIZE);
    ta_free(p);
    pthread_barrier_wait(&barrier); /* baseline taken */
    pthread_barrier_wait(&barrier);
    for (int k = 0; k < HITS; k++) {
        p = ta_malloc(SIZE);
        TCHECK(p != NULL);
        ta_free(p);
    }
    pthread_barrier_wait(&barrier); /* hits done */
    pthread_barrier_wait(&barrier); /* checked */
    return NULL;
}

static void test_epoch_counts_other_threads_cache_hits(void)
{
    unsigned bin = bin_of(SIZE);
    pthread_barrier_init(&barrier, NULL, 2);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, hitter, NULL), 0);
    pthread_barrier_wait(&barrier);
    uint64_t before = test_bin_requests(worker_arena, bin);
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);
    uint64_t after = test_bin_requests(worker_arena, bin);
    CHECK(after - before >= HITS);
    pthread_barrier_wait(&barrier);
    CHECK_EQ(pthread_join(t, NULL), 0);
    pthread_barrier_destroy(&barrier);
    CHECK_EQ(test_thread_failures(), 0);
}

/* A new thread reads the configured default and can turn its cache off
 * before its first allocation, for good. */
static void *fresh_thread(void *arg)
{
    (void)arg;
    bool opt = false, enabled = false, off = false;
    size_t len = sizeof(bool);
    TCHECK(ta_ctl("opt.tcache", &opt, &len, NULL, 0) == 0);
    TCHECK(ta_ctl("thread.tcache.enabled", &enabled, &len, NULL, 0) == 0);
    TCHECK(enabled == opt);
    TCHECK(ta_ctl("thread.tcache.enabled", NULL, NULL, &off, sizeof(off)) == 0);
    void *p = ta_malloc(100);
    ta_free(p);
    TCHECK(ta_ctl("thread.tcache.enabled", &enabled, &len, NULL, 0) == 0);
    TCHECK(!enabled);
    return NULL;
}

static void test_fresh_thread_tcache_enabled(void)
{
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, fresh_thread, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(test_thread_failures(), 0);
}

int main(void)
{
    RUN(test_epoch_counts_other_threads_cache_hits);
    RUN(test_fresh_thread_tcache_enabled);
    return TEST_EXIT();
}
