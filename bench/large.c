/* Large allocations: a small window of 64 KiB..64 MiB blocks (log-uniform)
 * is replaced at random, and every page of each new block is written.
 * Models buffers for files, images and network payloads: an allocator
 * that maps and unmaps every time pays page faults and zeroing. */
#include <stdint.h>

#include "alloc_api.h"
#include "common.h"

#define MAX_WINDOW 1024
#define PAGE 4096

static uint64_t window = 8, steps = 3000, min_size = 64 * 1024, max_size = 64 * 1024 * 1024;

static const bench_opt opts[] = {
    {"window", "live blocks", &window, 1, MAX_WINDOW, NULL, NULL},
    {"n", "replacements", &steps, 1, UINT64_MAX >> 1, NULL, NULL},
    {"min", "smallest block in bytes (>= 16)", &min_size, 16, (uint64_t)1 << 36, NULL,
     NULL},
    {"max", "largest block in bytes", &max_size, 16, (uint64_t)1 << 36, NULL, NULL},
};
#define NOPTS (sizeof opts / sizeof opts[0])

static unsigned char *block[MAX_WINDOW];
static size_t len[MAX_WINDOW];

/* Writes one byte per page, as a program filling the buffer would fault
 * each page in; the length goes in the first word for the check. */
static unsigned char *fresh(bench_rng *r, size_t *out_len)
{
    size_t n = (size_t)bench_rand_log(r, min_size, max_size);
    unsigned char *p = bench_malloc(n);
    if (!p)
        bench_fail("malloc(%zu) returned NULL", n);
    for (size_t off = PAGE; off < n; off += PAGE)
        p[off] = (unsigned char)(off / PAGE);
    *(uint64_t *)p = n;
    *out_len = n;
    return p;
}

/* Checks the length tag and one byte per page before freeing. */
static void retire(unsigned char *p, size_t n)
{
    if (*(uint64_t *)p != n)
        bench_fail("block of %zu bytes lost its header", n);
    for (size_t off = PAGE; off < n; off += PAGE * 64) {
        if (p[off] != (unsigned char)(off / PAGE))
            bench_fail("block of %zu bytes corrupted at %zu", n, off);
    }
    bench_free(p);
}

/* The timed part includes filling and draining the window, since
 * mapping and unmapping are the costs this workload is about. */
int main(int argc, char **argv)
{
    bench_parse("large", argc, argv, opts, NOPTS);
    if (min_size > max_size)
        bench_fail("min (%llu) > max (%llu)", (unsigned long long)min_size,
                   (unsigned long long)max_size);
    bench_alloc_init();
    bench_rng r;
    bench_rng_seed(&r, 3);
    double t0 = bench_now();
    for (uint64_t i = 0; i < window; i++)
        block[i] = fresh(&r, &len[i]);
    for (uint64_t i = 0; i < steps; i++) {
        uint64_t j = bench_rand(&r) % window;
        retire(block[j], len[j]);
        block[j] = fresh(&r, &len[j]);
    }
    for (uint64_t i = 0; i < window; i++)
        retire(block[i], len[i]);
    double t = bench_now() - t0;
    bench_json_begin("large", bench_alloc_name(), bench_sized_free_name(), opts, NOPTS);
    bench_json_u64("ops", steps + window);
    bench_json_f64("seconds", t);
    bench_json_f64("ns_per_op", t * 1e9 / (double)(steps + window));
    bench_json_end();
    return 0;
}
