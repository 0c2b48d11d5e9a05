/* Unit test of tcache.c.
 * How a thread cache sizes its stacks and fills: a class starts on a small
 * stack and moves to its full one at its first overflow, keeping its
 * blocks; a thread that only allocates many classes (a producer) keeps
 * them small; one that allocates from one class fills it as much as ever;
 * explicit caches start full; a cache that samples has moved every class
 * to its full stack, as the profiler's windows keep a stack's base and
 * size while they are open; and the request counts a fill no longer
 * merges reach the stats at the next refresh. The classes above 1 KiB
 * start on a few slots, are left half full by a miss or an overflow, grow
 * while they churn, and go back to their start once idle. */
#include <pthread.h>
#include <stdint.h>

#include "harness.h"
#include "prof.h"
#include "thread.h"

#define SMALL 64 /* tcache.c's SMALL_STACK */
/* Blocks of one class a new thread takes before its fills may outgrow
 * the small stack (fills of 4, 8, 16, then 32 at least four times) */
#define NB 120

static unsigned cls_of(size_t size) { return size_class(size); }

/* Runs fn on a thread of its own, whose cache starts empty. */
static void on_new_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, fn, arg), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
}

struct grow_result {
    unsigned cap_before, cap_after, ncached, found;
};

/* Frees NB blocks of 64 bytes into the cache: the small stack overflows
 * and the class moves to its full stack with every block it held. */
static void *grow_thread(void *arg)
{
    struct grow_result *r = arg;
    void *v[NB];
    for (int i = 0; i < NB; i++)
        v[i] = ta_malloc(64);
    cache_bin_t *cb = &tai_tls_tcache->bins[cls_of(64)];
    r->cap_before = cb->cap;
    for (int i = 0; i < NB; i++)
        ta_free(v[i]);
    r->cap_after = cb->cap;
    r->ncached = cb->ncached;
    for (unsigned k = 0; k < cb->ncached; k++)
        for (int i = 0; i < NB; i++)
            if (cb->stack[k] == v[i]) {
                r->found++;
                break;
            }
    for (int i = 0; i < NB; i++)
        v[i] = ta_malloc(64);
    for (int i = 0; i < NB; i++)
        ta_free(v[i]);
    return NULL;
}

static void test_small_stack_grows_at_overflow(void)
{
    struct grow_result r = {0};
    on_new_thread(grow_thread, &r);
    CHECK_EQ(r.cap_before, SMALL);
    CHECK(r.cap_after >= NB);
    CHECK(r.ncached >= NB);
    CHECK_EQ(r.found, NB);
}

#define NCLS 16
#define ROUNDS 4000

struct producer {
    void **blocks;
    size_t n;
    unsigned max_cap, max_fill;
};

/* Allocates messages of 16 classes, 16 to 512 bytes, and frees none of
 * them: another thread does (remote frees). */
static void *producer_thread(void *arg)
{
    struct producer *p = arg;
    for (size_t i = 0; i < p->n; i++)
        p->blocks[i] = ta_malloc(16 + (i * 7919 % 497));
    tcache_t *tc = tai_tls_tcache;
    for (unsigned c = 0; c < NCLS; c++) {
        if (tc->bins[c].cap > p->max_cap)
            p->max_cap = tc->bins[c].cap;
        if (tc->nfill[c] > p->max_fill)
            p->max_fill = tc->nfill[c];
    }
    return NULL;
}

static void test_producer_keeps_small_stacks(void)
{
    struct producer p = {.n = (size_t)NCLS * ROUNDS};
    p.blocks = ta_malloc(p.n * sizeof(void *));
    CHECK(p.blocks != NULL);
    on_new_thread(producer_thread, &p);
    CHECK_EQ(p.max_cap, SMALL);
    CHECK(p.max_fill <= SMALL / 2);
    for (size_t i = 0; i < p.n; i++)
        ta_free(p.blocks[i]);
    ta_free(p.blocks);
}

struct one_class {
    void **blocks;
    size_t n;
    unsigned cap, nfill;
};

/* A producer of one class (prodcons-64): its fills grow past the small
 * stack, to 256 blocks of 64 bytes (16 KiB), as before small stacks. */
static void *one_class_thread(void *arg)
{
    struct one_class *p = arg;
    for (size_t i = 0; i < p->n; i++)
        p->blocks[i] = ta_malloc(64);
    cache_bin_t *cb = &tai_tls_tcache->bins[cls_of(64)];
    p->cap = cb->cap;
    p->nfill = tai_tls_tcache->nfill[cls_of(64)];
    return NULL;
}

static void test_one_class_producer_fills_as_before(void)
{
    struct one_class p = {.n = 20000};
    p.blocks = ta_malloc(p.n * sizeof(void *));
    CHECK(p.blocks != NULL);
    on_new_thread(one_class_thread, &p);
    CHECK(p.cap > SMALL);
    CHECK_EQ(p.nfill, 256);
    for (size_t i = 0; i < p.n; i++)
        ta_free(p.blocks[i]);
    ta_free(p.blocks);
}

static void test_explicit_cache_starts_full(void)
{
    ta_tcache_t *tc = ta_tcache_create(NULL);
    CHECK(tc != NULL);
    CHECK(tc->t.bins[cls_of(64)].cap > 4 * SMALL);
    CHECK(!tc->t.small_first);
    ta_tcache_destroy(tc);
}

static int set_bool(const char *name, bool v) { return ta_ctl(name, NULL, NULL, &v, sizeof(v)); }

struct sampled {
    unsigned cap_sampling, cap_after;
    bool sampled;
};

/* A thread that samples from its first call: its cache's classes are on
 * their full stacks, so a batch of NB blocks (more than a first stack
 * holds) neither flushes nor sends blocks anywhere while it samples; they
 * stay there once sampling stops. */
static void *sampled_thread(void *arg)
{
    struct sampled *s = arg;
    void *v[NB];
    unsigned c = cls_of(64);
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            TCHECK(set_bool("prof.active", false) == 0);
        for (int i = 0; i < NB; i++) {
            v[i] = ta_malloc(64);
            TCHECK(v[i] != NULL);
            if (!v[i])
                return NULL;
            memset(v[i], round, 64);
        }
        if (round == 0)
            s->sampled = tai_tls_tcache->prof != NULL;
        for (int i = 0; i < NB; i++)
            ta_free(v[i]);
        tcache_t *tc = tai_tls_tcache;
        unsigned cap = tc->prof ? tc->prof->cap[c] : tc->bins[c].cap;
        if (round == 0)
            s->cap_sampling = cap;
        else
            s->cap_after = cap;
    }
    return NULL;
}

static void test_full_stacks_while_sampling(void)
{
    size_t big = (size_t)1 << 30;
    CHECK_EQ(ta_ctl("prof.sample_bytes", NULL, NULL, &big, sizeof(big)), 0);
    CHECK_EQ(set_bool("prof.active", true), 0);
    struct sampled s = {0};
    on_new_thread(sampled_thread, &s);
    CHECK_EQ(set_bool("prof.active", false), 0);
    CHECK(s.sampled);
    CHECK(s.cap_sampling > SMALL);
    CHECK_EQ(s.cap_after, s.cap_sampling);
}

struct counted {
    unsigned arena;
    uint64_t before, after;
};

/* Requests served by a live thread's cache, fills included, reach the
 * bin's nrequests at the next refresh (epoch), without a flush. */
static void *counted_thread(void *arg)
{
    struct counted *c = arg;
    void *first = ta_malloc(64);
    size_t len = sizeof(c->arena);
    TCHECK(ta_ctl("thread.arena", &c->arena, &len, NULL, 0) == 0);
    c->before = test_bin_requests(c->arena, cls_of(64));
    void *v[NB];
    for (int i = 0; i < NB; i++)
        v[i] = ta_malloc(64);
    c->after = test_bin_requests(c->arena, cls_of(64));
    for (int i = 0; i < NB; i++)
        ta_free(v[i]);
    ta_free(first);
    return NULL;
}

static void test_requests_counted_at_refresh(void)
{
    struct counted c = {0};
    on_new_thread(counted_thread, &c);
    CHECK_EQ(c.after - c.before, NB);
}

/* A 10 KiB class: 4 slots to start with (32 KiB worth, at least 4),
 * 16 at most (tcache.c: start_cap, class_cap). */
#define BIG 10240
#define BIG_START 4
#define BIG_MOST 16
#define BATCH 20 /* more than BIG_MOST: churns at any size */

struct big_result {
    unsigned cap_start, overflows, full_after_overflow, cap_churned, lost;
};

/* Frees n blocks of BIG one by one; counts the frees that found the
 * stack full and left it full (an overflow that flushes one block only:
 * the next free overflows again). */
static void free_watching(struct big_result *r, void **v, int n)
{
    cache_bin_t *cb = &tai_tls_tcache->bins[cls_of(BIG)];
    for (int i = 0; i < n; i++) {
        unsigned was = cb->ncached, cap = cb->cap;
        ta_free(v[i]);
        if (was == cap) {
            r->overflows++;
            r->full_after_overflow += cb->ncached == cb->cap;
        }
    }
}

static void *big_thread(void *arg)
{
    struct big_result *r = arg;
    void *v[BATCH];
    for (int i = 0; i < BATCH; i++)
        v[i] = ta_malloc(BIG);
    /* the thread's cache exists from its first call */
    cache_bin_t *cb = &tai_tls_tcache->bins[cls_of(BIG)];
    r->cap_start = cb->cap;
    free_watching(r, v, BATCH);
    /* batches larger than the stack: a miss or an overflow every few
     * requests, until the stack has grown to its most */
    for (int round = 0; round < 400; round++) {
        for (int i = 0; i < BATCH; i++) {
            v[i] = ta_malloc(BIG);
            TCHECK(v[i] != NULL);
            if (!v[i])
                return NULL;
            test_fill(v[i], BIG, (uintptr_t)round * BATCH + (uintptr_t)i);
        }
        for (int i = 0; i < BATCH; i++) {
            r->lost += test_verify(v[i], BIG, (uintptr_t)round * BATCH + (uintptr_t)i) != BIG;
            ta_free(v[i]);
        }
    }
    r->cap_churned = cb->cap;
    return NULL;
}

static void test_big_class_grows_while_it_churns(void)
{
    struct big_result r = {0};
    on_new_thread(big_thread, &r);
    CHECK_EQ(r.cap_start, BIG_START);
    CHECK(r.overflows > 0);
    CHECK_EQ(r.full_after_overflow, 0);
    CHECK_EQ(r.cap_churned, BIG_MOST);
    CHECK_EQ(r.lost, 0);
}

struct idle_result {
    unsigned cap_churned, cap_idle, ncached_idle;
};

/* Grows the BIG class, then leaves it alone while a large class (2
 * slots) misses at every round, which steps the GC through every class
 * (one class per 128 slow-path events): the idle class gives back most
 * of its blocks and its stack goes back to its start. */
static void *idle_thread(void *arg)
{
    struct idle_result *r = arg;
    ta_free(ta_malloc(BIG));
    cache_bin_t *cb = &tai_tls_tcache->bins[cls_of(BIG)];
    void *v[BATCH];
    for (int round = 0; round < 400; round++) {
        for (int i = 0; i < BATCH; i++)
            v[i] = ta_malloc(BIG);
        for (int i = 0; i < BATCH; i++)
            ta_free(v[i]);
    }
    r->cap_churned = cb->cap;
    for (int round = 0; round < 3 * 128 * NCACHED_CLASSES; round++) {
        for (int i = 0; i < 3; i++)
            v[i] = ta_malloc(20480);
        for (int i = 0; i < 3; i++)
            ta_free(v[i]);
    }
    r->cap_idle = cb->cap;
    r->ncached_idle = cb->ncached;
    return NULL;
}

static void test_idle_big_class_goes_back_to_start(void)
{
    struct idle_result r = {0};
    on_new_thread(idle_thread, &r);
    CHECK_EQ(r.cap_churned, BIG_MOST);
    CHECK_EQ(r.cap_idle, BIG_START);
    CHECK(r.ncached_idle <= BIG_START);
}

int main(void)
{
    RUN(test_small_stack_grows_at_overflow);
    RUN(test_producer_keeps_small_stacks);
    RUN(test_one_class_producer_fills_as_before);
    RUN(test_explicit_cache_starts_full);
    RUN(test_requests_counted_at_refresh);
    RUN(test_big_class_grows_while_it_churns);
    RUN(test_idle_big_class_goes_back_to_start);
    RUN(test_full_stacks_while_sampling);
    CHECK_EQ(test_thread_failures(), 0);
    return TEST_EXIT();
}
