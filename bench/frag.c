/* Fragmentation: a long-running program whose live set repeatedly grows
 * to a peak and shrinks to a tenth, each phase in a different size band,
 * with random survivors pinning memory. Samples RSS against live bytes
 * over time; the peak RSS / peak live ratio is the fragmentation cost. */
#include <stdint.h>
#include <string.h>

#include "alloc_api.h"
#include "common.h"

#define MAX_SAMPLES 1024

static uint64_t peak_mib = 128, phases = 6, churn = 1000000, sample_every = 20000;

static const bench_opt opts[] = {
    {"peak", "live bytes at each phase's peak, MiB", &peak_mib, 1, 1 << 16, NULL, NULL},
    {"phases", "grow/churn/shrink phases", &phases, 1, 1000, NULL, NULL},
    {"churn", "free+malloc replacements at each peak", &churn, 0, UINT64_MAX >> 8, NULL,
     NULL},
    {"sample", "operations between RSS samples (doubles when the log is full)",
     &sample_every, 1, UINT64_MAX >> 12, NULL, NULL},
};
#define NOPTS (sizeof opts / sizeof opts[0])

/* The live set: dense arrays, so a random block is removed by swapping
 * the last one into its place. The arrays count as live bytes. */
static uint64_t **block;
static size_t *len;
static size_t count, cap;
static uint64_t live;

static double t_start;
static double s_time[MAX_SAMPLES], s_rss[MAX_SAMPLES], s_live[MAX_SAMPLES];
static size_t nsamples;
static uint64_t ops, peak_rss, peak_live;

/* Size bands: small objects, medium buffers, then a wide log-uniform mix. */
static size_t pick_size(bench_rng *r, uint64_t phase)
{
    switch (phase % 3) {
    case 0:
        return (size_t)bench_rand_range(r, 16, 256);
    case 1:
        return (size_t)bench_rand_log(r, 256, 16 * 1024);
    default:
        return (size_t)bench_rand_log(r, 16, 64 * 1024);
    }
}

/* Keeps the log bounded for any run length by halving its resolution. */
static void sample(void)
{
    uint64_t rss = bench_rss_bytes();
    if (rss > peak_rss)
        peak_rss = rss;
    if (live > peak_live)
        peak_live = live;
    if (nsamples == MAX_SAMPLES) {
        for (size_t i = 0; i < MAX_SAMPLES / 2; i++) {
            s_time[i] = s_time[2 * i];
            s_rss[i] = s_rss[2 * i];
            s_live[i] = s_live[2 * i];
        }
        nsamples = MAX_SAMPLES / 2;
        sample_every *= 2;
    }
    s_time[nsamples] = bench_now() - t_start;
    s_rss[nsamples] = (double)rss / (double)BENCH_MIB;
    s_live[nsamples] = (double)live / (double)BENCH_MIB;
    nsamples++;
}

/* Counts an operation and samples on schedule. */
static void tick(void)
{
    if (++ops % sample_every == 0)
        sample();
}

/* Doubles the live-set arrays through the allocator under test. */
static void reserve(void)
{
    size_t ncap = cap ? 2 * cap : 4096;
    uint64_t **nb = bench_realloc(block, ncap * sizeof *nb);
    if (!nb)
        bench_fail("cannot grow the block table to %zu", ncap);
    block = nb;
    size_t *nl = bench_realloc(len, ncap * sizeof *nl);
    if (!nl)
        bench_fail("cannot grow the length table to %zu", ncap);
    len = nl;
    live += (ncap - cap) * (sizeof *nb + sizeof *nl);
    cap = ncap;
}

/* Adds one block, tagged with its length. */
static void add(bench_rng *r, uint64_t phase)
{
    if (count == cap)
        reserve();
    size_t n = pick_size(r, phase);
    uint64_t *b = bench_malloc(n);
    if (!b)
        bench_fail("malloc(%zu) returned NULL", n);
    b[0] = n;
    block[count] = b;
    len[count++] = n;
    live += n;
    tick();
}

/* Frees a random block after checking its tag. */
static void drop(bench_rng *r)
{
    size_t i = (size_t)(bench_rand(r) % count);
    if (block[i][0] != len[i])
        bench_fail("block of %zu bytes corrupted", len[i]);
    bench_free(block[i]);
    live -= len[i];
    block[i] = block[--count];
    len[i] = len[count];
    tick();
}

/* Grow to the peak, churn there, shrink to a tenth. */
static void phase(bench_rng *r, uint64_t k)
{
    uint64_t peak = peak_mib * BENCH_MIB;
    while (live < peak)
        add(r, k);
    for (uint64_t i = 0; i < churn; i++) {
        drop(r);
        add(r, k);
    }
    sample();
    while (live > peak / 10 && count)
        drop(r);
    sample();
}

/* Times the phases; the final drain only checks and frees. */
int main(int argc, char **argv)
{
    bench_parse("frag", argc, argv, opts, NOPTS);
    bench_alloc_init();
    bench_rng r;
    bench_rng_seed(&r, 99);
    t_start = bench_now();
    sample();
    for (uint64_t k = 0; k < phases; k++)
        phase(&r, k);
    double t = bench_now() - t_start;
    uint64_t end_rss = bench_rss_bytes(), end_live = live, timed_ops = ops;
    while (count)
        drop(&r);
    bench_free(block);
    bench_free(len);
    bench_json_begin("frag", bench_alloc_name(), bench_sized_free_name(), opts, NOPTS);
    bench_json_u64("ops", timed_ops);
    bench_json_f64("seconds", t);
    bench_json_f64("ns_per_op", t * 1e9 / (double)timed_ops);
    bench_json_u64("peak_rss", peak_rss);
    bench_json_u64("peak_live", peak_live);
    bench_json_f64("rss_live_ratio", (double)peak_rss / (double)peak_live);
    bench_json_u64("end_rss", end_rss);
    bench_json_u64("end_live", end_live);
    bench_json_f64("end_ratio", (double)end_rss / (double)end_live);
    bench_json_series("rss_mib", s_time, s_rss, nsamples);
    bench_json_series("live_mib", s_time, s_live, nsamples);
    bench_json_end();
    return 0;
}
