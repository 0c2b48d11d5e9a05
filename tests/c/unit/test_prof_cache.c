/* Unit test of prof.c.
 * A sampling cache's state across a change of generation, and reads of
 * the profile, which neither sample their own allocations nor count them
 * towards the next sample. */
#include <stdint.h>

#include "harness.h"
#include "prof.h"
#include "thread.h"

static int set_bool(const char *name, bool v) { return ta_ctl(name, NULL, NULL, &v, sizeof(v)); }

static int set_size(const char *name, size_t v) { return ta_ctl(name, NULL, NULL, &v, sizeof(v)); }

static int count_live(void *arg, const ta_prof_stack *s)
{
    *(uint64_t *)arg += s->live_blocks;
    return 0;
}

static uint64_t live_samples(void)
{
    uint64_t n = 0;
    CHECK_EQ(ta_prof_read(count_live, &n), 0);
    return n;
}

#define N 64

/* One Lua state counts (its windows go over to counting pops), its
 * profile stops and another state's starts before the first state's
 * cache misses again: its plain pops must find windows again, not miss
 * every time until sampling stops. */
static void test_counted_ends_with_its_generation(void)
{
    CHECK_EQ(set_size("prof.sample_bytes", (size_t)1 << 30), 0);
    uint64_t seed = 7;
    CHECK_EQ(ta_ctl("prof.seed", NULL, NULL, &seed, sizeof(seed)), 0);
    ta_tcache_t *tc = ta_tcache_create(NULL);
    ta_sized_t sz = {tc, NULL, tc};
    void *v[N];
    CHECK_EQ(set_bool("prof.active", true), 0);
    for (int i = 0; i < N; i++)
        v[i] = ta_sized_count_alloc(&sz, 48);
    CHECK(tc->t.prof != NULL && tc->t.prof->counted);
    for (int i = 0; i < N; i++)
        ta_sized_free(&sz, v[i], 48);
    CHECK_EQ(set_bool("prof.active", false), 0); /* the first state's profile_stop */
    CHECK_EQ(set_bool("prof.active", true), 0);  /* another state's profile_start */
    unsigned hits = 0;
    for (int i = 0; i < N; i++) {
        if (cache_pop(&tc->t, 48, &v[i]))
            hits++;
        else
            v[i] = ta_sized_alloc(&sz, 48);
    }
    CHECK(tc->t.prof != NULL && !tc->t.prof->counted);
    CHECK(hits >= N / 2);
    for (int i = 0; i < N; i++)
        ta_sized_free(&sz, v[i], 48);
    CHECK_EQ(set_bool("prof.active", false), 0);
    ta_tcache_destroy(tc);
}

/* A visitor that allocates, as a runtime building its own objects does. */
typedef struct {
    void *held[N];
    int n;
} holder;

static int allocating_visit(void *arg, const ta_prof_stack *s)
{
    (void)s;
    holder *h = arg;
    if (h->n < N)
        h->held[h->n++] = ta_malloc(40);
    return 0;
}

/* Every allocation would be sampled (sample_bytes 1), so anything a read
 * allocated and kept would show in the next read. */
static void test_reads_do_not_sample_themselves(void)
{
    CHECK_EQ(set_size("prof.sample_bytes", 1), 0);
    CHECK_EQ(set_bool("prof.active", true), 0);
    void *warm = ta_malloc(40); /* the thread's cache samples from now on */
    uint64_t before = live_samples();
    CHECK(before >= 1);
    holder h = {.n = 0};
    for (int round = 0; round < 4; round++)
        CHECK_EQ(ta_prof_read(allocating_visit, &h), 0);
    CHECK(h.n > 0);
    CHECK_EQ(live_samples(), before);

    /* a runtime's own read, through its explicit cache (counting pops
     * included) and the thread's, large blocks too */
    ta_tcache_t *tc = ta_tcache_create(NULL);
    ta_sized_t sz = {tc, NULL, tc};
    void *own = ta_sized_count_alloc(&sz, 48);
    before = live_samples();
    void *v[N], *big[4];
    ta_prof_read_begin(tc);
    for (int i = 0; i < N; i++)
        v[i] = ta_sized_count_alloc(&sz, 16 + 8 * (size_t)(i % 8));
    for (int i = 0; i < 4; i++)
        big[i] = ta_malloc((size_t)64 << 10);
    ta_prof_read_end();
    CHECK_EQ(live_samples(), before);

    /* after the read, sampling goes on */
    void *after = ta_malloc(40);
    CHECK_EQ(live_samples(), before + 1);
    ta_free(after);
    for (int i = 0; i < N; i++)
        ta_sized_free(&sz, v[i], 16 + 8 * (size_t)(i % 8));
    for (int i = 0; i < 4; i++)
        ta_free(big[i]);
    for (int i = 0; i < h.n; i++)
        ta_free(h.held[i]);
    ta_sized_free(&sz, own, 48);
    ta_tcache_destroy(tc);
    ta_free(warm);
    CHECK_EQ(set_bool("prof.active", false), 0);
}

/* What a read allocates and frees leaves the countdown where it was: a
 * read's begin settles the windows (their bytes back on the countdown),
 * so two reads in a row show the countdown with nothing outstanding. */
static void read_churn(ta_sized_t *sz)
{
    void *v[N];
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < N; i++)
            v[i] = i % 2 ? ta_sized_count_alloc(sz, 16 + 16 * (size_t)(i % 5))
                         : ta_malloc(16 + 16 * (size_t)(i % 5));
        for (int i = 0; i < N; i += 3)
            ta_free(ta_malloc((size_t)40 << 10));
        for (int i = 0; i < N; i++) {
            if (i % 2)
                ta_sized_free(sz, v[i], 16 + 16 * (size_t)(i % 5));
            else
                ta_free(v[i]);
        }
    }
}

static void test_reads_are_not_counted(void)
{
    CHECK_EQ(set_size("prof.sample_bytes", (size_t)1 << 30), 0);
    CHECK_EQ(set_bool("prof.active", true), 0);
    ta_tcache_t *tc = ta_tcache_create(NULL);
    ta_sized_t sz = {tc, NULL, tc};
    read_churn(&sz); /* both caches sample, the explicit one counting */
    CHECK(tai_tls_tcache->prof != NULL && tc->t.prof != NULL && tc->t.prof->counted);
    ta_prof_read_begin(tc);
    int64_t own = tai_tls_tcache->prof->bytes_left, expl = tc->t.prof->bytes_left;
    read_churn(&sz);
    ta_prof_read_end();
    ta_prof_read_begin(tc);
    CHECK_EQ(tai_tls_tcache->prof->bytes_left, own);
    CHECK_EQ(tc->t.prof->bytes_left, expl);
    ta_prof_read_end();
    /* outside a read the same allocations are counted */
    read_churn(&sz);
    ta_prof_read_begin(tc);
    CHECK(tai_tls_tcache->prof->bytes_left < own);
    CHECK(tc->t.prof->bytes_left < expl);
    ta_prof_read_end();
    ta_tcache_destroy(tc);
    CHECK_EQ(set_bool("prof.active", false), 0);
}

int main(void)
{
    RUN(test_counted_ends_with_its_generation);
    RUN(test_reads_do_not_sample_themselves);
    RUN(test_reads_are_not_counted);
    return TEST_EXIT();
}
