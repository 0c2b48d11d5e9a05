/* Unit test of prof_walk.c.
 * The sampled stacks' walker gives what glibc's backtrace() gives, frame
 * for frame: through ordinary frames, frames addressed by rbp (a VLA),
 * libc's own frames (qsort calling back), deep recursion cut at the
 * maximum, on the main thread and on others, and again from its cache. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "prof_walk.h"

#define DEPTH 64

/* glibc's own backtrace(), not a sanitizer's wrapper of it (which would
 * add its own frame). */
static int (*libc_backtrace)(void **, int);

typedef struct {
    void *walk[DEPTH], *bt[DEPTH + 1];
    int nwalk, nbt, max;
} both_t;

/* Both walks from the same frame; their first entries are their own call
 * sites here, so the comparison starts at the second. */
static NOINLINE void take(both_t *b)
{
    b->nwalk = tai_prof_walk(b->walk, b->max);
    b->nbt = libc_backtrace(b->bt, b->max);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame stays */
}

static bool same(const both_t *b)
{
    if (b->nwalk != b->nbt || b->nwalk < 2)
        return false;
    return !memcmp(b->walk + 1, b->bt + 1, (size_t)(b->nwalk - 1) * sizeof(void *));
}

static NOINLINE void recurse(both_t *b, int n)
{
    if (n)
        recurse(b, n - 1);
    else
        take(b);
    __asm__ volatile("" ::: "memory");
}

/* A frame of variable size: its caller is found through rbp. */
static NOINLINE void vla(both_t *b, int n)
{
    volatile char buf[n];
    buf[0] = 1;
    recurse(b, buf[0]);
    __asm__ volatile("" ::: "memory");
}

static both_t *sort_target;

static int cmp(const void *x, const void *y)
{
    if (sort_target) {
        take(sort_target);
        sort_target = NULL;
    }
    return *(const int *)x - *(const int *)y;
}

static void check_shapes(void)
{
    both_t b;
    uint64_t fallbacks = tai_prof_walk_fallbacks;
    for (int round = 0; round < 2; round++) { /* the second from the cache */
        b.max = DEPTH;
        recurse(&b, 3);
        CHECK(same(&b));
        vla(&b, 100 + round * 5000);
        CHECK(same(&b));
        int v[16];
        for (int i = 0; i < 16; i++)
            v[i] = 16 - i;
        sort_target = &b;
        qsort(v, 16, sizeof(int), cmp);
        CHECK(same(&b));
        b.max = 5; /* cut short */
        recurse(&b, 10);
        CHECK_EQ(b.nwalk, 5);
        CHECK(same(&b));
        b.max = DEPTH; /* deeper than the maximum */
        recurse(&b, 100);
        CHECK_EQ(b.nwalk, DEPTH);
        CHECK(same(&b));
    }
    /* all walked here, none by backtrace() */
    CHECK_EQ(tai_prof_walk_fallbacks, fallbacks);
}

static void check_edges(void)
{
    void *pcs[4];
    CHECK_EQ(tai_prof_walk(pcs, 0), 0);
    CHECK_EQ(tai_prof_walk(pcs, -1), 0);
    CHECK_EQ(tai_prof_walk(pcs, 1), 1);
}

static void *thread_main(void *arg)
{
    both_t *b = arg;
    b->max = DEPTH;
    recurse(b, 7);
    return NULL;
}

static void check_thread(void)
{
    both_t b;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, thread_main, &b), 0);
    pthread_join(t, NULL);
    /* down to the thread's start, where both stop */
    CHECK(b.nwalk < DEPTH);
    CHECK(same(&b));
    CHECK_EQ(tai_prof_walk_fallbacks, 0);
}

int main(void)
{
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    libc_backtrace = libc ? (int (*)(void **, int))dlsym(libc, "backtrace") : NULL;
    CHECK(libc_backtrace != NULL);
    if (!libc_backtrace)
        return TEST_EXIT();
    RUN(check_shapes);
    RUN(check_edges);
    RUN(check_thread);
    return TEST_EXIT();
}
