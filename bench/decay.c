/* Decay check: allocate a burst of 64 KiB..1 MiB blocks, free it all,
 * then stay idle (no allocator calls) and watch RSS. Only an allocator
 * that purges in the background returns the memory of an idle process;
 * reports how long RSS took to fall back. */
#include <stdint.h>
#include <string.h>

#include "alloc_api.h"
#include "common.h"

#define MAX_SAMPLES 4096

static uint64_t burst_mib = 512, min_size = 64 * 1024, max_size = 1024 * 1024;
static uint64_t idle_ms = 2000, every_ms = 100, keep_pct = 10;

static const bench_opt opts[] = {
    {"burst", "bytes allocated in the burst, MiB", &burst_mib, 1, 1 << 16, NULL, NULL},
    {"min", "smallest block in bytes (>= 16)", &min_size, 16, 1 << 30, NULL, NULL},
    {"max", "largest block in bytes", &max_size, 16, 1 << 30, NULL, NULL},
    {"idle", "idle time after the free, ms", &idle_ms, 1, 3600000, NULL, NULL},
    {"every", "RSS sampling period, ms", &every_ms, 1, 60000, NULL, NULL},
    {"keep", "RSS counts as fallen back when at most this % of the burst remains",
     &keep_pct, 0, 100, NULL, NULL},
};
#define NOPTS (sizeof opts / sizeof opts[0])

static double s_ms[MAX_SAMPLES], s_rss[MAX_SAMPLES];

/* Allocates and fully writes the burst; returns the block count. */
static size_t burst(unsigned char **blocks, size_t cap, bench_rng *r)
{
    uint64_t total = 0, want = burst_mib * BENCH_MIB;
    size_t n = 0;
    while (total < want && n < cap) {
        size_t sz = (size_t)bench_rand_log(r, min_size, max_size);
        blocks[n] = bench_malloc(sz);
        if (!blocks[n])
            bench_fail("malloc(%zu) returned NULL", sz);
        memset(blocks[n], (int)(n & 0xff), sz);
        total += sz;
        n++;
    }
    return n;
}

/* Samples RSS while idle; returns ms until it fell back, or -1. */
static double watch(uint64_t base, uint64_t peak, size_t *nsamples)
{
    double t0 = bench_now(), fell = -1;
    uint64_t limit = base + (peak - base) * keep_pct / 100;
    size_t n = 0;
    while (n < MAX_SAMPLES) {
        double ms = (bench_now() - t0) * 1e3;
        uint64_t rss = bench_rss_bytes();
        s_ms[n] = ms;
        s_rss[n++] = (double)rss / (double)BENCH_MIB;
        if (fell < 0 && rss <= limit)
            fell = ms;
        if (ms >= (double)idle_ms)
            break;
        bench_sleep_ms(every_ms);
    }
    *nsamples = n;
    return fell;
}

/* The block table is allocated before the baseline is read, so only the
 * burst itself counts against the fall-back. */
int main(int argc, char **argv)
{
    bench_parse("decay", argc, argv, opts, NOPTS);
    if (min_size > max_size)
        bench_fail("min (%llu) > max (%llu)", (unsigned long long)min_size,
                   (unsigned long long)max_size);
    bench_alloc_init();
    size_t cap = (size_t)(burst_mib * BENCH_MIB / min_size + 1);
    unsigned char **blocks = bench_malloc(cap * sizeof *blocks);
    if (!blocks)
        bench_fail("cannot allocate the block table");
    bench_rng r;
    bench_rng_seed(&r, 5);
    uint64_t base = bench_rss_bytes();
    size_t n = burst(blocks, cap, &r);
    uint64_t peak = bench_rss_bytes();
    for (size_t i = 0; i < n; i++) {
        if (blocks[i][0] != (unsigned char)(i & 0xff))
            bench_fail("block %zu corrupted", i);
        bench_free(blocks[i]);
    }
    uint64_t after = bench_rss_bytes();
    size_t ns;
    double fell = watch(base, peak, &ns);
    bench_free(blocks);
    bench_json_begin("decay", bench_alloc_name(), bench_sized_free_name(), opts, NOPTS);
    bench_json_u64("ops", n);
    bench_json_f64("seconds", s_ms[ns - 1] / 1e3);
    bench_json_u64("base_rss", base);
    bench_json_u64("peak_rss", peak);
    bench_json_u64("after_free_rss", after);
    bench_json_u64("end_rss", (uint64_t)(s_rss[ns - 1] * (double)BENCH_MIB));
    bench_json_f64("fallback_ms", fell);
    bench_json_series("rss_mib", s_ms, s_rss, ns);
    bench_json_end();
    return 0;
}
