/* Shared plumbing for the workloads (see common.h). Nothing here calls
 * the allocator under test, so it adds no noise to the measurements. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Lists every option so a wrong invocation explains itself. */
static void usage(const char *prog, const bench_opt *opts, size_t nopts)
{
    fprintf(stderr, "usage: %s [name=value ...]\n", prog);
    for (size_t i = 0; i < nopts; i++) {
        const bench_opt *o = &opts[i];
        if (o->num) {
            fprintf(stderr, "  %-10s %s (default %llu, %llu..%llu)\n", o->name, o->help,
                    (unsigned long long)*o->num, (unsigned long long)o->min,
                    (unsigned long long)o->max);
            continue;
        }
        fprintf(stderr, "  %-10s %s (one of:", o->name, o->help);
        for (const char *const *c = o->choices; *c; c++)
            fprintf(stderr, " %s", *c);
        fprintf(stderr, "; default %s)\n", o->choices[*o->choice]);
    }
}

/* Numbers must be plain decimal and in range: a typo must not silently
 * become 0 or a huge run. */
static int parse_num(const bench_opt *o, const char *text)
{
    char *end;
    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < o->min || v > o->max)
        return -1;
    *o->num = v;
    return 0;
}

/* Choices are matched by exact name. */
static int parse_choice(const bench_opt *o, const char *text)
{
    for (unsigned i = 0; o->choices[i]; i++) {
        if (strcmp(o->choices[i], text) == 0) {
            *o->choice = i;
            return 0;
        }
    }
    return -1;
}

/* Finds the option named by the text before '=' in arg. */
static const bench_opt *find_opt(const char *arg, size_t keylen, const bench_opt *opts,
                                 size_t nopts)
{
    for (size_t i = 0; i < nopts; i++) {
        if (strlen(opts[i].name) == keylen && strncmp(opts[i].name, arg, keylen) == 0)
            return &opts[i];
    }
    return NULL;
}

/* One syntax for every workload keeps the driver's command lines uniform. */
void bench_parse(const char *prog, int argc, char **argv, const bench_opt *opts,
                 size_t nopts)
{
    for (int i = 1; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        const bench_opt *o = eq ? find_opt(argv[i], (size_t)(eq - argv[i]), opts, nopts) : NULL;
        if (!o) {
            fprintf(stderr, "%s: unknown argument '%s'\n", prog, argv[i]);
            usage(prog, opts, nopts);
            exit(2);
        }
        int rc = o->num ? parse_num(o, eq + 1) : parse_choice(o, eq + 1);
        if (rc) {
            fprintf(stderr, "%s: bad value in '%s'\n", prog, argv[i]);
            usage(prog, opts, nopts);
            exit(2);
        }
    }
}

/* Workloads verify what they wrote; a mismatch means a broken allocator
 * and must fail the run, not skew a number. */
void bench_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: FAILED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Monotonic so clock steps during a run cannot distort it. */
double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* stdio would allocate through the allocator under test; a raw read into
 * a stack buffer does not. */
uint64_t bench_rss_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        bench_fail("open /proc/self/statm: %s", strerror(errno));
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        bench_fail("read /proc/self/statm");
    buf[n] = '\0';
    unsigned long long size, resident;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
        bench_fail("cannot parse /proc/self/statm");
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Restarts after signals so the idle time is what was asked for. */
void bench_sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* splitmix64: tiny state, good enough spread, no libc rand() lock. */
void bench_rng_seed(bench_rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 1; }

/* See bench_rng_seed. */
uint64_t bench_rand(bench_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Modulo bias is irrelevant for picking sizes and slots. */
uint64_t bench_rand_range(bench_rng *r, uint64_t lo, uint64_t hi)
{
    return lo + bench_rand(r) % (hi - lo + 1);
}

/* Real programs allocate many more small than large blocks; log-uniform
 * gives each power-of-two band equal weight. */
uint64_t bench_rand_log(bench_rng *r, uint64_t lo, uint64_t hi)
{
    double u = (double)(bench_rand(r) >> 11) * 0x1.0p-53;
    double v = exp(log((double)lo) + u * (log((double)hi) - log((double)lo)));
    uint64_t x = (uint64_t)v;
    return x < lo ? lo : x > hi ? hi : x;
}

/* Thread start-up failures are resource errors, reported like any other.
 * A NULL arg is passed as NULL to every thread. */
void bench_threads(unsigned n, void *(*fn)(void *), void *arg, size_t stride)
{
    pthread_t tid[256];
    if (n > sizeof tid / sizeof tid[0])
        bench_fail("too many threads: %u", n);
    for (unsigned i = 0; i < n; i++) {
        int rc = pthread_create(&tid[i], NULL, fn, arg ? (char *)arg + i * stride : NULL);
        if (rc)
            bench_fail("pthread_create: %s", strerror(rc));
    }
    for (unsigned i = 0; i < n; i++)
        pthread_join(tid[i], NULL);
}

/* Echoing the parameters makes every result line self-describing. */
void bench_json_begin(const char *workload, const char *api, const char *sized_free,
                      const bench_opt *opts, size_t nopts)
{
    printf("{\"workload\":\"%s\",\"api\":\"%s\",\"sized_free\":\"%s\",\"params\":{",
           workload, api, sized_free);
    for (size_t i = 0; i < nopts; i++) {
        const bench_opt *o = &opts[i];
        if (o->num)
            printf("%s\"%s\":%llu", i ? "," : "", o->name, (unsigned long long)*o->num);
        else
            printf("%s\"%s\":\"%s\"", i ? "," : "", o->name, o->choices[*o->choice]);
    }
    printf("}");
}

/* See bench_json_begin. */
void bench_json_u64(const char *key, uint64_t v)
{
    printf(",\"%s\":%llu", key, (unsigned long long)v);
}

/* JSON has no NaN or infinity; callers pass finite values. */
void bench_json_f64(const char *key, double v) { printf(",\"%s\":%.9g", key, v); }

/* Values are identifiers chosen by the program, never user text. */
void bench_json_str(const char *key, const char *v) { printf(",\"%s\":\"%s\"", key, v); }

/* See bench_json_begin. */
void bench_json_series(const char *key, const double *x, const double *y, size_t n)
{
    printf(",\"%s\":[", key);
    for (size_t i = 0; i < n; i++)
        printf("%s[%.6g,%.6g]", i ? "," : "", x[i], y[i]);
    printf("]");
}

/* One line per run: the driver reads exactly the last line of stdout. */
void bench_json_end(void)
{
    printf("}\n");
    fflush(stdout);
}
