/* Threads running into a mapping budget together, each in its own arena
 * and in the shared automatic ones, while another thread creates,
 * fills and destroys manual arenas: the reclaims that the refused
 * mappings start take every arena's locks from allocation paths, so this
 * checks under TSan that they race with nothing and invert no lock order,
 * that no block is handed out twice (contents are checked), and that
 * once everything is freed the budget's memory can all be had again by
 * one thread, from whichever arenas kept it. */
#include <pthread.h>

#include "harness.h"
#include "map_budget.h"

/* test_scale(), read in main before any thread starts. */
static unsigned scale = 1;

enum { NTHREADS = 4, ROUNDS = 40, MAX_BLOCKS = 4096 };

#define BUDGET_BYTES ((size_t)96 << 20)

static const size_t sizes[] = {48, 700, 5000, 40000, 100000, 3 << 20};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Fills until allocation fails (or MAX_BLOCKS), checks every block kept
 * its pattern, frees them all. */
static void fill_check_free(ta_arena_t *own, uint64_t *seed)
{
    static _Thread_local void *blocks[MAX_BLOCKS];
    static _Thread_local size_t lens[MAX_BLOCKS];
    size_t n = 0;
    while (n < MAX_BLOCKS) {
        size_t size = sizes[test_rand(seed) % NSIZES];
        void *p = own && n % 2 ? ta_arena_malloc(own, size) : ta_malloc(size);
        if (!p)
            break;
        lens[n] = size < 128 ? size : 128;
        test_fill(p, lens[n], (uintptr_t)p);
        blocks[n++] = p;
    }
    for (size_t i = 0; i < n; i++) {
        TCHECK(test_verify(blocks[i], lens[i], (uintptr_t)blocks[i]) == lens[i]);
        ta_free(blocks[i]);
    }
}

static void *filler(void *arg)
{
    uint64_t seed = 1234 + (uintptr_t)arg;
    ta_arena_t *own = ta_arena_create(NULL);
    TCHECK(own != NULL);
    for (unsigned r = 0; r < ROUNDS * scale; r++)
        fill_check_free(own, &seed);
    TCHECK(ta_arena_destroy(own) == 0);
    return NULL;
}

static _Atomic int fillers_done;

/* Manual arenas come and go while reclaims walk the arena table. */
static void *churner(void *arg)
{
    (void)arg;
    while (atomic_load(&fillers_done) < NTHREADS) {
        ta_arena_t *a = ta_arena_create(NULL);
        if (!a)
            continue;
        void *p = ta_arena_malloc(a, 3 << 20), *q = ta_arena_malloc(a, 100000);
        ta_free(p);
        ta_free(q);
        TCHECK(ta_arena_destroy(a) == 0);
    }
    return NULL;
}

static void *filler_then_count(void *arg)
{
    filler(arg);
    atomic_fetch_add(&fillers_done, 1);
    return NULL;
}

/* Huge blocks until the budget refuses, as bytes: what is left of it. */
static size_t huge_capacity(void)
{
    enum { N = 64 };
    void *p[N];
    size_t n = 0;
    while (n < N && (p[n] = ta_malloc(3 << 20)))
        n++;
    for (size_t i = 0; i < n; i++)
        ta_free(p[i]);
    return n * (3 << 20);
}

static void test_fillers_meet_the_budget(void)
{
    atomic_store(&budget, atomic_load(&mapped_now) + BUDGET_BYTES);
    size_t before = huge_capacity();
    CHECK(before >= BUDGET_BYTES / 2);
    /* the threads start with the budget free, not cached in this arena */
    CHECK_EQ(ta_ctl("arena.4096.purge", NULL, NULL, NULL, 0), 0);
    pthread_t th[NTHREADS + 1];
    for (uintptr_t t = 0; t < NTHREADS; t++)
        CHECK_EQ(pthread_create(&th[t], NULL, filler_then_count, (void *)t), 0);
    CHECK_EQ(pthread_create(&th[NTHREADS], NULL, churner, NULL), 0);
    for (int t = 0; t <= NTHREADS; t++)
        pthread_join(th[t], NULL);
    CHECK_EQ(test_thread_failures(), 0);
    size_t after = huge_capacity();
    CHECK(after >= before);
    atomic_store(&budget, 0);
}

int main(void)
{
    scale = test_scale();
    RUN(test_fillers_meet_the_budget);
    return TEST_EXIT();
}
