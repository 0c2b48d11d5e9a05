/* Soak (issue 13 item 9): threads churn random slots of one table shared
 * by all of them, so most frees are of blocks another thread allocated;
 * a fifth of the operations are reallocs, the rest replace the block.
 * Sizes are mostly small with a tail up to 8 MiB. Every block's first 64
 * bytes hold a pattern derived from its slot and generation, checked
 * before each free or realloc (and the kept prefix after a realloc), so
 * a block handed out twice or moved wrongly is caught. Optionally the
 * main thread forks every fork_ms; each child allocates, checks and frees
 * a few blocks of every size band and must _exit(0). The main thread
 * samples RSS; the plateau is the median over the second half. Correct
 * under any allocator: any failure exits non-zero. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc_api.h"
#include "common.h"

#define MAX_THREADS 64
#define PATTERN 64         /* bytes written and checked per block */
#define MAX_SAMPLES 100000 /* RSS samples kept (about 3 h at 100 ms) */
#define CHILD_WAIT_S 30    /* a child slower than this counts as hung */

static uint64_t seconds = 10, threads = 8, nslots = 4096, fork_ms = 20;
static uint64_t sample_ms = 100, seed = 1;

static const bench_opt opts[] = {
    {"seconds", "run time", &seconds, 1, 1 << 20, NULL, NULL},
    {"threads", "worker threads", &threads, 1, MAX_THREADS, NULL, NULL},
    {"slots", "live blocks shared by all threads", &nslots, 1, 1 << 24, NULL, NULL},
    {"fork_ms", "ms between forks, 0 = no fork", &fork_ms, 0, 1 << 20, NULL, NULL},
    {"sample_ms", "ms between RSS samples", &sample_ms, 1, 1 << 20, NULL, NULL},
    {"seed", "random seed", &seed, 0, UINT64_MAX, NULL, NULL},
};
#define NOPTS (sizeof opts / sizeof opts[0])

typedef struct slot {
    pthread_mutex_t lock;
    unsigned char *p; /* NULL until first used */
    size_t size;
    uint64_t gen; /* bumped at every new content */
} slot_t;

static slot_t *slots;
static atomic_bool stop;
static atomic_uint_fast64_t total_ops, total_reallocs;
static double samples[MAX_SAMPLES], stamps[MAX_SAMPLES];

/* 70% up to 512 B, 25% up to 60 KB, 4% up to 1 MB, 1% of 2-8 MB. */
static size_t draw_size(bench_rng *r)
{
    uint64_t band = bench_rand(r) % 100;
    if (band < 70)
        return (size_t)bench_rand_range(r, 1, 512);
    if (band < 95)
        return (size_t)bench_rand_range(r, 513, 60000);
    if (band < 99)
        return (size_t)bench_rand_range(r, 60001, 1000000);
    return (size_t)bench_rand_range(r, 2 * BENCH_MIB, 8 * BENCH_MIB);
}

/* Byte i of the pattern of (slot, gen): a mix of both, so a block that
 * holds another slot's or an older generation's pattern differs. */
static unsigned char pattern_byte(uint64_t key, size_t i)
{
    return (unsigned char)((key >> ((i & 7) * 8)) + i * 13);
}

static uint64_t pattern_key(uint64_t slot, uint64_t gen)
{
    uint64_t z = slot * 0x9e3779b97f4a7c15ull + gen * 0xbf58476d1ce4e5b9ull + 1;
    z = (z ^ (z >> 31)) * 0x94d049bb133111ebull;
    return z ^ (z >> 29);
}

static size_t prefix(size_t size) { return size < PATTERN ? size : PATTERN; }

static void fill(unsigned char *p, size_t n, uint64_t key)
{
    for (size_t i = 0; i < n; i++)
        p[i] = pattern_byte(key, i);
}

/* Index of the first wrong byte, or n when all match. */
static size_t verify(const unsigned char *p, size_t n, uint64_t key)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern_byte(key, i))
            return i;
    return n;
}

static void check_slot(uint64_t idx, const slot_t *s, size_t n, const char *when)
{
    size_t bad = verify(s->p, n, pattern_key(idx, s->gen));
    if (bad != n)
        bench_fail("slot %llu %s: byte %zu of a %zu-byte block at %p is wrong",
                   (unsigned long long)idx, when, bad, s->size, (void *)s->p);
}

static void *must(void *p, size_t n)
{
    if (!p)
        bench_fail("allocation of %zu bytes returned NULL", n);
    return p;
}

/* One operation on a random slot: realloc (a fifth) or replace. */
static void churn(bench_rng *r, uint64_t *reallocs)
{
    uint64_t idx = bench_rand(r) % nslots;
    slot_t *s = &slots[idx];
    size_t size = draw_size(r);
    pthread_mutex_lock(&s->lock);
    if (s->p && bench_rand(r) % 5 == 0) {
        check_slot(idx, s, prefix(s->size), "before realloc");
        size_t kept = prefix(size < s->size ? size : s->size);
        s->p = must(bench_realloc(s->p, size), size);
        s->size = size;
        check_slot(idx, s, kept, "after realloc");
        ++*reallocs;
    } else {
        if (s->p) {
            check_slot(idx, s, prefix(s->size), "before free");
            bench_free(s->p);
        }
        s->p = must(bench_malloc(size), size);
        s->size = size;
    }
    s->gen++;
    fill(s->p, prefix(size), pattern_key(idx, s->gen));
    pthread_mutex_unlock(&s->lock);
}

static void *worker(void *arg)
{
    bench_rng r;
    bench_rng_seed(&r, seed * 1000003 + *(const uint64_t *)arg);
    uint64_t ops = 0, reallocs = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        churn(&r, &reallocs);
        ops++;
    }
    atomic_fetch_add(&total_ops, ops);
    atomic_fetch_add(&total_reallocs, reallocs);
    return NULL;
}

/* Writes a message with write(2): stdio's locks may have been held by a
 * parent thread at fork. */
static void child_fail(const char *msg)
{
    ssize_t rc = write(2, msg, strlen(msg));
    (void)rc;
    _exit(3);
}

/* The forked child: a few blocks of each size band, written, grown by
 * realloc, checked and freed, using whatever state fork left the
 * allocator in. */
static void child(uint64_t n)
{
    static const size_t sizes[] = {24, 500, 4000, 60000, 900000, 3 * BENCH_MIB};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    unsigned char *b[NS];
    for (unsigned i = 0; i < NS; i++) {
        b[i] = bench_malloc(sizes[i]);
        if (!b[i])
            child_fail("soak child: malloc returned NULL\n");
        fill(b[i], prefix(sizes[i]), pattern_key(n, i));
    }
    for (unsigned i = 0; i < NS; i++) {
        unsigned char *g = bench_realloc(b[i], sizes[i] * 2);
        if (!g)
            child_fail("soak child: realloc returned NULL\n");
        b[i] = g;
    }
    for (unsigned i = 0; i < NS; i++) {
        if (verify(b[i], prefix(sizes[i]), pattern_key(n, i)) != prefix(sizes[i]))
            child_fail("soak child: block contents changed\n");
        bench_free(b[i]);
    }
    _exit(0);
}

/* Forks one child and waits for it to exit 0. */
static void fork_once(uint64_t n)
{
    pid_t pid = fork();
    if (pid < 0)
        bench_fail("fork: %s", strerror(errno));
    if (pid == 0)
        child(n);
    int status = 0;
    double give_up = bench_now() + CHILD_WAIT_S;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            break;
        if (got < 0 && errno != EINTR)
            bench_fail("waitpid: %s", strerror(errno));
        if (bench_now() > give_up) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            bench_fail("fork child %llu hung for %d s", (unsigned long long)n, CHILD_WAIT_S);
        }
        bench_sleep_ms(1);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        bench_fail("fork child %llu: %s %d", (unsigned long long)n,
                   WIFEXITED(status) ? "exit status" : "killed by signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    bench_parse("soak", argc, argv, opts, NOPTS);
    bench_alloc_init();
    slots = must(calloc(nslots, sizeof *slots), nslots * sizeof *slots);
    for (uint64_t i = 0; i < nslots; i++)
        pthread_mutex_init(&slots[i].lock, NULL);

    pthread_t tid[MAX_THREADS];
    uint64_t ids[MAX_THREADS];
    for (uint64_t i = 0; i < threads; i++) {
        ids[i] = i;
        int rc = pthread_create(&tid[i], NULL, worker, &ids[i]);
        if (rc)
            bench_fail("pthread_create: %s", strerror(rc));
    }

    /* The main thread ticks every millisecond: a fork when one is due,
     * an RSS sample when one is due. */
    double start = bench_now(), end = start + (double)seconds;
    double next_fork = start + (double)fork_ms / 1000, next_sample = start;
    size_t nsamples = 0;
    uint64_t forks = 0;
    for (double now = start; now < end; now = bench_now()) {
        if (fork_ms && now >= next_fork) {
            fork_once(forks++);
            next_fork += (double)fork_ms / 1000;
            if (next_fork < now)
                next_fork = now;
        }
        if (now >= next_sample && nsamples < MAX_SAMPLES) {
            stamps[nsamples] = now - start;
            samples[nsamples++] = (double)bench_rss_bytes() / (double)BENCH_MIB;
            next_sample += (double)sample_ms / 1000;
        }
        bench_sleep_ms(1);
    }
    atomic_store(&stop, true);
    for (uint64_t i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    double elapsed = bench_now() - start;

    uint64_t live = 0;
    for (uint64_t i = 0; i < nslots; i++) {
        slot_t *s = &slots[i];
        if (!s->p)
            continue;
        live += s->size;
        check_slot(i, s, prefix(s->size), "at the end");
        bench_free(s->p);
    }

    /* Plateau: the median of the second half of the samples. */
    double peak = 0;
    for (size_t i = 0; i < nsamples; i++)
        peak = samples[i] > peak ? samples[i] : peak;
    size_t half = nsamples / 2, nlate = nsamples - half;
    double plateau = 0;
    if (nlate) {
        double *late = must(malloc(nlate * sizeof *late), nlate * sizeof *late);
        memcpy(late, samples + half, nlate * sizeof *late);
        qsort(late, nlate, sizeof *late, cmp_double);
        plateau = nlate % 2 ? late[nlate / 2] : (late[nlate / 2 - 1] + late[nlate / 2]) / 2;
        free(late);
    }

    bench_json_begin("soak", bench_alloc_name(), bench_sized_free_name(), opts, NOPTS);
    bench_json_f64("seconds", elapsed);
    bench_json_u64("ops", atomic_load(&total_ops));
    bench_json_u64("reallocs", atomic_load(&total_reallocs));
    bench_json_u64("forks", forks);
    bench_json_f64("live_mib", (double)live / (double)BENCH_MIB);
    bench_json_f64("plateau_mib", plateau);
    bench_json_f64("peak_mib", peak);
    bench_json_series("rss_mib", stamps, samples, nsamples);
    bench_json_end();
    for (uint64_t i = 0; i < nslots; i++)
        pthread_mutex_destroy(&slots[i].lock);
    free(slots);
    return 0;
}
