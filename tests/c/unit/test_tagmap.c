/* Unit test of tcache.c.
 * A cache's tag map (tcache_t.tagmap): every automatic arena's tag maps
 * to an entry that names its class, as the class where the cache takes
 * the block (its own colour's shared-line classes; whole-line classes in
 * an explicit cache, and in a thread's cache once it allocates them) and
 * as TAGMAP_FOREIGN + class where it does not (the remote free reads
 * the class from it); manual, large and no-block tags map to TAGMAP_NONE,
 * as every tag does in the empty cache. */
#include <pthread.h>
#include <stdlib.h>

#include "arena.h"
#include "harness.h"
#include "rerun.h"
#include "sizeclass.h"
#include "tag.h"
#include "tcache.h"
#include "thread.h"

/* mine[c]: whether whole-line class c must be in the map (it is for
 * every class of an explicit cache, only for allocated ones of a
 * thread's). */
static void check_map(const tcache_t *tc, const bool *mine)
{
    unsigned colour = tag_arena_colour(tc->arena->index);
    for (unsigned t = 0; t < 256; t++) {
        unsigned m = tc->tagmap[t];
        unsigned cls = tag_auto_class(t);
        if (tag_is_manual(t) || cls >= NCACHED_CLASSES) {
            CHECK_EQ(m, TAGMAP_NONE);
            continue;
        }
        CHECK_EQ(m % TAGMAP_FOREIGN, cls);
        bool take = tag_class_shared(cls) ? tag_colour(t) == colour : mine[cls];
        CHECK_EQ(m, take ? cls : TAGMAP_FOREIGN + cls);
    }
}

/* The largest cached class, whole lines, which nothing here allocates. */
static unsigned unused_class(void)
{
    unsigned c = NCACHED_CLASSES - 1;
    CHECK(!tag_class_shared(c));
    return c;
}

static void *thread_map(void *arg)
{
    unsigned arena = *(unsigned *)arg;
    CHECK_EQ(ta_ctl("thread.arena", NULL, NULL, &arena, sizeof(arena)), 0);
    void *p = ta_malloc(64), *q = ta_malloc(320);
    const tcache_t *tc = tai_tls_tcache;
    CHECK_EQ(tc->arena->index, arena);
    bool mine[NCACHED_CLASSES] = {false};
    for (unsigned c = 0; c < NCACHED_CLASSES; c++)
        mine[c] = tc->tagmap[c] == c;
    CHECK(mine[size_class(64)]);
    CHECK(mine[size_class(320)]);
    CHECK(!mine[unused_class()]);
    check_map(tc, mine);
    ta_free(p);
    ta_free(q);
    return NULL;
}

/* A thread's cache on arenas of colour 0, 1, 2 and, with narenas:24,
 * one past the last colour (colour 0 again): its own colour's shared-line
 * blocks in the map, others' named as foreign, whole-line classes as it
 * allocates. */
static void test_thread_cache(void)
{
    unsigned n = 0;
    size_t len = sizeof(n);
    CHECK_EQ(ta_ctl("arenas.narenas", &n, &len, NULL, 0), 0);
    unsigned arenas[] = {0, 1, 2, NCOLOURS};
    for (unsigned i = 0; i < sizeof(arenas) / sizeof(arenas[0]) && arenas[i] < n; i++) {
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, thread_map, &arenas[i]), 0);
        CHECK_EQ(pthread_join(t, NULL), 0);
    }
}

/* An explicit cache takes every whole-line class from the start. */
static void test_explicit_cache(void)
{
    ta_tcache_t *etc = ta_tcache_create(ta_arena_get(1));
    CHECK(etc != NULL);
    const tcache_t *tc = &etc->t;
    bool mine[NCACHED_CLASSES];
    for (unsigned c = 0; c < NCACHED_CLASSES; c++)
        mine[c] = tc->bins[c].cap != 0;
    CHECK(mine[unused_class()]);
    check_map(tc, mine);
    ta_tcache_destroy(etc);
}

static void *first_call_free(void *p)
{
    CHECK(tai_tls_tcache == &tai_tcache_empty);
    ta_free(p);
    return NULL;
}

/* The empty cache refuses every tag: a thread whose first call frees a
 * block (here another thread's) must not take it for one of the empty
 * cache's own, which has no slot to put it in. */
static void test_empty_cache(void)
{
    for (unsigned t = 0; t < 256; t++)
        CHECK_EQ(tai_tcache_empty.tagmap[t], TAGMAP_NONE);
    size_t sizes[] = {16, 64, 320, TCACHE_MAX};
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        void *p = ta_malloc(sizes[i]);
        CHECK(p != NULL);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, first_call_free, p), 0);
        CHECK_EQ(pthread_join(t, NULL), 0);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    if (getenv(TEST_RERUN_ENV) == NULL)
        test_rerun_with_conf(argv, "narenas:24");
    ta_free(ta_malloc(1));
    RUN(test_thread_cache);
    RUN(test_explicit_cache);
    RUN(test_empty_cache);
    return TEST_EXIT();
}
