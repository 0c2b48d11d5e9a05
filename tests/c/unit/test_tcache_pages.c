/* Unit test of tcache.c.
 * The pages of a thread cache its thread writes (mincore): the header
 * fits one page, which creation writes alone; a thread that only frees
 * other threads' small blocks (a consumer) writes the remote batches
 * beside it, one page more; one that allocates and frees a class writes
 * that class's first stack, one page more; and a cache made in the memory
 * of one whose thread has gone writes no more than a fresh one (base.c
 * gives the memory back, past its first page, when a cache goes). */
#include <pthread.h>

#include "harness.h"
#include "residency.h"
#include "sizeclass.h"
#include "tcache.h"
#include "thread.h"

#define NCLS 16 /* prodcons's classes: 16-512 bytes */
#define PER_CLASS 8 /* fewer than a remote batch holds: none is flushed */

static void *blocks[NCLS][PER_CLASS];
static unsigned consumer_arena;
static pthread_barrier_t measured;

/* The pages of the calling thread's cache that the kernel backs. */
static size_t cache_pages(void)
{
    const tcache_t *tc = tai_tls_tcache;
    return resident_pages(tc, tc->mem_size);
}

/* Frees the main thread's blocks from a cache bound to another arena: all
 * go to the remote batches. */
static void *consumer(void *arg)
{
    size_t *pages = arg;
    TCHECK(ta_ctl("thread.arena", NULL, NULL, &consumer_arena, sizeof(consumer_arena)) == 0);
    for (unsigned c = 0; c < NCLS; c++)
        for (unsigned i = 0; i < PER_CLASS; i++)
            ta_free(blocks[c][i]);
    const tcache_t *tc = tai_tls_tcache;
    for (unsigned c = 0; c < NCLS; c++)
        TCHECK(tc->remote[c].ncached == PER_CLASS);
    *pages = cache_pages();
    pthread_barrier_wait(&measured);
    return NULL;
}

/* Allocates and frees 40 blocks of 320 bytes: fills of 4, 8, 16 and 32,
 * and the frees stay within the class's first stack. */
static void *one_class(void *arg)
{
    size_t *pages = arg;
    void *p[40];
    for (int i = 0; i < 40; i++)
        p[i] = ta_malloc(320);
    for (int i = 0; i < 40; i++)
        ta_free(p[i]);
    TCHECK(tai_tls_tcache->bins[size_class(320)].ncached >= 40);
    *pages = cache_pages();
    pthread_barrier_wait(&measured);
    return NULL;
}

/* Both threads keep their caches until both have measured, so each is
 * made in memory no cache used before. */
static void test_fresh_caches(void)
{
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    consumer_arena = ar->a.index;
    for (unsigned c = 0; c < NCLS; c++)
        for (unsigned i = 0; i < PER_CLASS; i++)
            CHECK((blocks[c][i] = ta_malloc(tai_bin_info[c].size)) != NULL);
    size_t consumer_pages = 0, one_class_pages = 0;
    pthread_barrier_init(&measured, NULL, 2);
    pthread_t t1, t2;
    CHECK_EQ(pthread_create(&t1, NULL, consumer, &consumer_pages), 0);
    CHECK_EQ(pthread_create(&t2, NULL, one_class, &one_class_pages), 0);
    CHECK_EQ(pthread_join(t1, NULL), 0);
    CHECK_EQ(pthread_join(t2, NULL), 0);
    pthread_barrier_destroy(&measured);
    if (!thp_always()) {
        CHECK_EQ(consumer_pages, 2);
        CHECK_EQ(one_class_pages, 2);
    }
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* A new thread's cache takes the memory of one that has gone. */
static void test_recycled_cache(void)
{
    size_t pages = 0;
    pthread_barrier_init(&measured, NULL, 1);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, one_class, &pages), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    pthread_barrier_destroy(&measured);
    if (!thp_always())
        CHECK_EQ(pages, 2);
}

int main(void)
{
    ta_free(ta_malloc(1));
    RUN(test_fresh_caches);
    RUN(test_recycled_cache);
    return TEST_EXIT();
}
