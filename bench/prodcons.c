/* Producer/consumer: producers allocate messages, consumers on other
 * threads free them. Models pipelines and thread pools, where every free
 * is remote and an allocator must return memory to its owner cheaply. */
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "alloc_api.h"
#include "common.h"

#define RING 1024 /* power of two */

static uint64_t pairs = 1, items = 2000000, min_size = 16, max_size = 512;

static const bench_opt opts[] = {
    {"pairs", "producer/consumer thread pairs", &pairs, 1, 64, NULL, NULL},
    {"n", "messages per producer", &items, 1, UINT64_MAX >> 1, NULL, NULL},
    {"min", "smallest message in bytes (>= 16)", &min_size, 16, 1 << 20, NULL, NULL},
    {"max", "largest message in bytes", &max_size, 16, 1 << 20, NULL, NULL},
};
#define NOPTS (sizeof opts / sizeof opts[0])

/* A single-producer single-consumer ring; head and tail on their own
 * cache lines so the queue itself does not false-share. */
typedef struct channel {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) uint64_t *slot[RING];
    uint64_t seed;
} channel;

/* Producer: each message carries its sequence number and length, which
 * the consumer verifies before freeing. */
static void *produce(void *arg)
{
    channel *ch = arg;
    bench_rng r;
    bench_rng_seed(&r, ch->seed);
    for (uint64_t i = 0; i < items; i++) {
        size_t n = (size_t)bench_rand_range(&r, min_size, max_size);
        uint64_t *m = bench_malloc(n);
        if (!m)
            bench_fail("malloc(%zu) returned NULL", n);
        m[0] = i;
        m[1] = n;
        uint64_t h = atomic_load_explicit(&ch->head, memory_order_relaxed);
        while (h - atomic_load_explicit(&ch->tail, memory_order_acquire) == RING)
            sched_yield();
        ch->slot[h % RING] = m;
        atomic_store_explicit(&ch->head, h + 1, memory_order_release);
    }
    return NULL;
}

/* Consumer: checks each message and frees it on this thread. */
static void *consume(void *arg)
{
    channel *ch = arg;
    for (uint64_t i = 0; i < items; i++) {
        uint64_t t = atomic_load_explicit(&ch->tail, memory_order_relaxed);
        while (atomic_load_explicit(&ch->head, memory_order_acquire) == t)
            sched_yield();
        uint64_t *m = ch->slot[t % RING];
        atomic_store_explicit(&ch->tail, t + 1, memory_order_release);
        if (m[0] != i || m[1] < min_size || m[1] > max_size)
            bench_fail("message %llu corrupted", (unsigned long long)i);
        bench_free(m);
    }
    return NULL;
}

typedef struct role_arg {
    channel *ch;
    int consumer;
} role_arg;

/* Threads alternate producer, consumer so each pair shares a channel. */
static void *role(void *arg)
{
    role_arg *a = arg;
    return a->consumer ? consume(a->ch) : produce(a->ch);
}

/* Times all pairs from start to the last free. */
int main(int argc, char **argv)
{
    bench_parse("prodcons", argc, argv, opts, NOPTS);
    if (min_size > max_size)
        bench_fail("min (%llu) > max (%llu)", (unsigned long long)min_size,
                   (unsigned long long)max_size);
    bench_alloc_init();
    static channel ch[64];
    static role_arg args[128];
    for (uint64_t i = 0; i < pairs; i++) {
        ch[i].seed = i + 1;
        args[2 * i] = (role_arg){&ch[i], 0};
        args[2 * i + 1] = (role_arg){&ch[i], 1};
    }
    double t0 = bench_now();
    bench_threads((unsigned)(2 * pairs), role, args, sizeof args[0]);
    double t = bench_now() - t0;
    bench_json_begin("prodcons", bench_alloc_name(), bench_sized_free_name(), opts, NOPTS);
    bench_json_u64("ops", pairs * items);
    bench_json_f64("seconds", t);
    bench_json_f64("ns_per_op", t * 1e9 / (double)(pairs * items));
    bench_json_end();
    return 0;
}
