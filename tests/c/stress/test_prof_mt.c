/* Heap profiling under threads: caches start and stop sampling while
 * their threads allocate, frees cross threads, and the profile is read
 * and dumped meanwhile: every sampled block leaves the live profile once
 * all are freed, and the sanitizers see no race or bad access. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tunalloc.h"

/* test_scale(), read in main before any thread starts. */
static unsigned scale = 1;

#define THREADS 4
#define ROUNDS 40
#define PER_ROUND 2000

static void *shared[THREADS][PER_ROUND];
static pthread_barrier_t barrier;
static atomic_bool stop;

static int hook(void *ctx, ta_tcache_t *cache, ta_prof_frame *frames, int max)
{
    (void)ctx;
    TCHECK(cache == NULL);
    if (max < 1)
        return 0;
    /* allocations inside the hook are allowed and are not sampled */
    char *tmp = ta_malloc(64);
    TCHECK(tmp != NULL);
    ta_free(tmp);
    frames[0] = (ta_prof_frame){"worker", "mt.c", 1};
    return 1;
}

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    unsigned seed = id + 1;
    for (unsigned r = 0; r < ROUNDS * scale; r++) {
        for (int i = 0; i < PER_ROUND; i++) {
            size_t size = 16 + (size_t)(rand_r(&seed) % 4000);
            if (rand_r(&seed) % 64 == 0)
                size = 40000 + (size_t)(rand_r(&seed) % 100000);
            shared[id][i] = ta_malloc(size);
            TCHECK(shared[id][i] != NULL);
        }
        pthread_barrier_wait(&barrier);
        /* free the neighbour's blocks: remote frees of sampled blocks */
        unsigned other = (id + 1) % THREADS;
        for (int i = 0; i < PER_ROUND; i++)
            ta_free(shared[other][i]);
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

static int live(void *arg, const ta_prof_stack *s)
{
    *(uint64_t *)arg += s->live_blocks;
    return 0;
}

static void *toggler(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/test_prof_mt_%d.folded", (int)getpid());
    bool on = true;
    while (!atomic_load(&stop)) {
        on = !on;
        ta_ctl("prof.active", NULL, NULL, &on, sizeof(on));
        uint64_t n = 0;
        TCHECK(ta_prof_read(live, &n) == 0);
        TCHECK(ta_prof_dump(path, on ? "folded" : "pprof") == 0);
        usleep(1000);
    }
    unlink(path);
    return NULL;
}

/* A second reader dumping pprof at the same time as the toggler. */
static void *dumper(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/test_prof_mt_%d.pb.gz", (int)getpid());
    while (!atomic_load(&stop)) {
        TCHECK(ta_prof_dump(path, "pprof") == 0);
        usleep(500);
    }
    unlink(path);
    return NULL;
}

int main(void)
{
    scale = test_scale();
    size_t rate = 8192;
    CHECK_EQ(ta_ctl("prof.sample_bytes", NULL, NULL, &rate, sizeof(rate)), 0);
    ta_prof_set_frames_hook(hook, NULL);
    bool on = true;
    CHECK_EQ(ta_ctl("prof.active", NULL, NULL, &on, sizeof(on)), 0);
    pthread_barrier_init(&barrier, NULL, THREADS);
    pthread_t t[THREADS], tog, dump;
    pthread_create(&tog, NULL, toggler, NULL);
    pthread_create(&dump, NULL, dumper, NULL);
    for (unsigned i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&stop, true);
    pthread_join(tog, NULL);
    pthread_join(dump, NULL);
    uint64_t n = 0;
    CHECK_EQ(ta_prof_read(live, &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(test_thread_failures(), 0);
    pthread_barrier_destroy(&barrier);
    return TEST_EXIT();
}
