/* Seeded random walks in several threads at once, with blocks handed
 * between threads through a shared pool so most frees cross threads and
 * arenas, and one thread that keeps switching its cache on and off and
 * moving between automatic arenas and a manual one. Every block carries a
 * pattern checked by whichever thread frees it; at the end the manual
 * arena must be empty and destroyable. A second part ends manual arenas
 * (destroy, reset) while ctl purges and the background thread sweep. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "tunalloc.h"

#define NWORKERS 4
#define NLOCAL 48
#define NPOOL 64
#define MIB ((size_t)1 << 20)

static const uint64_t SEED = 0x5eed0fa11ab1eULL;

typedef struct block {
    unsigned char *p;
    size_t req;
    uint64_t id;
    bool manual; /* from the shared manual arena */
} block_t;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static block_t pool[NPOOL];
static ta_arena_t *shared_arena;
static unsigned narenas_auto;
static _Atomic uint64_t next_id = 1;
static _Atomic int failures;

/* Harness counters are not thread-safe, so threads count failures here
 * and main turns the total into one check. */
static void fail(const char *what, unsigned thread, uint64_t op)
{
    fprintf(stderr, "random_ops_mt: %s in thread %u at op %llu (seed 0x%llx)\n", what, thread,
            (unsigned long long)op, (unsigned long long)SEED);
    atomic_fetch_add(&failures, 1);
}

/* A per-block, per-word hash, so blocks handed around stay distinct. */
static uint64_t word_of(uint64_t id, size_t w)
{
    uint64_t x = id * 0x9e3779b97f4a7c15ULL ^ (w + 1) * 0xc2b2ae3d27d4eb4fULL;
    x ^= x >> 29;
    return x * 0xbf58476d1ce4e5b9ULL;
}

/* Whole words first, then the tail bytes of the last word. */
static void fill(unsigned char *p, size_t n, uint64_t id)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = word_of(id, i >> 3);
        memcpy(p + i, &w, 8);
    }
    uint64_t w = word_of(id, i >> 3);
    memcpy(p + i, &w, n - i);
}

/* Checks what fill wrote, wherever the block travelled since. */
static bool intact(const unsigned char *p, size_t n, uint64_t id)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = word_of(id, i >> 3);
        if (memcmp(p + i, &w, 8))
            return false;
    }
    uint64_t w = word_of(id, i >> 3);
    return memcmp(p + i, &w, n - i) == 0;
}

/* Mostly small, some large, rarely huge; class edges often. */
static size_t random_size(uint64_t *rng)
{
    uint64_t r = test_rand(rng);
    static const size_t edges[] = {0, 1, 16, 17, 128, 129, TEST_SMALL_MAX, TEST_SMALL_MAX + 1,
                                   TEST_TCACHE_MAX, TEST_TCACHE_MAX + 1, TEST_LARGE_MAX,
                                   TEST_LARGE_MAX + 1};
    if (r % 4 == 0)
        return edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))];
    unsigned lg = (unsigned)((r >> 8) % (r % 16 == 1 ? 23 : 16));
    return ((size_t)1 << lg >> 1) + (size_t)((r >> 32) % (((size_t)1 << lg >> 1) | 1));
}

/* A block from the thread's default path or the shared manual arena. */
static bool new_block(block_t *b, size_t size, bool manual, uint64_t r)
{
    unsigned char *p;
    if (manual)
        p = r % 2 ? ta_arena_malloc(shared_arena, size) : ta_arena_calloc(shared_arena, 1, size);
    else
        p = r % 3 == 0 ? ta_calloc(1, size) : ta_malloc(size);
    if (!p)
        return false;
    b->p = p;
    b->req = size;
    b->manual = manual;
    b->id = atomic_fetch_add(&next_id, 1);
    fill(p, size, b->id);
    return true;
}

/* Checks the block's pattern, then frees it by a random entry point
 * (sized only where the contract allows: not for manual-arena blocks,
 * whose sized free is covered by test_random_ops). */
static void drop_block(block_t *b, uint64_t r, unsigned thread, uint64_t op)
{
    if (!intact(b->p, b->req, b->id))
        fail("pattern lost", thread, op);
    if (ta_malloc_usable_size(b->p) < b->req)
        fail("usable size below request", thread, op);
    if (!b->manual && r % 2)
        ta_free_sized(b->p, b->req);
    else
        ta_free(b->p);
    b->p = NULL;
}

/* Resizes a block that may have been allocated by another thread. */
static void grow_block(block_t *b, size_t size, unsigned thread, uint64_t op)
{
    unsigned char *q = b->manual ? ta_arena_realloc(shared_arena, b->p, size)
                                 : ta_realloc(b->p, size);
    if (!size) {
        b->p = NULL;
        return;
    }
    if (!q) {
        fail("realloc failed", thread, op);
        return;
    }
    size_t keep = b->req < size ? b->req : size;
    if (!intact(q, keep, b->id))
        fail("realloc lost contents", thread, op);
    b->p = q;
    b->req = size;
    b->id = atomic_fetch_add(&next_id, 1);
    fill(q, size, b->id);
}

/* Swaps a local slot with a pool slot, so blocks wander between threads. */
static void swap_with_pool(block_t *local, uint64_t r)
{
    pthread_mutex_lock(&pool_lock);
    block_t *shared = &pool[r % NPOOL];
    block_t t = *shared;
    *shared = *local;
    *local = t;
    pthread_mutex_unlock(&pool_lock);
}

/* One step of a thread's walk: trade with the pool, allocate, resize
 * or free. */
static void one_op(block_t *local, uint64_t *rng, unsigned thread, uint64_t op)
{
    uint64_t r = test_rand(rng);
    block_t *b = &local[r % NLOCAL];
    unsigned what = (unsigned)((r >> 16) % 8);
    if (what < 3) {
        swap_with_pool(b, r >> 24);
    } else if (!b->p) {
        if (!new_block(b, random_size(rng), (r >> 24) % 4 == 0, r >> 32))
            fail("allocation failed", thread, op);
    } else if (what == 3) {
        grow_block(b, random_size(rng), thread, op);
    } else {
        drop_block(b, r >> 32, thread, op);
    }
}

/* test_scale(), read in main before any thread starts. */
static unsigned scale = 1;

static uint64_t nops(void) { return (TEST_SANITIZED ? 3000 : 6000) * (uint64_t)scale; }

/* A thread frees what it still holds before it ends. */
static void drain(block_t *local, unsigned thread)
{
    for (int k = 0; k < NLOCAL; k++)
        if (local[k].p)
            drop_block(&local[k], 0, thread, nops());
}

/* A plain worker: its own seed, its own slots, the shared pool. */
static void *worker(void *arg)
{
    unsigned thread = (unsigned)(uintptr_t)arg;
    block_t local[NLOCAL];
    memset(local, 0, sizeof(local));
    uint64_t rng = SEED ^ ((uint64_t)(thread + 1) * 0x100000001b3ULL);
    for (uint64_t op = 0; op < nops(); op++)
        one_op(local, &rng, thread, op);
    drain(local, thread);
    return NULL;
}

/* Writes a bool ctl; the caller checks the result. */
static int set_bool(const char *name, bool v)
{
    return ta_ctl(name, NULL, NULL, &v, sizeof(v));
}

static int set_arena(unsigned i) { return ta_ctl("thread.arena", NULL, NULL, &i, sizeof(i)); }

/* Every few operations: cache on or off, or another arena (the manual
 * one a quarter of the time); reads back what it set. Ends cacheless on
 * the manual arena, so its exit must unbind it for the final destroy. */
static void *toggler(void *arg)
{
    unsigned thread = (unsigned)(uintptr_t)arg;
    block_t local[NLOCAL];
    memset(local, 0, sizeof(local));
    uint64_t rng = SEED ^ 0xfeedULL;
    unsigned manual = ta_arena_index(shared_arena);
    for (uint64_t op = 0; op < nops(); op++) {
        if (op % 64 == 0) {
            uint64_t r = test_rand(&rng);
            bool on = r % 2;
            unsigned target = (r >> 8) % 4 == 0 ? manual : (unsigned)((r >> 16) % narenas_auto);
            if (set_bool("thread.tcache.enabled", on) || set_arena(target))
                fail("ctl write refused", thread, op);
            bool got_on = !on;
            unsigned got_arena = ~0u;
            size_t lb = sizeof(got_on), la = sizeof(got_arena);
            if (ta_ctl("thread.tcache.enabled", &got_on, &lb, NULL, 0) || got_on != on ||
                ta_ctl("thread.arena", &got_arena, &la, NULL, 0) || got_arena != target)
                fail("ctl read-back differs", thread, op);
        }
        one_op(local, &rng, thread, op);
    }
    drain(local, thread);
    if (set_bool("thread.tcache.enabled", false) || set_arena(manual))
        fail("final ctl write refused", thread, nops());
    void *p = ta_malloc(100);
    if (!p || ta_arena_of(p) != shared_arena)
        fail("cacheless allocation not from the bound arena", thread, nops());
    ta_free(p);
    return NULL;
}

/* The threaded walk, then the shared arena must be empty and free. */
static void test_threads(void)
{
    ta_arena_opts o;
    ta_arena_opts_init(&o);
    o.dirty_decay_ms = 0;
    shared_arena = ta_arena_create(&o);
    CHECK(shared_arena != NULL);
    if (!shared_arena)
        return;
    /* manual arenas take the slots after the automatic ones */
    narenas_auto = ta_arena_index(shared_arena);
    CHECK(narenas_auto > 0);
    size_t len;
    pthread_t t[NWORKERS + 1];
    for (unsigned k = 0; k < NWORKERS; k++)
        CHECK_EQ(pthread_create(&t[k], NULL, worker, (void *)(uintptr_t)k), 0);
    CHECK_EQ(pthread_create(&t[NWORKERS], NULL, toggler, (void *)(uintptr_t)NWORKERS), 0);
    for (unsigned k = 0; k <= NWORKERS; k++)
        CHECK_EQ(pthread_join(t[k], NULL), 0);
    for (int k = 0; k < NPOOL; k++)
        if (pool[k].p)
            drop_block(&pool[k], 1, 99, nops());
    CHECK_EQ(atomic_load(&failures), 0);
    CHECK_EQ(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    unsigned i = ta_arena_index(shared_arena);
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.purge", i);
    CHECK_EQ(ta_ctl(name, NULL, NULL, NULL, 0), 0);
    uint64_t ep = 1;
    len = sizeof(ep);
    CHECK_EQ(ta_ctl("epoch", &ep, &len, &ep, len), 0);
    CHECK_EQ(test_ctl_size("stats.arenas.%u.small.allocated", i), 0);
    CHECK_EQ(test_ctl_size("stats.arenas.%u.large.allocated", i), 0);
    CHECK_EQ(test_ctl_size("stats.arenas.%u.pactive", i), 0);
    CHECK_EQ(test_ctl_size("stats.arenas.%u.pdirty", i), 0);
    unsigned nthreads = 1;
    len = sizeof(nthreads);
    snprintf(name, sizeof(name), "stats.arenas.%u.nthreads", i);
    CHECK_EQ(ta_ctl(name, &nthreads, &len, NULL, 0), 0);
    CHECK_EQ(nthreads, 0);
    CHECK_EQ(ta_arena_destroy(shared_arena), 0);
}

static _Atomic bool stop_purging;

/* Purges and decays every arena as fast as it can: each purge drops an
 * arena's lock around madvise, which must not let a destroy or reset in. */
static void *purger(void *arg)
{
    (void)arg;
    for (unsigned k = 0; !atomic_load(&stop_purging); k++)
        if (ta_ctl(k % 2 ? "arena.4096.purge" : "arena.4096.decay", NULL, NULL, NULL, 0))
            atomic_fetch_add(&failures, 1);
    return NULL;
}

/* One manual arena's life: runs of varied sizes, half freed so they
 * coalesce into dirty runs, the rest freed or dropped by a reset, then a
 * destroy, while the purger and the background thread sweep every arena. */
static void arena_life(unsigned round, uint64_t *rng)
{
    ta_arena_opts o;
    ta_arena_opts_init(&o);
    o.dirty_decay_ms = 80; /* the background thread then looks every 10 ms */
    ta_arena_t *a = ta_arena_create(&o);
    CHECK(a != NULL);
    if (!a)
        return;
    void *p[64];
    for (int k = 0; k < 64; k++) {
        size_t size = 20000 + (size_t)(test_rand(rng) % 200000);
        p[k] = ta_arena_malloc(a, size);
        CHECK(p[k] != NULL);
        if (p[k])
            memset(p[k], k, 64);
    }
    /* every other run freed first, so purges find dirty runs to work on
     * (with the arena lock dropped) while the rest is reset or freed */
    for (int k = 0; k < 64; k += 2)
        ta_free(p[k]);
    if (round % 2) {
        char name[64];
        snprintf(name, sizeof(name), "arena.%u.reset", ta_arena_index(a));
        CHECK_EQ(ta_ctl(name, NULL, NULL, NULL, 0), 0);
    } else {
        for (int k = 1; k < 64; k += 2)
            ta_free(p[k]);
    }
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* Arena lives end while a thread purges every arena through ctl and the
 * background thread sweeps them. */
static void test_purge_races_destroy(void)
{
    atomic_store(&failures, 0);
    bool on = true, off = false;
    CHECK_EQ(ta_ctl("background_thread", NULL, NULL, &on, sizeof(on)), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, purger, NULL), 0);
    uint64_t rng = SEED ^ 0xdeadULL;
    const unsigned rounds = (TEST_SANITIZED ? 400 : 3000) * scale;
    for (unsigned round = 0; round < rounds; round++)
        arena_life(round, &rng);
    atomic_store(&stop_purging, true);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(ta_ctl("background_thread", NULL, NULL, &off, sizeof(off)), 0);
    CHECK_EQ(atomic_load(&failures), 0);
}

/* The race-prone purge test last: a crash there loses nothing else. */
int main(void)
{
    scale = test_scale();
    RUN(test_threads);
    RUN(test_purge_races_destroy);
    if (harness_failures)
        fprintf(stderr, "failed with seed 0x%llx\n", (unsigned long long)SEED);
    return TEST_EXIT();
}
