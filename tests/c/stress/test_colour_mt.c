/* Blocks passed from thread to thread, each thread on its own automatic
 * arena, so nearly every free is remote: a block of a whole-line class
 * (64 B multiples, cached large runs) is reused by the thread that frees
 * it, one of a class whose blocks share lines goes home (tag.h: colours).
 * A table of live blocks catches a block handed out twice at once (the
 * second malloc finds it live) and a free of one the table does not know;
 * every block carries its id, checked by whoever frees it; at the end
 * every region is back on its slab and every arena's walk holds. Runs
 * again with more arenas than colours (arenas sharing one), and under
 * check:true and secure:true, where no free is cached. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "arena.h"
#include "opts.h"
#include "harness.h"
#include "rerun.h"
#include "tag.h"
#include "thread.h"
#include "walker.h"

#define NRING 5
#define SLOTS 256 /* blocks in flight per channel, a power of two */
#define BATCH 40
#define LIVE_BITS 16 /* the live table's slots, 2^LIVE_BITS */

typedef struct msg {
    unsigned char *p;
    size_t size;
    uint64_t id;
} msg_t;

typedef struct channel {
    pthread_mutex_t lock;
    msg_t m[SLOTS];
    unsigned head, tail;
} channel_t;

static channel_t chan[NRING];
static _Atomic uint64_t next_id = 1;

/* Shared-line classes, whole-line ones, and cached large runs. */
static const size_t sizes[] = {8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512, 4096, 20000};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* Live blocks: open addressing under one lock, deleted slots marked. */
#define TOMB ((void *)1)
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static void *live[1u << LIVE_BITS];
static unsigned nlive;

static size_t live_slot(const void *p, unsigned i)
{
    return (((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ULL + i) >> (64 - LIVE_BITS);
}

/* False if p was live already: handed out twice. */
static bool live_add(void *p)
{
    pthread_mutex_lock(&live_lock);
    bool fresh = true;
    size_t free_at = SIZE_MAX;
    for (unsigned i = 0; i < (1u << LIVE_BITS); i++) {
        size_t s = (live_slot(p, 0) + i) & ((1u << LIVE_BITS) - 1);
        if (live[s] == p) {
            fresh = false;
            break;
        }
        if (live[s] == TOMB && free_at == SIZE_MAX)
            free_at = s;
        if (!live[s]) {
            if (free_at == SIZE_MAX)
                free_at = s;
            break;
        }
    }
    if (fresh && free_at != SIZE_MAX && nlive < (1u << LIVE_BITS) / 2) {
        live[free_at] = p;
        nlive++;
    }
    pthread_mutex_unlock(&live_lock);
    return fresh;
}

/* False if p was not live. */
static bool live_remove(void *p)
{
    pthread_mutex_lock(&live_lock);
    bool found = false;
    for (unsigned i = 0; i < (1u << LIVE_BITS); i++) {
        size_t s = (live_slot(p, 0) + i) & ((1u << LIVE_BITS) - 1);
        if (live[s] == p) {
            live[s] = TOMB;
            nlive--;
            found = true;
            break;
        }
        if (!live[s])
            break;
    }
    pthread_mutex_unlock(&live_lock);
    return found;
}

static void stamp(unsigned char *p, size_t n, uint64_t id)
{
    memcpy(p, &id, sizeof id);
    memset(p + sizeof id, (int)(id * 0x9e37u >> 8) & 0xff, n - sizeof id);
}

static bool stamped(const unsigned char *p, size_t n, uint64_t id)
{
    uint64_t got;
    memcpy(&got, p, sizeof got);
    if (got != id)
        return false;
    unsigned char f = (unsigned char)((id * 0x9e37u >> 8) & 0xff);
    for (size_t i = sizeof id; i < n; i++)
        if (p[i] != f)
            return false;
    return true;
}

static bool send(channel_t *c, msg_t m)
{
    pthread_mutex_lock(&c->lock);
    bool ok = c->tail - c->head < SLOTS;
    if (ok)
        c->m[c->tail++ % SLOTS] = m;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

static bool receive(channel_t *c, msg_t *m)
{
    pthread_mutex_lock(&c->lock);
    bool ok = c->head != c->tail;
    if (ok)
        *m = c->m[c->head++ % SLOTS];
    pthread_mutex_unlock(&c->lock);
    return ok;
}

static msg_t make(size_t size)
{
    msg_t m = {ta_malloc(size), size, atomic_fetch_add(&next_id, 1)};
    TCHECK(m.p != NULL);
    if (m.p) {
        TCHECK(live_add(m.p));
        stamp(m.p, size, m.id);
    }
    return m;
}

/* Sized and unsized frees in turn: both fast paths read the tag map. */
static void check_and_free(const msg_t *m)
{
    if (!m->p)
        return;
    TCHECK(stamped(m->p, m->size, m->id));
    TCHECK(live_remove(m->p));
    if (m->id & 1)
        ta_free_sized(m->p, m->size);
    else
        ta_free(m->p);
}

typedef struct ring_arg {
    unsigned slot, arena, rounds;
} ring_arg_t;

/* Allocates a batch of one size, sends it on, frees what the thread
 * before it sent; exits with the blocks it sent still in flight. */
static void *ring_thread(void *arg)
{
    const ring_arg_t *ra = arg;
    TCHECK(ta_ctl("thread.arena", NULL, NULL, (void *)&ra->arena, sizeof(ra->arena)) == 0);
    channel_t *out = &chan[(ra->slot + 1) % NRING], *in = &chan[ra->slot];
    uint64_t rng = 0x9e3779b97f4a7c15ULL * (ra->slot + 1) + ra->rounds;
    for (unsigned r = 0; r < ra->rounds; r++) {
        size_t size = sizes[test_rand(&rng) % NSIZES];
        for (unsigned k = 0; k < BATCH; k++) {
            msg_t m = make(size);
            if (m.p && !send(out, m))
                check_and_free(&m);
        }
        msg_t m;
        for (unsigned k = 0; k < 2 * BATCH && receive(in, &m); k++)
            check_and_free(&m);
    }
    return NULL;
}

static uint64_t live_regions(void)
{
    uint64_t n = 0;
    unsigned total = atomic_load(&tai_narenas_total);
    for (unsigned i = 0; i < total && i < MAX_ARENAS; i++) {
        arena_t *a = atomic_load(&tai_arenas[i]);
        if (a && !a->manual)
            for (unsigned c = 0; c < NBINS; c++)
                n += ctr_get(&a->bins[c].stats.curregs);
    }
    return n;
}

static unsigned narenas(void)
{
    unsigned n = 0;
    size_t len = sizeof(n);
    CHECK_EQ(ta_ctl("arenas.narenas", &n, &len, NULL, 0), 0);
    return n ? n : 1;
}

static void test_ring(void)
{
    unsigned na = narenas();
    for (unsigned i = 0; i < NRING; i++)
        pthread_mutex_init(&chan[i].lock, NULL);
    tai_thread_tcache_flush();
    uint64_t before = live_regions();
    unsigned waves = TEST_SANITIZED ? 3 : 6 * test_scale();
    unsigned rounds = TEST_SANITIZED ? 100 : 1000;
    for (unsigned w = 0; w < waves; w++) {
        pthread_t t[NRING];
        ring_arg_t ra[NRING];
        for (unsigned i = 0; i < NRING; i++) {
            /* each wave shifts the arenas, so blocks go home to arenas
             * whose threads have exited, and a thread's cache holds
             * whole-line blocks of arenas other threads use */
            ra[i] = (ring_arg_t){i, (i * 7 + w) % na, rounds + 7 * i};
            CHECK_EQ(pthread_create(&t[i], NULL, ring_thread, &ra[i]), 0);
        }
        for (unsigned i = 0; i < NRING; i++)
            CHECK_EQ(pthread_join(t[i], NULL), 0);
    }
    msg_t m;
    for (unsigned i = 0; i < NRING; i++)
        while (receive(&chan[i], &m))
            check_and_free(&m);
    CHECK_EQ(test_thread_failures(), 0);
    CHECK_EQ(nlive, 0);
    tai_thread_tcache_flush();
    CHECK_EQ(live_regions(), before);
    check_all_arenas();
}

/* What one thread's free of another arena's block leaves for its next
 * malloc of that size. */
typedef struct reuse_arg {
    unsigned arena;
    size_t size;
    void *p;     /* freed by the thread */
    void *again; /* its next malloc of size */
} reuse_arg_t;

static void *free_then_malloc(void *arg)
{
    reuse_arg_t *ra = arg;
    TCHECK(ta_ctl("thread.arena", NULL, NULL, &ra->arena, sizeof(ra->arena)) == 0);
    void *warm = ta_malloc(ra->size); /* the class's stack exists and holds one */
    ta_free(warm);
    ta_free(ra->p);
    ra->again = ta_malloc(ra->size);
    ta_free(ra->again);
    return NULL;
}

/* A block of another arena is reused by the freeing thread exactly when
 * its class is whole lines and the cache keeps it (not in checked mode),
 * or its arena shares the thread's colour. */
static void test_reuse_by_class(void)
{
    unsigned na = narenas();
    unsigned home = 0;
    CHECK_EQ(ta_ctl("thread.arena", NULL, NULL, &home, sizeof(home)), 0);
    bool cached = !tai_opt.check;
    for (unsigned other = 1; other < na; other++) {
        for (size_t i = 0; i < NSIZES; i++) {
            reuse_arg_t ra = {other, sizes[i], ta_malloc(sizes[i]), NULL};
            CHECK(ra.p != NULL);
            pthread_t t;
            CHECK_EQ(pthread_create(&t, NULL, free_then_malloc, &ra), 0);
            CHECK_EQ(pthread_join(t, NULL), 0);
            unsigned cls = size_class(sizes[i]);
            bool reusable = cached && (!tag_class_shared(cls) || tag_arena_colour(other) == 0);
            if ((ra.again == ra.p) != reusable)
                fprintf(stderr, "size %zu, arena %u: reused %d, expected %d\n", sizes[i], other,
                        ra.again == ra.p, reusable);
            CHECK_EQ(ra.again == ra.p, reusable);
        }
    }
    CHECK_EQ(test_thread_failures(), 0);
}

int main(int argc, char **argv)
{
    (void)argc;
    test_rerun_in_checked_modes(argv);
    if (getenv(TEST_RERUN_ENV) == NULL)
        test_rerun_with_conf(argv, "narenas:24");
    RUN(test_reuse_by_class);
    RUN(test_ring);
    return TEST_EXIT();
}
