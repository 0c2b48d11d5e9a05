/* Realloc growth: many buffers grow a few bytes at a time, interleaved,
 * as string builders and vectors do. Rewards allocators that grow blocks
 * in place or within the size class instead of copying. */
#include <stdint.h>
#include <string.h>

#include "alloc_api.h"
#include "common.h"

static uint64_t buffers = 64, steps = 5000000, step = 64, max_len = 64 * 1024;

static const bench_opt opts[] = {
    {"buffers", "buffers grown round-robin", &buffers, 1, 1 << 20, NULL, NULL},
    {"n", "realloc calls in total", &steps, 1, UINT64_MAX >> 1, NULL, NULL},
    {"step", "largest growth per call in bytes", &step, 1, 1 << 20, NULL, NULL},
    {"max", "length at which a buffer is freed and restarted", &max_len, 2, 1 << 30,
     NULL, NULL},
};
#define NOPTS (sizeof opts / sizeof opts[0])

typedef struct buf {
    unsigned char *p;
    size_t len;
} buf;

/* The contents must survive every move: first and last byte are checked,
 * and the new tail is filled so a copy has real data to move. */
static void grow(buf *b, unsigned char tag, bench_rng *r)
{
    size_t len = b->len + (size_t)bench_rand_range(r, 1, step);
    unsigned char *p = bench_realloc(b->p, len);
    if (!p)
        bench_fail("realloc(%zu) returned NULL", len);
    if (b->len && (p[0] != tag || p[b->len - 1] != tag))
        bench_fail("realloc lost the contents of a %zu-byte buffer", b->len);
    memset(p + b->len, tag, len - b->len);
    b->p = p;
    b->len = len;
}

/* Times the growth loop; the final frees are not timed. */
int main(int argc, char **argv)
{
    bench_parse("realloc", argc, argv, opts, NOPTS);
    bench_alloc_init();
    buf *bufs = bench_malloc(buffers * sizeof *bufs);
    if (!bufs)
        bench_fail("cannot allocate the buffer table");
    memset(bufs, 0, buffers * sizeof *bufs);
    bench_rng r;
    bench_rng_seed(&r, 7);
    double t0 = bench_now();
    for (uint64_t i = 0; i < steps; i++) {
        buf *b = &bufs[i % buffers];
        grow(b, (unsigned char)(i % buffers), &r);
        if (b->len >= max_len) {
            bench_free(b->p);
            b->p = NULL;
            b->len = 0;
        }
    }
    double t = bench_now() - t0;
    for (uint64_t i = 0; i < buffers; i++)
        bench_free(bufs[i].p);
    bench_free(bufs);
    bench_json_begin("realloc", bench_alloc_name(), bench_sized_free_name(), opts, NOPTS);
    bench_json_u64("ops", steps);
    bench_json_f64("seconds", t);
    bench_json_f64("ns_per_op", t * 1e9 / (double)steps);
    bench_json_end();
    return 0;
}
