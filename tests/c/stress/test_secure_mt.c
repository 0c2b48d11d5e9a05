/* Secure mode (secure:true, so any report aborts the run) under four
 * threads that swap blocks through shared slots: most frees are of
 * another thread's block, each block's first and last bytes are checked
 * by whoever frees it. Exact marks and canaries must give no false
 * report, and (under TSan) take no racy access. */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"
#include "tunalloc.h"

/* test_scale(), read in main before any thread starts. */
static unsigned scale = 1;

enum { NSLOTS = 4096, NTHREADS = 4 };

typedef struct {
    unsigned char *p;
    size_t size;
} slot_t;

static _Atomic(slot_t *) slots[NSLOTS];

static slot_t *make(uint64_t *seed)
{
    uint64_t r = test_rand(seed);
    size_t size = 2 + r % 3000;
    if (r % 97 == 0)
        size = 40000 + r % 100000;
    slot_t *s = ta_malloc(sizeof(*s));
    s->p = ta_malloc(size);
    s->size = size;
    s->p[0] = (unsigned char)size;
    s->p[size - 1] = (unsigned char)(size >> 3);
    return s;
}

static void drop(slot_t *s)
{
    TCHECK(s->p[0] == (unsigned char)s->size);
    TCHECK(s->p[s->size - 1] == (unsigned char)(s->size >> 3));
    ta_free(s->p);
    ta_free(s);
}

static void *worker(void *arg)
{
    uint64_t seed = 0x9E3779B97F4A7C15u * (1 + (uintptr_t)arg);
    const long n = (TEST_SANITIZED ? 30000L : 200000L) * scale;
    for (long i = 0; i < n; i++) {
        slot_t *old = atomic_exchange(&slots[test_rand(&seed) % NSLOTS], make(&seed));
        if (old)
            drop(old);
    }
    return NULL;
}

static void test_cross_thread_churn(void)
{
    pthread_t t[NTHREADS];
    for (uintptr_t i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < NSLOTS; i++)
        if (slots[i])
            drop(slots[i]);
    CHECK_EQ(test_thread_failures(), 0);
    bool secure = false;
    size_t len = sizeof(secure);
    CHECK_EQ(ta_ctl("opt.secure", &secure, &len, NULL, 0), 0);
    CHECK(secure);
}

int main(void)
{
    scale = test_scale();
    setenv("TUNALLOC_CONF", "secure:true", 1);
    RUN(test_cross_thread_churn);
    return TEST_EXIT();
}
