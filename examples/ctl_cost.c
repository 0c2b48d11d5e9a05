/* What polling the statistics costs: the time of an epoch refresh and of
 * reading stats.allocated (by name and by MIB) while worker threads keep
 * allocating across many arenas. A measurement, not a test.
 *
 *   build/examples/ctl_cost [manual_arenas [threads [rounds]]]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tunalloc.h"

static atomic_bool stop;

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* CPU time of the polling thread: the cost itself, without the time it
 * spends preempted on a busy machine. */
static uint64_t cpu_ns(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }

/* Keeps a window of live blocks churning so counters change under us. */
static void *worker(void *arg)
{
    unsigned seed = (unsigned)(size_t)arg;
    void *window[256] = {0};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % 256;
        ta_free(window[k]);
        window[k] = ta_malloc(16 + (seed >> 16) % 4000);
    }
    for (unsigned k = 0; k < 256; k++)
        ta_free(window[k]);
    return NULL;
}

static void fill_manual_arenas(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        unsigned idx;
        size_t len = sizeof(idx);
        if (ta_ctl("arenas.create", &idx, &len, NULL, 0) != 0) {
            fprintf(stderr, "ctl_cost: arenas.create failed\n");
            exit(1);
        }
        for (unsigned k = 0; k < 64; k++)
            if (ta_arena_malloc(ta_arena_get(idx), 32 + k * 200) == NULL)
                exit(1);
    }
}

typedef struct timing {
    uint64_t total, max;
} timing_t;

static void note(timing_t *t, uint64_t start)
{
    uint64_t d = now_ns() - start;
    t->total += d;
    if (d > t->max)
        t->max = d;
}

int main(int argc, char **argv)
{
    unsigned manual = argc > 1 ? (unsigned)atoi(argv[1]) : 64;
    unsigned nthreads = argc > 2 ? (unsigned)atoi(argv[2]) : 8;
    unsigned rounds = argc > 3 ? (unsigned)atoi(argv[3]) : 2000;
    if (nthreads > 64 || rounds == 0) {
        fprintf(stderr, "usage: ctl_cost [manual_arenas [threads<=64 [rounds>0]]]\n");
        return 2;
    }
    fill_manual_arenas(manual);
    pthread_t tids[64];
    for (unsigned t = 0; t < nthreads; t++)
        pthread_create(&tids[t], NULL, worker, (void *)(size_t)(t + 1));

    size_t mib[4], miblen = 4, v, len = sizeof(v);
    ta_ctl_nametomib("stats.allocated", mib, &miblen);
    timing_t epoch = {0, 0}, byname = {0, 0}, bymib = {0, 0};
    uint64_t epoch_cpu = 0;
    for (unsigned r = 0; r < rounds; r++) {
        uint64_t e = 1, cpu = cpu_ns(), start = now_ns();
        ta_ctl("epoch", NULL, NULL, &e, sizeof(e));
        note(&epoch, start);
        epoch_cpu += cpu_ns() - cpu;
        start = now_ns();
        ta_ctl("stats.allocated", &v, &len, NULL, 0);
        note(&byname, start);
        start = now_ns();
        ta_ctl_bymib(mib, miblen, &v, &len, NULL, 0);
        note(&bymib, start);
    }
    atomic_store(&stop, true);
    for (unsigned t = 0; t < nthreads; t++)
        pthread_join(tids[t], NULL);

    unsigned narenas;
    len = sizeof(narenas);
    ta_ctl("arenas.narenas", &narenas, &len, NULL, 0);
    printf("arenas: %u (%u manual), busy threads: %u, rounds: %u\n", narenas, manual, nthreads,
           rounds);
    printf("epoch refresh:            avg %8.2f us, max %8.2f us (wall); avg %8.2f us CPU\n",
           epoch.total / 1e3 / rounds, epoch.max / 1e3, epoch_cpu / 1e3 / rounds);
    printf("stats.allocated by name:  avg %8.1f ns, max %8.1f ns\n",
           (double)byname.total / rounds, (double)byname.max);
    printf("stats.allocated by mib:   avg %8.1f ns, max %8.1f ns\n",
           (double)bymib.total / rounds, (double)bymib.max);
    return 0;
}
