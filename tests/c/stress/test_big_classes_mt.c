/* Batch passing of the small classes above 1 KiB (bench/passing.c's
 * pattern): two threads keep pools of live blocks of 1-16 KiB, allocate
 * batches, and either keep a batch or hand it to the other thread, so
 * half the frees are another arena's blocks, which the freeing thread
 * keeps and hands out again. Their stacks start small, grow while they
 * churn, are left half full by misses and overflows, and go back to their
 * start when a quiet phase (small blocks only) lets the GC find them
 * idle. Every block carries its own id at both ends and in its middle, so
 * one handed out twice, or written after its free, fails the check; and
 * once both threads are gone every block has gone back to its arena. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "harness.h"
#include "tunalloc.h"

enum { POOL = 256, BATCH = 32, STAMP = 16, NTHREADS = 2 };

/* One batch in flight from thread i to the other, guarded by a mutex. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    void *p[BATCH];
    bool full;
    bool done;
} chan[NTHREADS] = {{PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, false, false},
                    {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, false, false}};

static unsigned rounds;
static _Atomic size_t bad_blocks, allocated, freed;

/* A block of 1-16 KiB, log-uniform, stamped with its id: the id and size
 * in its first word, and a pattern of the id at its start, middle and
 * end. */
static void *fresh(uint64_t *seed, uint64_t id)
{
    unsigned lg = 10 + (unsigned)(test_rand(seed) % 4);
    size_t n = ((size_t)1 << lg) + (size_t)(test_rand(seed) % ((size_t)1 << lg));
    if (n > TEST_SMALL_MAX)
        n = TEST_SMALL_MAX;
    unsigned char *b = ta_malloc(n);
    if (!b) {
        bad_blocks++;
        return NULL;
    }
    allocated++;
    uint64_t head[2] = {id, n};
    memcpy(b, head, sizeof(head));
    test_fill(b + sizeof(head), STAMP, (uintptr_t)id);
    test_fill(b + n / 2, STAMP, (uintptr_t)id + 1);
    test_fill(b + n - STAMP, STAMP, (uintptr_t)id + 2);
    return b;
}

static void check_and_free(void *p)
{
    if (!p)
        return;
    unsigned char *b = p;
    uint64_t head[2];
    memcpy(head, b, sizeof(head));
    size_t n = (size_t)head[1];
    if (n < 1024 || n > TEST_SMALL_MAX || ta_malloc_usable_size(b) < n ||
        test_verify(b + sizeof(head), STAMP, (uintptr_t)head[0]) != STAMP ||
        test_verify(b + n / 2, STAMP, (uintptr_t)head[0] + 1) != STAMP ||
        test_verify(b + n - STAMP, STAMP, (uintptr_t)head[0] + 2) != STAMP)
        bad_blocks++;
    freed++;
    ta_free(b);
}

/* Puts a batch into the pool; the blocks it replaces are freed. */
static void settle(void **pool, void **batch, uint64_t *seed)
{
    for (int i = 0; i < BATCH; i++) {
        unsigned j = (unsigned)(test_rand(seed) % POOL);
        check_and_free(pool[j]);
        pool[j] = batch[i];
    }
}

/* Takes the batch waiting for this thread, if any (wait: until there is
 * one or its sender is done); returns whether it took one. */
static bool receive(unsigned self, void **pool, uint64_t *seed, bool wait)
{
    unsigned from = (self + NTHREADS - 1) % NTHREADS;
    void *got[BATCH];
    pthread_mutex_lock(&chan[from].lock);
    while (wait && !chan[from].full && !chan[from].done)
        pthread_cond_wait(&chan[from].changed, &chan[from].lock);
    bool full = chan[from].full;
    if (full) {
        memcpy(got, chan[from].p, sizeof(got));
        chan[from].full = false;
        pthread_cond_broadcast(&chan[from].changed);
    }
    pthread_mutex_unlock(&chan[from].lock);
    if (full)
        settle(pool, got, seed);
    return full;
}

/* Hands a batch on, taking the other thread's meanwhile so neither waits
 * on the other for good. */
static void pass(unsigned self, void **batch, void **pool, uint64_t *seed)
{
    for (;;) {
        pthread_mutex_lock(&chan[self].lock);
        if (!chan[self].full) {
            memcpy(chan[self].p, batch, sizeof(chan[self].p));
            chan[self].full = true;
            pthread_cond_broadcast(&chan[self].changed);
            pthread_mutex_unlock(&chan[self].lock);
            return;
        }
        pthread_mutex_unlock(&chan[self].lock);
        if (!receive(self, pool, seed, false))
            sched_yield();
    }
}

/* Small blocks only, for long enough that the GC visits every class of
 * this thread's cache twice (one class per 128 slow-path events): the
 * big classes sit idle and give their blocks back. */
static void quiet_phase(uint64_t *seed)
{
    void *v[600];
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 600; i++)
            v[i] = ta_malloc(16 + (size_t)(test_rand(seed) % 1000));
        for (int i = 0; i < 600; i++)
            ta_free(v[i]);
    }
}

static void *worker(void *arg)
{
    unsigned self = (unsigned)(uintptr_t)arg;
    uint64_t seed = 0x9e3779b97f4a7c15ull * (self + 1);
    uint64_t id = (uint64_t)self << 48;
    void *pool[POOL], *batch[BATCH];
    for (int i = 0; i < POOL; i++)
        pool[i] = fresh(&seed, id++);
    for (unsigned k = 0; k < rounds; k++) {
        for (int i = 0; i < BATCH; i++)
            batch[i] = fresh(&seed, id++);
        if (test_rand(&seed) % 2)
            pass(self, batch, pool, &seed);
        else
            settle(pool, batch, &seed);
        receive(self, pool, &seed, false);
        if (k == rounds / 2)
            quiet_phase(&seed);
    }
    pthread_mutex_lock(&chan[self].lock);
    chan[self].done = true;
    pthread_cond_broadcast(&chan[self].changed);
    pthread_mutex_unlock(&chan[self].lock);
    while (receive(self, pool, &seed, true))
        ;
    for (int i = 0; i < POOL; i++)
        check_and_free(pool[i]);
    return NULL;
}

/* Bytes of small blocks out of every arena's bins (4096: all arenas). */
static size_t small_allocated(void) { return test_arena_index_stat(4096, "small.allocated"); }

static void test_big_classes_passed_between_threads(void)
{
    rounds = TEST_SANITIZED ? 1500 : 6000 * test_scale();
    size_t before = small_allocated();
    pthread_t t[NTHREADS];
    for (uintptr_t i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(bad_blocks, 0);
    CHECK_EQ(allocated, freed);
    CHECK_EQ(allocated, (size_t)NTHREADS * (POOL + (size_t)rounds * BATCH));
    /* the threads' caches went back when they exited */
    CHECK_EQ(small_allocated(), before);
}

int main(void)
{
    RUN(test_big_classes_passed_between_threads);
    return TEST_EXIT();
}
