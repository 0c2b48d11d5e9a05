/* ta_sized_count_alloc and ta_sized_count_resize: while the cache
 * samples, a block ta_sized_free took is the next one of its class they
 * hand out (on a new block and on a resize that moves class), every
 * block is counted toward the next sample, the kept bytes survive every
 * resize, failures reach `failed`, they mix with the plain calls on one
 * cache, before, during and after sampling, and every block comes back. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "tunalloc.h"

#define N 2000
#define SIZE 48

typedef struct runtime {
    ta_sized_t sized;
    int nfailed;
} runtime;

static void *record_failure(ta_sized_t *sized, void *p, size_t osize, size_t nsize)
{
    (void)p, (void)osize, (void)nsize;
    ((runtime *)sized)->nfailed++;
    return NULL;
}

static int set_bool(const char *name, bool v)
{
    return ta_ctl(name, NULL, NULL, &v, sizeof v);
}

static int set_size(const char *name, size_t v)
{
    return ta_ctl(name, NULL, NULL, &v, sizeof v);
}

static size_t live_blocks(ta_arena_t *a)
{
    size_t blocks = 1, bytes = 1;
    CHECK_EQ(ta_arena_live(a, &blocks, &bytes), 0);
    return blocks;
}

/* Enough blocks of a size to miss (a cache starts sampling at a miss),
 * all given back. */
static void churn(ta_sized_t *sz, size_t size)
{
    static void *v[N];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++)
            CHECK((v[i] = ta_sized_count_alloc(sz, size)) != NULL);
        for (int i = 0; i < N; i++)
            ta_sized_free(sz, v[i], size);
    }
}

/* The reuse order of the counting calls, sampling or not. */
static void test_reuse_order(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    ta_tcache_t *tc = ta_tcache_create(a);
    runtime r = {{tc, record_failure, tc}, 0};
    ta_sized_t *sz = &r.sized;
    for (int sampling = 0; sampling < 2; sampling++) {
        CHECK_EQ(set_size("prof.sample_bytes", (size_t)1 << 40), 0);
        CHECK_EQ(set_bool("prof.active", sampling), 0);
        churn(sz, SIZE);
        churn(sz, 4 * SIZE);
        unsigned same = 0, moved_same = 0, plain_same = 0;
        for (int i = 0; i < N; i++) {
            void *p = ta_sized_count_alloc(sz, SIZE);
            test_fill(p, SIZE, (uintptr_t)i);
            ta_sized_free(sz, p, SIZE);
            void *x = ta_sized_count_alloc(sz, SIZE);
            same += x == p;
            test_fill(x, SIZE, (uintptr_t)i);
            void *q = ta_sized_count_alloc(sz, 4 * SIZE);
            ta_sized_free(sz, q, 4 * SIZE);
            void *y = ta_sized_count_resize(sz, x, SIZE, 4 * SIZE);
            moved_same += y == q;
            CHECK_EQ(test_verify(y, SIZE, (uintptr_t)i), SIZE);
            ta_sized_free(sz, y, 4 * SIZE);
            void *u = ta_sized_alloc(sz, SIZE);
            ta_sized_free(sz, u, SIZE);
            void *v = ta_sized_alloc(sz, SIZE);
            plain_same += u == v;
            ta_sized_free(sz, v, SIZE);
        }
        CHECK_EQ(same, N);
        CHECK_EQ(moved_same, N);
        /* plain calls between counting ones: once a counting call
         * missed, the plain ones miss to the same order */
        CHECK_EQ(plain_same, N);
    }
    CHECK_EQ(set_bool("prof.active", false), 0);
    CHECK_EQ(r.nfailed, 0);
    ta_tcache_flush(tc);
    CHECK_EQ(live_blocks(a), 0);
    ta_tcache_destroy(tc);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

static int add_samples(void *arg, const ta_prof_stack *s)
{
    *(uint64_t *)arg += s->alloc_blocks;
    return 0;
}

static uint64_t samples(void)
{
    uint64_t n = 0;
    CHECK_EQ(ta_prof_read(add_samples, &n), 0);
    return n;
}

/* An alloc/free loop and a resize loop through the counting calls are
 * sampled at the rate: 4 KiB, 64-byte blocks (one sample per 64 on
 * average), and a resize that moves 64 -> 256 -> 64 bytes (320 bytes
 * handed out a round). */
static void test_rate(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    ta_tcache_t *tc = ta_tcache_create(a);
    runtime r = {{tc, record_failure, tc}, 0};
    ta_sized_t *sz = &r.sized;
    uint64_t seed = 5;
    CHECK_EQ(ta_ctl("prof.seed", NULL, NULL, &seed, sizeof seed), 0);
    CHECK_EQ(set_size("prof.sample_bytes", 4096), 0);
    CHECK_EQ(set_bool("prof.active", true), 0);
    churn(sz, 64);
    churn(sz, 256);
    const int loops = 100000;
    uint64_t before = samples();
    for (int i = 0; i < loops; i++)
        ta_sized_free(sz, ta_sized_count_alloc(sz, 64), 64);
    double got = (double)(samples() - before), want = loops * 64.0 / 4096;
    CHECK(got > 0.9 * want && got < 1.1 * want);
    before = samples();
    void *p = ta_sized_count_alloc(sz, 64);
    for (int i = 0; i < loops; i++) {
        p = ta_sized_count_resize(sz, p, 64, 256);
        p = ta_sized_count_resize(sz, p, 256, 64);
    }
    ta_sized_free(sz, p, 64);
    got = (double)(samples() - before);
    want = loops * 320.0 / 4096;
    CHECK(got > 0.9 * want && got < 1.1 * want);
    CHECK_EQ(set_bool("prof.active", false), 0);
    ta_tcache_flush(tc);
    CHECK_EQ(live_blocks(a), 0);
    ta_tcache_destroy(tc);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* A growth the arena's cap refuses reaches `failed` and leaves the block
 * as it was; a shrink still succeeds; large and huge sizes take the
 * general paths. */
static void test_failures_and_sizes(void)
{
    ta_arena_t *a = test_limited_arena(1 << 20);
    ta_tcache_t *tc = ta_tcache_create(a);
    runtime r = {{tc, record_failure, tc}, 0};
    ta_sized_t *sz = &r.sized;
    CHECK_EQ(set_size("prof.sample_bytes", 1024), 0);
    CHECK_EQ(set_bool("prof.active", true), 0);
    churn(sz, 100);
    void *p = ta_sized_count_alloc(sz, 100);
    CHECK(p != NULL);
    test_fill(p, 100, 9);
    CHECK(ta_sized_count_resize(sz, p, 100, 2 << 20) == NULL);
    CHECK_EQ(r.nfailed, 1);
    CHECK(ta_sized_count_alloc(sz, 2 << 20) == NULL);
    CHECK_EQ(r.nfailed, 2);
    void *q = ta_sized_count_resize(sz, p, 100, 40000);
    CHECK(q != NULL);
    CHECK_EQ(test_verify(q, 100, 9), 100);
    q = ta_sized_count_resize(sz, q, 40000, 20);
    CHECK(q != NULL);
    CHECK_EQ(test_verify(q, 20, 9), 20);
    CHECK(ta_sized_count_resize(sz, q, 20, 0) == NULL);
    void *z = ta_sized_count_resize(sz, NULL, 0, 8);
    CHECK(z != NULL);
    ta_sized_free(sz, z, 8);
    CHECK_EQ(r.nfailed, 2);
    CHECK_EQ(set_bool("prof.active", false), 0);
    ta_tcache_flush(tc);
    CHECK_EQ(live_blocks(a), 0);
    ta_tcache_destroy(tc);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

int main(void)
{
    RUN(test_reuse_order);
    RUN(test_rate);
    RUN(test_failures_and_sizes);
    return TEST_EXIT();
}
