/* Larson-style server churn: each thread replaces random blocks of random
 * size in its table, and between rounds the tables move to other threads,
 * so blocks are freed by threads that did not allocate them. Models a
 * server whose requests are handed between worker threads. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "alloc_api.h"
#include "common.h"

#define MAX_THREADS 64

static uint64_t threads = 2, slots = 1000, rounds = 100, ops = 20000;
static uint64_t min_size = 16, max_size = 1024;

static const bench_opt opts[] = {
    {"threads", "worker threads", &threads, 1, MAX_THREADS, NULL, NULL},
    {"slots", "live blocks per thread table", &slots, 1, 1 << 24, NULL, NULL},
    {"rounds", "rounds; tables rotate between threads after each", &rounds, 1,
     1 << 24, NULL, NULL},
    {"n", "replacements per thread per round", &ops, 1, UINT64_MAX >> 8, NULL, NULL},
    {"min", "smallest block in bytes (>= 16)", &min_size, 16, 1 << 24, NULL, NULL},
    {"max", "largest block in bytes", &max_size, 16, 1 << 24, NULL, NULL},
};
#define NOPTS (sizeof opts / sizeof opts[0])

/* A table of live blocks; each block's first word holds its size. */
typedef struct table {
    uint64_t **block;
} table;

static table tables[MAX_THREADS];
static pthread_barrier_t barrier;

/* Verifies the tag, so a block handed out twice is caught. */
static void check(const uint64_t *b, uint64_t idx)
{
    if (b[0] < min_size || b[0] > max_size)
        bench_fail("block in slot %llu corrupted", (unsigned long long)idx);
}

/* Allocates one tagged block of random size. */
static uint64_t *fresh(bench_rng *r)
{
    size_t n = (size_t)bench_rand_range(r, min_size, max_size);
    uint64_t *b = bench_malloc(n);
    if (!b)
        bench_fail("malloc(%zu) returned NULL", n);
    b[0] = n;
    return b;
}

/* Thread body: in round k, thread i works on table (i + k) mod threads. */
static void *worker(void *arg)
{
    uint64_t id = *(const uint64_t *)arg;
    bench_rng r;
    bench_rng_seed(&r, id + 1);
    for (uint64_t k = 0; k < rounds; k++) {
        table *t = &tables[(id + k) % threads];
        for (uint64_t i = 0; i < ops; i++) {
            uint64_t j = bench_rand(&r) % slots;
            check(t->block[j], j);
            bench_free(t->block[j]);
            t->block[j] = fresh(&r);
        }
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

/* Fills every table from the main thread, as a server's start-up would. */
static void fill(void)
{
    bench_rng r;
    bench_rng_seed(&r, 12345);
    for (uint64_t i = 0; i < threads; i++) {
        tables[i].block = bench_malloc(slots * sizeof(uint64_t *));
        if (!tables[i].block)
            bench_fail("cannot allocate a table");
        for (uint64_t j = 0; j < slots; j++)
            tables[i].block[j] = fresh(&r);
    }
}

/* Frees what is left, checking it, once timing has stopped. */
static void drain(void)
{
    for (uint64_t i = 0; i < threads; i++) {
        for (uint64_t j = 0; j < slots; j++) {
            check(tables[i].block[j], j);
            bench_free(tables[i].block[j]);
        }
        bench_free(tables[i].block);
    }
}

/* Times only the churn: start-up fill and final drain are excluded. */
int main(int argc, char **argv)
{
    bench_parse("larson", argc, argv, opts, NOPTS);
    if (min_size > max_size)
        bench_fail("min (%llu) > max (%llu)", (unsigned long long)min_size,
                   (unsigned long long)max_size);
    bench_alloc_init();
    if (pthread_barrier_init(&barrier, NULL, (unsigned)threads))
        bench_fail("pthread_barrier_init");
    static uint64_t ids[MAX_THREADS];
    for (uint64_t i = 0; i < threads; i++)
        ids[i] = i;
    fill();
    double t0 = bench_now();
    bench_threads((unsigned)threads, worker, ids, sizeof ids[0]);
    double t = bench_now() - t0;
    drain();
    pthread_barrier_destroy(&barrier);
    bench_json_begin("larson", bench_alloc_name(), bench_sized_free_name(), opts, NOPTS);
    bench_json_u64("ops", threads * rounds * ops);
    bench_json_f64("seconds", t);
    bench_json_f64("ns_per_op", t * 1e9 / (double)(threads * rounds * ops));
    bench_json_end();
    return 0;
}
