/* Batch passing between threads: each thread allocates batches of blocks
 * of 8 B-16 KiB (log-uniform) and either keeps a batch or hands it to the
 * next thread in a ring. Every thread keeps a pool of live blocks; a kept
 * or received block replaces a random pool entry, which is freed. So
 * blocks live a while, and the blocks a thread received are freed on a
 * thread that did not allocate them (a share set by remote=). Models
 * request pipelines and work-stealing pools (issue 14, second row); the
 * driver reports its peak RSS besides the time. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "alloc_api.h"
#include "common.h"

#define MAX_THREADS 64
#define RING 8 /* batches in flight per channel, power of two */

static uint64_t threads = 2, pool = 4096, batch = 64, batches = 20000, remote = 50;
static uint64_t min_size = 8, max_size = 16384;

static const bench_opt opts[] = {
    {"threads", "threads in the ring", &threads, 2, MAX_THREADS, NULL, NULL},
    {"pool", "live blocks each thread keeps", &pool, 1, 1 << 24, NULL, NULL},
    {"batch", "blocks per batch", &batch, 1, 1 << 16, NULL, NULL},
    {"n", "batches each thread allocates", &batches, 1, UINT64_MAX >> 20, NULL, NULL},
    {"remote", "percent of batches handed to the next thread", &remote, 0, 100, NULL,
     NULL},
    {"min", "smallest block in bytes (>= 8)", &min_size, 8, 1 << 24, NULL, NULL},
    {"max", "largest block in bytes", &max_size, 8, 1 << 24, NULL, NULL},
};
#define NOPTS (sizeof opts / sizeof opts[0])

/* Single-producer single-consumer ring of batches from thread i to i+1. */
typedef struct channel {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) void **slot[RING];
    _Atomic int done; /* the producer allocates no more */
} channel;

typedef struct worker {
    uint64_t id;
    double seconds;
    uint64_t frees, remote_frees;
} worker;

static channel chan[MAX_THREADS];
static pthread_barrier_t barrier;

/* Tag word: size, allocating thread, and a fill byte over the rest, so a
 * block handed out twice or overwritten fails the check on its free. */
static inline uint64_t tag_of(uint64_t size, uint64_t owner, uint64_t seq)
{
    return size << 32 | owner << 24 | (seq & 0xffffff);
}
static inline unsigned char fill_of(uint64_t tag) { return (unsigned char)(tag * 0x9e37u >> 8); }

static void *fresh(bench_rng *r, uint64_t owner, uint64_t seq)
{
    size_t n = (size_t)bench_rand_log(r, min_size, max_size);
    unsigned char *b = bench_malloc(n);
    if (!b)
        bench_fail("malloc(%zu) returned NULL", n);
    uint64_t tag = tag_of(n, owner, seq);
    memcpy(b, &tag, sizeof tag);
    memset(b + sizeof tag, fill_of(tag), n - sizeof tag);
    return b;
}

static void check_and_free(worker *w, unsigned char *b)
{
    uint64_t tag;
    memcpy(&tag, b, sizeof tag);
    uint64_t n = tag >> 32, owner = tag >> 24 & 0xff;
    if (n < min_size || n > max_size || owner >= threads ||
        (n > sizeof tag && b[n - 1] != fill_of(tag)))
        bench_fail("block freed by thread %llu corrupted", (unsigned long long)w->id);
    w->frees++;
    w->remote_frees += owner != w->id;
    bench_free(b);
}

/* Puts a batch's blocks into the pool, freeing the ones they replace. */
static void settle(worker *w, void **pool_v, void **blocks, bench_rng *r)
{
    for (uint64_t i = 0; i < batch; i++) {
        uint64_t j = bench_rand(r) % pool;
        check_and_free(w, pool_v[j]);
        pool_v[j] = blocks[i];
    }
}

/* Takes every batch waiting for this thread; returns how many. */
static uint64_t receive(worker *w, channel *in, void **pool_v, bench_rng *r)
{
    uint64_t got = 0;
    uint64_t t = atomic_load_explicit(&in->tail, memory_order_relaxed);
    while (atomic_load_explicit(&in->head, memory_order_acquire) != t) {
        settle(w, pool_v, in->slot[t % RING], r);
        atomic_store_explicit(&in->tail, ++t, memory_order_release);
        got++;
    }
    return got;
}

static void *run(void *arg)
{
    worker *w = arg;
    channel *in = &chan[(w->id + threads - 1) % threads], *out = &chan[w->id];
    bench_rng r;
    bench_rng_seed(&r, w->id + 1);
    void **pool_v = bench_malloc(pool * sizeof *pool_v);
    void **kept = bench_malloc(batch * sizeof *kept);
    if (!pool_v || !kept)
        bench_fail("cannot allocate the pool");
    for (uint64_t i = 0; i < pool; i++)
        pool_v[i] = fresh(&r, w->id, i);
    pthread_barrier_wait(&barrier);
    double t0 = bench_now();
    for (uint64_t k = 0; k < batches; k++) {
        uint64_t h = atomic_load_explicit(&out->head, memory_order_relaxed);
        int pass = bench_rand(&r) % 100 < remote;
        /* Waiting for room, a thread drains its own inbox, so a ring of
         * threads all waiting on full channels still moves. */
        while (pass && h - atomic_load_explicit(&out->tail, memory_order_acquire) == RING)
            if (!receive(w, in, pool_v, &r))
                sched_yield();
        void **dst = pass ? out->slot[h % RING] : kept;
        for (uint64_t i = 0; i < batch; i++)
            dst[i] = fresh(&r, w->id, k * batch + i);
        if (pass)
            atomic_store_explicit(&out->head, h + 1, memory_order_release);
        else
            settle(w, pool_v, kept, &r);
        receive(w, in, pool_v, &r);
    }
    atomic_store_explicit(&out->done, 1, memory_order_release);
    /* done is read before the ring, so once it is seen set, one more
     * pass takes every batch its producer published. */
    for (;;) {
        int finished = atomic_load_explicit(&in->done, memory_order_acquire);
        if (receive(w, in, pool_v, &r))
            continue;
        if (finished)
            break;
        sched_yield();
    }
    w->seconds = bench_now() - t0;
    for (uint64_t i = 0; i < pool; i++)
        check_and_free(w, pool_v[i]);
    bench_free(kept);
    bench_free(pool_v);
    return NULL;
}

/* Reports the slowest thread's time and the share of remote frees. */
int main(int argc, char **argv)
{
    bench_parse("passing", argc, argv, opts, NOPTS);
    if (min_size > max_size)
        bench_fail("min (%llu) > max (%llu)", (unsigned long long)min_size,
                   (unsigned long long)max_size);
    bench_alloc_init();
    if (pthread_barrier_init(&barrier, NULL, (unsigned)threads))
        bench_fail("pthread_barrier_init");
    for (uint64_t i = 0; i < threads; i++)
        for (unsigned s = 0; s < RING; s++)
            if (!(chan[i].slot[s] = bench_malloc(batch * sizeof(void *))))
                bench_fail("cannot allocate a channel");
    static worker w[MAX_THREADS];
    for (uint64_t i = 0; i < threads; i++)
        w[i].id = i;
    bench_threads((unsigned)threads, run, w, sizeof w[0]);
    pthread_barrier_destroy(&barrier);
    double t = 0;
    uint64_t frees = 0, rfrees = 0;
    for (uint64_t i = 0; i < threads; i++) {
        t = w[i].seconds > t ? w[i].seconds : t;
        frees += w[i].frees;
        rfrees += w[i].remote_frees;
        for (unsigned s = 0; s < RING; s++)
            bench_free(chan[i].slot[s]);
    }
    uint64_t made = threads * (pool + batches * batch);
    if (frees != made)
        bench_fail("%llu blocks allocated but %llu freed", (unsigned long long)made,
                   (unsigned long long)frees);
    bench_json_begin("passing", bench_alloc_name(), bench_sized_free_name(), opts, NOPTS);
    bench_json_u64("ops", threads * batches * batch);
    bench_json_f64("seconds", t);
    bench_json_f64("ns_per_op", t * 1e9 / (double)(threads * batches * batch));
    bench_json_f64("remote_share", frees ? (double)rfrees / (double)frees : 0.0);
    bench_json_end();
    return 0;
}
