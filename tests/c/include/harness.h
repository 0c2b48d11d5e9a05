/* Minimal test harness for the C tests: CHECK records a failure and goes
 * on; main returns TEST_EXIT() so the pytest driver sees the result. */
#ifndef TA_TEST_HARNESS_H
#define TA_TEST_HARNESS_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static int harness_failures;
static int harness_checks;

#define CHECK(cond)                                                           \
    do {                                                                      \
        harness_checks++;                                                     \
        if (!(cond)) {                                                        \
            harness_failures++;                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                   \
        }                                                                     \
    } while (0)

#define CHECK_EQ(a, b)                                                        \
    do {                                                                      \
        long long ha_ = (long long)(a), hb_ = (long long)(b);                 \
        harness_checks++;                                                     \
        if (ha_ != hb_) {                                                     \
            harness_failures++;                                               \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n", \
                    __FILE__, __LINE__, #a, #b, ha_, hb_);                    \
        }                                                                     \
    } while (0)

#define RUN(fn)                                                               \
    do {                                                                      \
        int before_ = harness_failures;                                       \
        fn();                                                                 \
        printf("%s %s\n", harness_failures == before_ ? "ok  " : "FAIL", #fn); \
        fflush(stdout);                                                       \
    } while (0)

/* Threads other than main count their failures here (the counters above
 * are not thread-safe); main checks CHECK_EQ(test_thread_failures(), 0). */
static atomic_int harness_thread_failures;

#define TCHECK(cond)                                                          \
    do {                                                                      \
        if (!(cond)) {                                                        \
            atomic_fetch_add(&harness_thread_failures, 1);                    \
            fprintf(stderr, "%s:%d: thread check failed: %s\n", __FILE__,     \
                    __LINE__, #cond);                                         \
        }                                                                     \
    } while (0)

static inline int test_thread_failures(void) { return atomic_load(&harness_thread_failures); }

#define TEST_EXIT()                                                           \
    (printf("%d checks, %d failed\n", harness_checks, harness_failures),     \
     harness_failures ? 1 : 0)


/* ---- Helpers shared by the core tests ---------------------------------- */

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "tunalloc.h"

/* True in builds under a sanitizer, where loops are scaled down so every
 * variant stays within a few seconds. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TEST_SANITIZED 1
#else
#define TEST_SANITIZED 0
#endif

/* How many times longer than under `make test` a stress test runs: the
 * environment's TA_TEST_SCALE (`make stress` sets it), 1 when unset. A
 * value that is not a whole number from 1 to 100000 fails the run. Read
 * it once, before starting threads. */
static inline unsigned test_scale(void)
{
    const char *s = getenv("TA_TEST_SCALE");
    if (!s || !*s)
        return 1;
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || *s == '-' || v < 1 || v > 100000) {
        fprintf(stderr, "TA_TEST_SCALE=%s: want a whole number from 1 to 100000\n", s);
        CHECK(!"TA_TEST_SCALE is valid");
        return 1;
    }
    return (unsigned)v;
}

/* A size_t control value; the name is printf-formatted (index patterns).
 * A failed read is a test failure, reported with the name. */
__attribute__((format(printf, 1, 2))) static inline size_t test_ctl_size(const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    size_t v = 0, len = sizeof(v);
    int err = ta_ctl(name, &v, &len, NULL, 0);
    if (err)
        fprintf(stderr, "ta_ctl(%s) = %d\n", name, err);
    CHECK_EQ(err, 0);
    return v;
}

/* The size tiers' edges, which the API does not name (core/src/
 * sizeclass.h's SMALL_MAX, TCACHE_MAX and LARGE_MAX), for tests on the
 * public API to aim at; unit/test_sizeclass fails if they drift. */
#define TEST_SMALL_MAX ((size_t)16384)   /* largest size served from slabs */
#define TEST_TCACHE_MAX ((size_t)32768)  /* largest size caches keep */
#define TEST_LARGE_MAX ((size_t)2 << 20) /* above: a mapping of its own */

/* Statistic `leaf` of the arena of index i (stats.arenas.<i>.<leaf>) as
 * of a new epoch, so it counts what happened up to the call. */
static inline size_t test_arena_index_stat(unsigned i, const char *leaf)
{
    uint64_t e = 1;
    CHECK_EQ(ta_ctl("epoch", NULL, NULL, &e, sizeof(e)), 0);
    return test_ctl_size("stats.arenas.%u.%s", i, leaf);
}

static inline size_t test_arena_stat(ta_arena_t *a, const char *leaf)
{
    return test_arena_index_stat(ta_arena_index(a), leaf);
}

/* Requests bin `bin` of the arena of index i served, as of a new epoch. */
static inline size_t test_bin_requests(unsigned i, unsigned bin)
{
    char leaf[48];
    snprintf(leaf, sizeof(leaf), "bins.%u.nrequests", bin);
    return test_arena_index_stat(i, leaf);
}

/* A manual arena that never purges (decay -1), so reuse and cached
 * pages stay visible to the test. */
static inline ta_arena_t *test_keeping_arena(void)
{
    ta_arena_opts o;
    ta_arena_opts_init(&o);
    o.dirty_decay_ms = -1;
    o.muzzy_decay_ms = -1;
    ta_arena_t *ar = ta_arena_create(&o);
    CHECK(ar != NULL);
    return ar;
}

/* Deterministic xorshift64 so failures reproduce run after run. */
static inline uint64_t test_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* A byte pattern that differs per block and per offset, so overlapping
 * or moved blocks show up as mismatches. */
static inline unsigned char test_pattern(uintptr_t seed, size_t i)
{
    return (unsigned char)((seed * 131u + i * 7u + (i >> 8)) & 0xff);
}

static inline void test_fill(void *p, size_t n, uintptr_t seed)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = test_pattern(seed, i);
}

/* Index of the first byte that lost its pattern, or n if all kept it. */
static inline size_t test_verify(const void *p, size_t n, uintptr_t seed)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != test_pattern(seed, i))
            return i;
    return n;
}

/* Whether the mapping holding p carries VmFlags flag in /proc/self/smaps:
 * 1 or 0, -1 if no mapping holds p. */
static inline int test_mapping_has_flag(const void *p, const char *flag)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int found = -1;
    int inside = 0;
    uintptr_t a = (uintptr_t)p;
    while (found < 0 && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            inside = a >= lo && a < hi;
        else if (inside && strncmp(line, "VmFlags:", 8) == 0)
            found = strstr(line + 8, flag) != NULL;
    }
    fclose(f);
    return found;
}

/* True if every byte of [p, p+n) is zero. */
static inline int test_all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

/* A manual arena with the given cap (0: none) and immediate decay, so
 * frees show up as room at once and nothing lingers between tests. */
static inline ta_arena_t *test_limited_arena(size_t limit)
{
    ta_arena_opts o;
    ta_arena_opts_init(&o);
    o.dirty_decay_ms = 0;
    o.muzzy_decay_ms = 0;
    o.limit = limit;
    ta_arena_t *a = ta_arena_create(&o);
    CHECK(a != NULL);
    return a;
}

/* Virtual size of the process in bytes, from /proc/self/statm. */
static inline size_t test_vm_size(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

#endif
