/* Shared plumbing for the workloads: key=value options, a fast PRNG,
 * the clock, RSS sampling and the one-line JSON result the driver reads. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_KIB ((uint64_t)1 << 10)
#define BENCH_MIB ((uint64_t)1 << 20)

/* One command-line option: numeric (num != NULL, bounds inclusive) or a
 * choice among NULL-terminated names (choice != NULL). */
typedef struct bench_opt {
    const char *name;
    const char *help;
    uint64_t *num;
    uint64_t min, max;
    const char *const *choices;
    unsigned *choice;
} bench_opt;

/* Parses argv as name=value pairs into opts (which hold the defaults);
 * on bad input prints why and the usage, then exits with status 2. */
void bench_parse(const char *prog, int argc, char **argv, const bench_opt *opts,
                 size_t nopts);

/* Reports a failed correctness check or resource error; exits 1. */
void bench_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Monotonic seconds. */
double bench_now(void);
/* Resident set size now, read without allocating. */
uint64_t bench_rss_bytes(void);
void bench_sleep_ms(uint64_t ms);

typedef struct bench_rng {
    uint64_t s;
} bench_rng;

void bench_rng_seed(bench_rng *r, uint64_t seed);
uint64_t bench_rand(bench_rng *r);
/* Uniform in [lo, hi]. */
uint64_t bench_rand_range(bench_rng *r, uint64_t lo, uint64_t hi);
/* Log-uniform in [lo, hi]: as many small as large size classes. */
uint64_t bench_rand_log(bench_rng *r, uint64_t lo, uint64_t hi);

/* Runs fn(arg + i * stride) on n threads (fn(NULL) if arg is NULL) and
 * joins them. */
void bench_threads(unsigned n, void *(*fn)(void *), void *arg, size_t stride);

/* The result line: begin (names the workload, the allocator interface
 * and the parameters), fields, end. Keys are fixed identifiers. */
void bench_json_begin(const char *workload, const char *api, const char *sized_free,
                      const bench_opt *opts, size_t nopts);
void bench_json_u64(const char *key, uint64_t v);
void bench_json_f64(const char *key, double v);
void bench_json_str(const char *key, const char *v);
/* A list of [x, y] pairs, e.g. RSS over time. */
void bench_json_series(const char *key, const double *x, const double *y, size_t n);
void bench_json_end(void);

#endif
