/* A sampling cache's free side (the blocks its free fast paths push while
 * pops cannot see them): every block it holds comes back when profiling
 * stops, the cache is flushed or destroyed, or its thread exits, none
 * twice, the cache's counts include them, the free paths' pointers follow
 * the cache on and off, other arenas' blocks go back to them, and a malloc/free loop is sampled at the rate any
 * other allocations are; the counting hook callbacks (ta_hook_count_*)
 * take freed blocks back at once and count every one. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "tunalloc.h"

enum { N = 600, SIZE = 64 };

static int set_bool(const char *name, bool v) { return ta_ctl(name, NULL, NULL, &v, sizeof(v)); }

static int set_size(const char *name, size_t v) { return ta_ctl(name, NULL, NULL, &v, sizeof(v)); }

/* Sampling on with a rate no test here reaches: no block is sampled, so
 * every block stays the arena's own. */
static void start_unsampled(void)
{
    CHECK_EQ(set_size("prof.sample_bytes", (size_t)1 << 40), 0);
    CHECK_EQ(set_bool("prof.active", true), 0);
}

static size_t live_blocks(ta_arena_t *a)
{
    size_t blocks = 1, bytes = 1;
    CHECK_EQ(ta_arena_live(a, &blocks, &bytes), 0);
    return blocks;
}

static size_t live_bytes(ta_arena_t *a)
{
    size_t blocks = 1, bytes = 1;
    CHECK_EQ(ta_arena_live(a, &blocks, &bytes), 0);
    return bytes;
}

static uint64_t thread_net(void)
{
    uint64_t al = 0, de = 0;
    size_t len = sizeof(al);
    CHECK_EQ(ta_ctl("thread.allocated", &al, &len, NULL, 0), 0);
    CHECK_EQ(ta_ctl("thread.deallocated", &de, &len, NULL, 0), 0);
    return al - de;
}

static void bind_thread(ta_arena_t *a)
{
    unsigned i = ta_arena_index(a);
    CHECK_EQ(ta_ctl("thread.arena", NULL, NULL, &i, sizeof(i)), 0);
}

/* Allocates and frees n blocks through the thread's cache, twice, so the
 * second round's frees find the free side open. */
static void churn_thread_cache(size_t n)
{
    static void *v[N];
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < n; i++) {
            v[i] = ta_malloc(SIZE);
            CHECK(v[i] != NULL);
        }
        for (size_t i = 0; i < n; i++)
            ta_free(v[i]);
    }
}

/* The thread's cache stops sampling while its free side holds blocks:
 * they are on its stacks when it shows them again, counted once in
 * thread.deallocated, and the flush returns every one. The frees after
 * the stop go through a pointer still naming the free side. */
static void test_stop_with_blocks_on_side(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    unsigned old = 0;
    size_t len = sizeof(old);
    CHECK_EQ(ta_ctl("thread.arena", &old, &len, NULL, 0), 0);
    bind_thread(a);
    start_unsampled();
    uint64_t net = thread_net();
    churn_thread_cache(N);
    CHECK_EQ(thread_net(), net);
    CHECK(live_blocks(a) > 0);
    CHECK_EQ(set_bool("prof.active", false), 0);
    churn_thread_cache(N);
    CHECK_EQ(thread_net(), net);
    CHECK_EQ(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    CHECK_EQ(live_blocks(a), 0);
    /* and on again, the free side taking blocks from its old place */
    start_unsampled();
    churn_thread_cache(N);
    CHECK_EQ(thread_net(), net);
    CHECK_EQ(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    CHECK_EQ(live_blocks(a), 0);
    CHECK_EQ(set_bool("prof.active", false), 0);
    CHECK_EQ(ta_ctl("thread.arena", NULL, NULL, &old, sizeof(old)), 0);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

static void *exiting_thread(void *arg)
{
    unsigned i = ta_arena_index(arg);
    TCHECK(ta_ctl("thread.arena", NULL, NULL, &i, sizeof(i)) == 0);
    void *v[N];
    for (int round = 0; round < 2; round++) {
        for (size_t k = 0; k < N; k++)
            TCHECK((v[k] = ta_malloc(SIZE)) != NULL);
        for (size_t k = 0; k < N; k++)
            ta_free(v[k]);
    }
    return NULL;
}

/* A thread that exits while its free side holds blocks gives them all
 * back: the arena has none live and can go. */
static void test_thread_exit(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    start_unsampled();
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, exiting_thread, a), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(live_blocks(a), 0);
    CHECK_EQ(ta_arena_destroy(a), 0);
    CHECK_EQ(set_bool("prof.active", false), 0);
}

typedef struct remote {
    ta_arena_t *own;
    void **blocks;
} remote_t;

static void *remote_thread(void *arg)
{
    remote_t *r = arg;
    unsigned i = ta_arena_index(r->own);
    TCHECK(ta_ctl("thread.arena", NULL, NULL, &i, sizeof(i)) == 0);
    void *v[N];
    for (size_t k = 0; k < N; k++) /* its own blocks: the free side in use */
        TCHECK((v[k] = ta_malloc(SIZE)) != NULL);
    for (size_t k = 0; k < N; k++)
        ta_free(v[k]);
    for (size_t k = 0; k < N; k++)
        ta_free(r->blocks[k]);
    TCHECK(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    return NULL;
}

/* A sampling thread frees another arena's blocks: its free side keeps no
 * remote batches, so its cache's take them, and its flush gives every one
 * back to their arena. */
static void test_remote_frees(void)
{
    ta_arena_t *a = ta_arena_create(NULL), *b = ta_arena_create(NULL);
    unsigned old = 0;
    size_t len = sizeof(old);
    CHECK_EQ(ta_ctl("thread.arena", &old, &len, NULL, 0), 0);
    bind_thread(a);
    static void *v[N];
    for (int i = 0; i < N; i++)
        CHECK((v[i] = ta_malloc(SIZE)) != NULL);
    start_unsampled();
    remote_t r = {b, v};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, remote_thread, &r), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(set_bool("prof.active", false), 0);
    CHECK_EQ(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    CHECK_EQ(live_blocks(a), 0);
    CHECK_EQ(live_blocks(b), 0);
    CHECK_EQ(ta_ctl("thread.arena", NULL, NULL, &old, sizeof(old)), 0);
    CHECK_EQ(ta_arena_destroy(a), 0);
    CHECK_EQ(ta_arena_destroy(b), 0);
}

typedef struct hook {
    ta_hook_t hook;
    unsigned fallbacks;
} hook_t;

static void *no_malloc(void *h, size_t size)
{
    (void)size;
    ((hook_t *)h)->fallbacks++;
    return NULL;
}

static void *no_calloc(void *h, size_t n, size_t size)
{
    (void)n;
    (void)size;
    ((hook_t *)h)->fallbacks++;
    return NULL;
}

static void no_free(void *h, void *p)
{
    (void)p;
    ((hook_t *)h)->fallbacks++;
}

/* An explicit cache behind a hook (the Python binding's GIL-guarded
 * path): its free_cache moves to the free side while the cache samples
 * and back after, the cache's cached bytes count the free side's blocks
 * exactly, and a flush, the cache's end and the arena's find them all. */
static void test_hook_cache(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    ta_tcache_t *tc = ta_tcache_create(a);
    hook_t h = {{tc, tc, no_malloc, no_calloc, no_free}, 0};
    start_unsampled();
    static void *v[N];
    size_t held;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++)
            CHECK((v[i] = ta_hook_malloc(&h, SIZE)) != NULL);
        for (int i = 0; i < N; i++)
            ta_hook_free(&h, v[i]);
        held = ta_tcache_cached_bytes(tc);
        CHECK(held >= N * SIZE);
        CHECK(h.hook.free_cache != tc);
        CHECK_EQ(live_blocks(a), held / SIZE);
    }
    ta_tcache_flush(tc);
    CHECK_EQ(ta_tcache_cached_bytes(tc), 0);
    CHECK_EQ(live_blocks(a), 0);
    /* blocks on the free side, then the cache stops sampling */
    for (int i = 0; i < N; i++)
        CHECK((v[i] = ta_hook_malloc(&h, SIZE)) != NULL);
    for (int i = 0; i < N; i++)
        ta_hook_free(&h, v[i]);
    held = ta_tcache_cached_bytes(tc);
    CHECK(held >= N * SIZE);
    CHECK_EQ(live_blocks(a), held / SIZE);
    CHECK_EQ(set_bool("prof.active", false), 0);
    /* the cache sees the stop at the miss that ends its window */
    for (int round = 0; round < 8 && h.hook.free_cache != tc; round++) {
        for (int i = 0; i < N; i++)
            CHECK((v[i] = ta_hook_malloc(&h, SIZE)) != NULL);
        CHECK_EQ(live_blocks(a), ta_tcache_cached_bytes(tc) / SIZE + N);
        for (int i = 0; i < N; i++)
            ta_hook_free(&h, v[i]);
        CHECK_EQ(live_blocks(a), ta_tcache_cached_bytes(tc) / SIZE);
    }
    CHECK(h.hook.free_cache == tc);
    /* on again (seen at the cache's next miss), and the cache destroyed
     * with blocks on its free side */
    start_unsampled();
    ta_tcache_flush(tc);
    for (int i = 0; i < N; i++)
        CHECK((v[i] = ta_hook_malloc(&h, SIZE)) != NULL);
    for (int i = 0; i < N; i++)
        ta_hook_free(&h, v[i]);
    CHECK(h.hook.free_cache != tc);
    CHECK_EQ(h.fallbacks, 0);
    ta_tcache_destroy(tc);
    CHECK_EQ(live_blocks(a), 0);
    CHECK_EQ(ta_arena_destroy(a), 0);
    CHECK_EQ(set_bool("prof.active", false), 0);
}

/* The same through a runtime's sized calls (the Lua binding's path): its
 * free_cache follows the cache, class-moving resizes free onto the free
 * side too, and every block is back when the cache goes. */
static void test_sized_cache(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    ta_tcache_t *tc = ta_tcache_create(a);
    ta_sized_t sz = {tc, NULL, tc};
    start_unsampled();
    static void *v[N];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++)
            CHECK((v[i] = ta_sized_alloc(&sz, 40)) != NULL);
        for (int i = 0; i < N; i++)
            CHECK((v[i] = ta_sized_resize(&sz, v[i], 40, SIZE + 8)) != NULL);
        for (int i = 0; i < N; i++)
            ta_sized_free(&sz, v[i], SIZE + 8);
        CHECK(sz.free_cache != tc);
        CHECK_EQ(live_bytes(a), ta_tcache_cached_bytes(tc));
    }
    size_t held = ta_tcache_cached_bytes(tc);
    ta_tcache_flush(tc);
    CHECK(held >= N * (40 + SIZE + 8));
    CHECK_EQ(live_bytes(a), 0);
    CHECK_EQ(ta_tcache_cached_bytes(tc), 0);
    CHECK_EQ(live_blocks(a), 0);
    CHECK_EQ(set_bool("prof.active", false), 0);
    for (int round = 0; round < 8 && sz.free_cache != tc; round++) {
        for (int i = 0; i < N; i++)
            CHECK((v[i] = ta_sized_alloc(&sz, 40)) != NULL);
        for (int i = 0; i < N; i++)
            ta_sized_free(&sz, v[i], 40);
        CHECK_EQ(live_bytes(a), ta_tcache_cached_bytes(tc));
    }
    CHECK(sz.free_cache == tc);
    start_unsampled();
    ta_tcache_flush(tc);
    for (int i = 0; i < N; i++)
        CHECK((v[i] = ta_sized_alloc(&sz, 40)) != NULL);
    for (int i = 0; i < N; i++)
        ta_sized_free(&sz, v[i], 40);
    CHECK(sz.free_cache != tc);
    ta_tcache_destroy(tc);
    CHECK_EQ(live_blocks(a), 0);
    CHECK_EQ(ta_arena_destroy(a), 0);
    CHECK_EQ(set_bool("prof.active", false), 0);
}

static unsigned hook_calls;

static int counting_hook(void *ctx, ta_tcache_t *cache, ta_prof_frame *frames, int max)
{
    (void)ctx;
    (void)cache;
    (void)frames;
    (void)max;
    hook_calls++;
    return 0;
}

/* Samples of a malloc/free loop, whose blocks are freed onto the free
 * side and taken again: each allocation is sampled with chance
 * 1 - exp(-64 / rate), so n pairs give about n times that (a fixed seed;
 * the spread is 1 / sqrt(samples), 5 % here). Frees that pops could see
 * without paying the countdown would give far fewer. */
enum { RATE = 16384 };

/* Samples expected of n allocations of usize bytes: n (1 - exp(-x)). */
static double expect_samples(unsigned n, size_t usize)
{
    double x = usize / (double)RATE;
    return n * (x - x * x / 2 + x * x * x / 6);
}

static void check_loop_rate_of(void (*loop)(void *), void *arg, double want)
{
    const size_t rate = RATE;
    CHECK_EQ(set_size("prof.sample_bytes", rate), 0);
    uint64_t seed = 12345;
    CHECK_EQ(ta_ctl("prof.seed", NULL, NULL, &seed, sizeof(seed)), 0);
    ta_prof_set_frames_hook(counting_hook, NULL);
    CHECK_EQ(set_bool("prof.active", true), 0);
    hook_calls = 0;
    loop(arg);
    unsigned got = hook_calls;
    CHECK_EQ(set_bool("prof.active", false), 0);
    ta_prof_set_frames_hook(NULL, NULL);
    if (!(got > want * 0.8 && got < want * 1.2))
        fprintf(stderr, "loop rate: %u samples, %.0f expected\n", got, want);
    CHECK(got > want * 0.8 && got < want * 1.2);
}

static void check_loop_rate(void (*loop)(void *), void *arg, unsigned n)
{
    check_loop_rate_of(loop, arg, expect_samples(n, SIZE));
}

enum { LOOP = 100000 };

/* An explicit cache's own calls. */
static void tcache_loop(void *arg)
{
    for (int i = 0; i < LOOP; i++)
        ta_tcache_free(arg, ta_tcache_malloc(arg, SIZE));
}

/* Resizes that move class each time (48 and 112 bytes, a new block and
 * the old one freed): the new blocks count as any others. */
static void resize_loop(void *arg)
{
    void *p = ta_sized_alloc(arg, 40);
    for (int i = 0; i < LOOP; i++)
        p = i % 2 ? ta_sized_resize(arg, p, 100, 40) : ta_sized_resize(arg, p, 40, 100);
    ta_sized_free(arg, p, 40);
}

static void thread_loop(void *arg)
{
    (void)arg;
    for (int i = 0; i < LOOP; i++)
        ta_free(ta_malloc(SIZE));
}

static void hook_loop(void *arg)
{
    for (int i = 0; i < LOOP; i++)
        ta_hook_free(arg, ta_hook_malloc(arg, SIZE));
}

static void sized_loop(void *arg)
{
    for (int i = 0; i < LOOP; i++)
        ta_sized_free(arg, ta_sized_alloc(arg, SIZE), SIZE);
}

/* The counting callbacks, whose pops take the blocks just freed: every
 * one counted, so the loop is sampled at the same rate. */
static void count_loop(void *arg)
{
    for (int i = 0; i < LOOP; i++)
        ta_hook_free(arg, ta_hook_count_malloc(arg, SIZE));
}

static void count_calloc_loop(void *arg)
{
    for (int i = 0; i < LOOP; i++)
        ta_hook_free(arg, ta_hook_count_calloc(arg, 1, SIZE));
}

static void thread_count_loop(void *arg)
{
    for (int i = 0; i < LOOP; i++)
        ta_hook_thread_free(arg, ta_hook_thread_count_malloc(arg, SIZE));
}

/* Plain callbacks on a cache the counting ones took over: they miss into
 * the slow paths, which count too. */
static void mixed_loop(void *arg)
{
    for (int i = 0; i < LOOP; i++)
        ta_hook_free(arg, i % 2 ? ta_hook_malloc(arg, SIZE) : ta_hook_count_malloc(arg, SIZE));
}

static void test_loop_rate(void)
{
    check_loop_rate(thread_loop, NULL, LOOP);
    ta_tcache_t *tc = ta_tcache_create(NULL);
    hook_t h = {{tc, tc, no_malloc, no_calloc, no_free}, 0};
    check_loop_rate(hook_loop, &h, LOOP);
    ta_sized_t sz = {tc, NULL, tc};
    check_loop_rate(sized_loop, &sz, LOOP);
    check_loop_rate(count_loop, &h, LOOP);
    check_loop_rate(count_calloc_loop, &h, LOOP);
    check_loop_rate(mixed_loop, &h, LOOP);
    check_loop_rate(tcache_loop, tc, LOOP);
    check_loop_rate_of(resize_loop, &sz,
                       expect_samples(LOOP / 2, 48) + expect_samples(LOOP / 2, 112));
    CHECK_EQ(h.fallbacks, 0);
    ta_tcache_destroy(tc);
    hook_t th = {{TA_HOOK_THREAD, TA_HOOK_THREAD, no_malloc, no_calloc, no_free}, 0};
    check_loop_rate(thread_count_loop, &th, LOOP);
    CHECK_EQ(th.fallbacks, 0);
}

/* Through the counting callbacks a sampling cache takes back the block
 * just freed, as one that does not sample does; its blocks stay counted
 * in its cached bytes and all come back when sampling stops, the cache
 * is flushed or it goes. */
static void test_count_reuse(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    ta_tcache_t *tc = ta_tcache_create(a);
    hook_t h = {{tc, tc, no_malloc, no_calloc, no_free}, 0};
    start_unsampled();
    static void *v[N];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++)
            CHECK((v[i] = ta_hook_count_malloc(&h, SIZE)) != NULL);
        for (int i = 0; i < N; i++)
            ta_hook_free(&h, v[i]);
        CHECK_EQ(live_blocks(a), ta_tcache_cached_bytes(tc) / SIZE);
    }
    unsigned same = 0;
    for (int i = 0; i < N; i++) {
        void *p = ta_hook_count_malloc(&h, SIZE);
        ta_hook_free(&h, p);
        same += ta_hook_count_malloc(&h, SIZE) == p;
        ta_hook_free(&h, p);
    }
    CHECK_EQ(same, N);
    /* blocks held, then the stop: the plain callbacks see them again */
    for (int i = 0; i < N; i++)
        CHECK((v[i] = ta_hook_count_malloc(&h, SIZE)) != NULL);
    for (int i = 0; i < N / 2; i++)
        ta_hook_free(&h, v[i]);
    CHECK_EQ(set_bool("prof.active", false), 0);
    for (int i = N / 2; i < N; i++)
        ta_hook_free(&h, v[i]);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++)
            CHECK((v[i] = ta_hook_malloc(&h, SIZE)) != NULL);
        CHECK_EQ(live_blocks(a), ta_tcache_cached_bytes(tc) / SIZE + N);
        for (int i = 0; i < N; i++)
            ta_hook_free(&h, v[i]);
        CHECK_EQ(live_blocks(a), ta_tcache_cached_bytes(tc) / SIZE);
    }
    ta_tcache_flush(tc);
    CHECK_EQ(live_blocks(a), 0);
    /* on again, and the cache destroyed with its real stack on the side */
    start_unsampled();
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++)
            CHECK((v[i] = ta_hook_count_malloc(&h, SIZE)) != NULL);
        for (int i = 0; i < N; i++)
            ta_hook_free(&h, v[i]);
    }
    CHECK_EQ(h.fallbacks, 0);
    ta_tcache_destroy(tc);
    CHECK_EQ(live_blocks(a), 0);
    CHECK_EQ(ta_arena_destroy(a), 0);
    CHECK_EQ(set_bool("prof.active", false), 0);
}

int main(void)
{
    RUN(test_stop_with_blocks_on_side);
    RUN(test_thread_exit);
    RUN(test_remote_frees);
    RUN(test_hook_cache);
    RUN(test_sized_cache);
    RUN(test_loop_rate);
    RUN(test_count_reuse);
    return TEST_EXIT();
}
