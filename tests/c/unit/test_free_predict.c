/* Unit test of tcache.c.
 * ta_free's prediction that a block goes back to the bin of the last
 * pop (tai_tcache_free_look): a thread that frees blocks of sizes
 * unrelated to what it allocates (larson's random replacements) stops
 * predicting (but for a window now and then) and keeps every block
 * intact meanwhile; once its frees follow its pops again (malloc then free at once) it predicts again
 * within FREE_RETRY + 1 windows and stays so; a thread that frees at
 * once never stops. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "tcache.h"
#include "thread.h"

#define SLOTS 1000
#define REPLACE 200000

static bool predicting(void)
{
    return !tai_tls_tcache->unpredicted;
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A block of n bytes, each holding the low byte of its tag. */
static unsigned char *fresh(size_t n, unsigned tag)
{
    unsigned char *b = ta_malloc(n);
    if (b)
        memset(b, tag & 0xff, n);
    return b;
}

static bool intact(const unsigned char *b, size_t n, unsigned tag)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != (tag & 0xff))
            return false;
    return true;
}

struct result {
    bool predicting_at_start, again, stayed;
    unsigned bad, not_predicting;
};

/* Each round frees a random slot's block and puts a new one of a random
 * size 16-1024 in its place, then mallocs and frees cycling sizes at once. */
static void *churn_thread(void *arg)
{
    struct result *r = arg;
    static unsigned char *block[SLOTS];
    static size_t size[SLOTS];
    static unsigned tag[SLOTS];
    uint64_t s = 88172645463325252ull;
    for (unsigned j = 0; j < SLOTS; j++) {
        size[j] = 16 + next(&s) % 1009;
        tag[j] = j;
        block[j] = fresh(size[j], tag[j]);
    }
    r->predicting_at_start = predicting();
    for (unsigned i = 0; i < REPLACE; i++) {
        unsigned j = (unsigned)(next(&s) % SLOTS);
        if (!block[j] || !intact(block[j], size[j], tag[j]))
            r->bad++;
        ta_free(block[j]);
        size[j] = 16 + next(&s) % 1009;
        tag[j] = i;
        block[j] = fresh(size[j], tag[j]);
        r->not_predicting += !predicting();
    }
    for (unsigned i = 0; i < (FREE_RETRY + 2) * FREE_WINDOW; i++) {
        unsigned char *b = fresh(16 + (i & 63) * 16, i);
        if (!b || !intact(b, 16 + (i & 63) * 16, i))
            r->bad++;
        ta_free(b);
    }
    r->again = predicting();
    /* frees of what was popped last, with a random replacement between */
    for (unsigned i = 0; i < REPLACE; i++) {
        unsigned char *b = fresh(16 + (i & 63) * 16, i);
        ta_free(b);
        if (i % 8 == 0) {
            unsigned j = (unsigned)(next(&s) % SLOTS);
            if (!intact(block[j], size[j], tag[j]))
                r->bad++;
            ta_free(block[j]);
            block[j] = fresh(size[j], tag[j]);
        }
    }
    r->stayed = predicting();
    for (unsigned j = 0; j < SLOTS; j++) {
        if (!block[j] || !intact(block[j], size[j], tag[j]))
            r->bad++;
        ta_free(block[j]);
    }
    return NULL;
}

static void test_random_frees_stop_predicting(void)
{
    struct result r = {0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, churn_thread, &r), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(r.predicting_at_start);
    /* all but the first windows and one in FREE_RETRY + 1 after */
    CHECK(r.not_predicting > REPLACE / 2);
    CHECK(r.again);
    CHECK(r.stayed);
    CHECK_EQ(r.bad, 0u);
}

/* fast-imm's loop and batches of one size: always predicted */
static void *immediate_thread(void *arg)
{
    bool *stayed = arg;
    void *v[100];
    for (unsigned i = 0; i < REPLACE; i++)
        ta_free(fresh(16 + (i & 63) * 16, i));
    for (unsigned k = 0; k < 2000; k++) {
        for (unsigned i = 0; i < 100; i++)
            v[i] = ta_malloc(256);
        for (unsigned i = 0; i < 100; i++)
            ta_free(v[i]);
    }
    *stayed = predicting();
    return NULL;
}

static void test_immediate_frees_keep_predicting(void)
{
    bool stayed = false;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, immediate_thread, &stayed), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(stayed);
}

int main(void)
{
    RUN(test_random_frees_stop_predicting);
    RUN(test_immediate_frees_keep_predicting);
    return TEST_EXIT();
}
