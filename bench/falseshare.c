/* False-sharing probes in the style of cache-thrash and cache-scratch.
 * thrash: threads allocate small blocks and write them hard; an allocator
 * that hands neighbouring bytes to different threads makes the cores
 * fight over one cache line. scratch: the main thread allocates one small
 * block per thread, each thread frees its block first, then does the
 * same; an allocator that reuses a remotely freed block for the freeing
 * thread recreates the sharing. */
#include <stdint.h>

#include "alloc_api.h"
#include "common.h"

#define MAX_THREADS 64

enum { MODE_THRASH, MODE_SCRATCH };
static const char *const modes[] = {"thrash", "scratch", NULL};

static unsigned mode = MODE_THRASH;
static uint64_t threads = 2, objs = 20000, writes = 500, size = 8;

static const bench_opt opts[] = {
    {"mode", "thrash (active) or scratch (passive) false sharing", NULL, 0, 0, modes,
     &mode},
    {"threads", "worker threads", &threads, 1, MAX_THREADS, NULL, NULL},
    {"n", "blocks allocated, written and freed per thread", &objs, 1, UINT64_MAX >> 20,
     NULL, NULL},
    {"writes", "writes to each byte of a block before it is freed", &writes, 1,
     1 << 20, NULL, NULL},
    {"size", "block size in bytes", &size, 1, 4096, NULL, NULL},
};
#define NOPTS (sizeof opts / sizeof opts[0])

typedef struct worker_arg {
    char *first; /* scratch: block to free before starting, or NULL */
    uint64_t id;
} worker_arg;

/* Volatile so every write really reaches the cache line. Out of line and
 * cache-line aligned, so this hot loop is the same code at the same
 * alignment in every build: its speed must differ only by where the
 * allocator put the block, never by code layout. The bounds are read once:
 * a char store may alias any object, so the loop would reload `writes` and
 * `size` after every byte it stores, and that loop's speed moved with
 * where the linker put the two globals (the -ta program took 1.17-1.38x
 * the preload program's CPU, same instructions, same block address;
 * bench/results/issue14.md). */
__attribute__((noinline, aligned(64))) static void hammer(volatile char *p, uint64_t id)
{
    const uint64_t nwrites = writes, nbytes = size;
    for (uint64_t w = 0; w < nwrites; w++) {
        for (uint64_t b = 0; b < nbytes; b++)
            p[b] = (char)(p[b] + 1);
    }
    for (uint64_t b = 0; b < nbytes; b++) {
        if (p[b] != (char)(id + nwrites))
            bench_fail("thread %llu: block changed under it", (unsigned long long)id);
    }
}

/* Thread body: allocate, stamp with the thread id, hammer, free. */
static void *worker(void *arg)
{
    worker_arg *a = arg;
    if (a->first)
        bench_free(a->first);
    for (uint64_t i = 0; i < objs; i++) {
        char *p = bench_malloc(size);
        if (!p)
            bench_fail("malloc(%llu) returned NULL", (unsigned long long)size);
        for (uint64_t b = 0; b < size; b++)
            p[b] = (char)a->id;
        hammer(p, a->id);
        bench_free(p);
    }
    return NULL;
}

/* Scratch blocks are allocated here, on the main thread, before timing:
 * that is what puts them next to each other. */
int main(int argc, char **argv)
{
    bench_parse("falseshare", argc, argv, opts, NOPTS);
    bench_alloc_init();
    static worker_arg args[MAX_THREADS];
    for (uint64_t i = 0; i < threads; i++) {
        args[i].id = i;
        args[i].first = NULL;
        if (mode == MODE_SCRATCH && !(args[i].first = bench_malloc(size)))
            bench_fail("malloc(%llu) returned NULL", (unsigned long long)size);
    }
    double t0 = bench_now();
    bench_threads((unsigned)threads, worker, args, sizeof args[0]);
    double t = bench_now() - t0;
    bench_json_begin("falseshare", bench_alloc_name(), bench_sized_free_name(), opts,
                     NOPTS);
    bench_json_u64("ops", threads * objs);
    bench_json_f64("seconds", t);
    bench_json_f64("ns_per_op", t * 1e9 / (double)(threads * objs));
    bench_json_end();
    return 0;
}
