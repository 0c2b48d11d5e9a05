/* Threads that exit while their caches hold freed blocks must hand those
 * blocks back: thousands of short threads leave the arenas' live region
 * counts and the metadata footprint where a few hundred left them. Blocks
 * a dead thread allocated are freed later by the main thread. */
#include <pthread.h>

#include "arena.h"
#include "base.h"
#include "harness.h"
#include "thread.h"

enum { PER_THREAD = 200, KEEP = 8, WAVE = 8 };

typedef struct job {
    void *kept[KEEP]; /* left for the main thread to free */
    size_t nbad;
} job_t;

/* Allocates and frees a spread of sizes (filling the thread cache), keeps
 * a few blocks alive, then exits without any explicit flush. */
static void *short_thread(void *arg)
{
    job_t *job = arg;
    void *p[PER_THREAD];
    for (int i = 0; i < PER_THREAD; i++) {
        size_t size = (size_t)((i * 97) % 20000) + 1;
        p[i] = ta_malloc(size);
        if (!p[i]) {
            job->nbad++;
            continue;
        }
        test_fill(p[i], size < 64 ? size : 64, (uintptr_t)i);
    }
    for (int i = 0; i < PER_THREAD; i++) {
        size_t size = (size_t)((i * 97) % 20000) + 1;
        size_t n = size < 64 ? size : 64;
        if (p[i] && test_verify(p[i], n, (uintptr_t)i) != n)
            job->nbad++;
        if (i < KEEP)
            job->kept[i] = p[i];
        else
            ta_free(p[i]);
    }
    return NULL;
}

/* Regions live in small bins plus large runs across every arena. */
static uint64_t live_blocks(void)
{
    uint64_t n = 0;
    unsigned total = atomic_load(&tai_narenas_total);
    for (unsigned i = 0; i < total && i < MAX_ARENAS; i++) {
        arena_t *a = atomic_load(&tai_arenas[i]);
        if (!a)
            continue;
        for (unsigned k = 0; k < NBINS; k++)
            n += ctr_get(&a->bins[k].stats.curregs);
        for (unsigned j = 0; j < NLEXTENTS; j++)
            n += ctr_get(&a->stats.lstats[j].curlextents);
    }
    return n;
}

/* Runs waves of threads; returns the number of bad blocks seen. */
static size_t run_threads(int nthreads)
{
    size_t bad = 0;
    for (int done = 0; done < nthreads; done += WAVE) {
        pthread_t t[WAVE];
        job_t jobs[WAVE];
        memset(jobs, 0, sizeof(jobs));
        for (int i = 0; i < WAVE; i++)
            if (pthread_create(&t[i], NULL, short_thread, &jobs[i]) != 0)
                bad++;
        for (int i = 0; i < WAVE; i++) {
            pthread_join(t[i], NULL);
            bad += jobs[i].nbad;
            for (int k = 0; k < KEEP; k++)
                ta_free(jobs[i].kept[k]);
        }
    }
    return bad;
}

/* Live blocks and metadata after thousands of threads stay where they
 * were after the first few hundred. */
static void test_exit_flushes_caches(void)
{
    int warm = TEST_SANITIZED ? 64 : 200;
    int more = (TEST_SANITIZED ? 400 : 3000) * (int)test_scale();
    CHECK_EQ(run_threads(warm), 0);
    tai_thread_tcache_flush();
    uint64_t live = live_blocks();
    uint64_t meta = tai_base_mapped();
    CHECK_EQ(run_threads(more), 0);
    tai_thread_tcache_flush();
    /* the main thread's cache is the only one left, and it is flushed */
    CHECK(live_blocks() <= live + 16);
    CHECK(tai_base_mapped() <= meta + ((uint64_t)4 << 20));
}

/* Every arena's thread count returns to where it was once the threads
 * bound to it are gone. */
static void test_arena_thread_counts(void)
{
    unsigned total = atomic_load(&tai_narenas_total);
    unsigned before = 0, after = 0;
    for (unsigned i = 0; i < total; i++) {
        arena_t *a = atomic_load(&tai_arenas[i]);
        if (a)
            before += atomic_load(&a->nthreads);
    }
    CHECK_EQ(run_threads(WAVE * 4), 0);
    total = atomic_load(&tai_narenas_total);
    for (unsigned i = 0; i < total; i++) {
        arena_t *a = atomic_load(&tai_arenas[i]);
        if (a)
            after += atomic_load(&a->nthreads);
    }
    CHECK_EQ(after, before);
}

int main(void)
{
    ta_free(ta_malloc(1));
    RUN(test_exit_flushes_caches);
    RUN(test_arena_thread_counts);
    return TEST_EXIT();
}
