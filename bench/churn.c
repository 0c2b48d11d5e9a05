/* Random-size replacement churn: each thread keeps a table of live blocks
 * of random size and replaces a random one per step, writing every byte of
 * the new block. Models caches, interpreters and object graphs whose live
 * set is large (10^4-10^5 blocks) and whose blocks die in random order, so
 * a freed block is rarely the next one allocated (issue 14, first row). */
#include <stdint.h>
#include <string.h>

#include "alloc_api.h"
#include "common.h"

#define MAX_THREADS 64

static uint64_t threads = 1, live = 50000, ops = 2000000, min_size = 8, max_size = 1024;

static const bench_opt opts[] = {
    {"threads", "independent threads, each with its own table", &threads, 1, MAX_THREADS,
     NULL, NULL},
    {"live", "live blocks per thread", &live, 1, 1 << 24, NULL, NULL},
    {"n", "replacements per thread", &ops, 1, UINT64_MAX >> 8, NULL, NULL},
    {"min", "smallest block in bytes (>= 8)", &min_size, 8, 1 << 24, NULL, NULL},
    {"max", "largest block in bytes", &max_size, 8, 1 << 24, NULL, NULL},
};
#define NOPTS (sizeof opts / sizeof opts[0])

/* Every block starts with a tag word (its size and slot) and is filled
 * after it with a byte derived from the tag, so a block handed out twice
 * or overwritten by the allocator fails the check on its free. */
static inline uint64_t tag_of(uint64_t size, uint64_t slot) { return size << 32 | slot; }
static inline unsigned char fill_of(uint64_t tag) { return (unsigned char)(tag * 0x9e37u >> 8); }

static void *fresh(bench_rng *r, uint64_t slot)
{
    size_t n = (size_t)bench_rand_range(r, min_size, max_size);
    unsigned char *b = bench_malloc(n);
    if (!b)
        bench_fail("malloc(%zu) returned NULL", n);
    uint64_t tag = tag_of(n, slot);
    memcpy(b, &tag, sizeof tag);
    memset(b + sizeof tag, fill_of(tag), n - sizeof tag);
    return b;
}

static void check_and_free(unsigned char *b, uint64_t slot)
{
    uint64_t tag;
    memcpy(&tag, b, sizeof tag);
    uint64_t n = tag >> 32;
    if ((tag & 0xffffffffu) != slot || n < min_size || n > max_size ||
        (n > sizeof tag && b[n - 1] != fill_of(tag)))
        bench_fail("block in slot %llu corrupted", (unsigned long long)slot);
    bench_free(b);
}

typedef struct worker_arg {
    uint64_t id;
    double seconds;
} worker_arg;

/* Fills the table, then times only the replacements; the drain frees and
 * checks every block that is left. */
static void *worker(void *arg)
{
    worker_arg *w = arg;
    bench_rng r;
    bench_rng_seed(&r, w->id + 1);
    void **table = bench_malloc(live * sizeof *table);
    if (!table)
        bench_fail("cannot allocate a table of %llu", (unsigned long long)live);
    for (uint64_t i = 0; i < live; i++)
        table[i] = fresh(&r, i);
    double t0 = bench_now();
    for (uint64_t i = 0; i < ops; i++) {
        uint64_t j = bench_rand(&r) % live;
        check_and_free(table[j], j);
        table[j] = fresh(&r, j);
    }
    w->seconds = bench_now() - t0;
    for (uint64_t i = 0; i < live; i++)
        check_and_free(table[i], i);
    bench_free(table);
    return NULL;
}

/* Reports the slowest thread's churn time. */
int main(int argc, char **argv)
{
    bench_parse("churn", argc, argv, opts, NOPTS);
    if (min_size > max_size)
        bench_fail("min (%llu) > max (%llu)", (unsigned long long)min_size,
                   (unsigned long long)max_size);
    bench_alloc_init();
    static worker_arg args[MAX_THREADS];
    for (uint64_t i = 0; i < threads; i++)
        args[i].id = i;
    bench_threads((unsigned)threads, worker, args, sizeof args[0]);
    double t = 0;
    for (uint64_t i = 0; i < threads; i++)
        t = args[i].seconds > t ? args[i].seconds : t;
    bench_json_begin("churn", bench_alloc_name(), bench_sized_free_name(), opts, NOPTS);
    bench_json_u64("ops", threads * ops);
    bench_json_f64("seconds", t);
    bench_json_f64("ns_per_op", t * 1e9 / (double)(threads * ops));
    bench_json_end();
    return 0;
}
