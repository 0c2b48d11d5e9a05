/* Heap profiling in checked and secure modes, where caches have no slots
 * for some or all classes: random malloc/free/realloc through the thread
 * cache, and alloc/resize/free through an explicit cache's sized calls
 * (plain and counting), keep every block's bytes while the profile
 * samples, at a rate that takes no sample and at one that takes many,
 * and every block comes back. (A sampling cache's free of a block of a
 * class without slots pushed it onto a stack of no room, over another
 * class's stack: blocks handed out twice, "double free" reports, Lua
 * states dying under tunalua --profile.) Each mode is a run of this
 * program of its own, as tunalloc reads TUNALLOC_CONF at start. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rerun.h"
#include "tunalloc.h"

#define SLOTS 2048
#define STEPS 200000

static int set_bool(const char *name, bool v)
{
    return ta_ctl(name, NULL, NULL, &v, sizeof v);
}

static int set_size(const char *name, size_t v)
{
    return ta_ctl(name, NULL, NULL, &v, sizeof v);
}

typedef struct slot {
    void *p;
    size_t size;
    uintptr_t seed;
} slot;

static slot slots[SLOTS];

/* A random walk of allocations, frees and resizes through `ops`, each
 * block checked before it is touched; false at the first corrupt one. */
typedef struct ops {
    void *(*alloc)(void *ctx, size_t size);
    void *(*resize)(void *ctx, void *p, size_t osize, size_t nsize);
    void (*release)(void *ctx, void *p, size_t size);
    void *ctx;
} ops;

static bool walk(const ops *o, uint64_t seed)
{
    for (long step = 0; step < STEPS; step++) {
        slot *s = &slots[test_rand(&seed) % SLOTS];
        size_t n = 1 + test_rand(&seed) % 600;
        if (s->p && test_verify(s->p, s->size, s->seed) != s->size)
            return false;
        if (!s->p) {
            s->p = o->alloc(o->ctx, n);
            s->size = n;
        } else if (test_rand(&seed) % 2) {
            o->release(o->ctx, s->p, s->size);
            s->p = NULL;
            continue;
        } else {
            s->p = o->resize(o->ctx, s->p, s->size, n);
            s->size = n;
        }
        if (!s->p)
            return false;
        s->seed = (uintptr_t)step;
        test_fill(s->p, s->size, s->seed);
    }
    for (int i = 0; i < SLOTS; i++)
        if (slots[i].p) {
            o->release(o->ctx, slots[i].p, slots[i].size);
            slots[i].p = NULL;
        }
    return true;
}

static void *thread_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void *thread_resize(void *ctx, void *p, size_t osize, size_t nsize)
{
    (void)ctx, (void)osize;
    return realloc(p, nsize);
}

static void thread_release(void *ctx, void *p, size_t size)
{
    (void)ctx, (void)size;
    free(p);
}

static void *sized_alloc(void *ctx, size_t size)
{
    return ta_sized_alloc(ctx, size);
}

static void *sized_resize(void *ctx, void *p, size_t osize, size_t nsize)
{
    return ta_sized_resize(ctx, p, osize, nsize);
}

static void *count_alloc(void *ctx, size_t size)
{
    return ta_sized_count_alloc(ctx, size);
}

static void *count_resize(void *ctx, void *p, size_t osize, size_t nsize)
{
    return ta_sized_count_resize(ctx, p, osize, nsize);
}

static void sized_release(void *ctx, void *p, size_t size)
{
    ta_sized_free(ctx, p, size);
}

static void test_walks_while_sampling(void)
{
    static const size_t rates[] = {(size_t)1 << 40, 4096};
    for (int r = 0; r < 2; r++) {
        CHECK_EQ(set_size("prof.sample_bytes", rates[r]), 0);
        CHECK_EQ(set_bool("prof.active", true), 0);
        ops thread = {thread_alloc, thread_resize, thread_release, NULL};
        CHECK(walk(&thread, 1 + r));
        ta_arena_t *a = ta_arena_create(NULL);
        CHECK(a != NULL);
        ta_tcache_t *tc = ta_tcache_create(a);
        CHECK(tc != NULL);
        ta_sized_t sz = {tc, NULL, tc};
        ops plain = {sized_alloc, sized_resize, sized_release, &sz};
        ops counting = {count_alloc, count_resize, sized_release, &sz};
        CHECK(walk(&plain, 3 + r));
        CHECK(walk(&counting, 5 + r));
        CHECK_EQ(set_bool("prof.active", false), 0);
        ta_tcache_flush(tc);
        size_t blocks = 1, bytes = 1;
        CHECK_EQ(ta_arena_live(a, &blocks, &bytes), 0);
        CHECK_EQ(blocks, 0);
        ta_tcache_destroy(tc);
        CHECK_EQ(ta_arena_destroy(a), 0);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    test_rerun_in_checked_modes(argv);
    RUN(test_walks_while_sampling);
    return TEST_EXIT();
}
