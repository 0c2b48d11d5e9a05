/* The dirty bound of the automatic arenas together (issue 14, passing):
 * blocks a thread of one arena frees go back dirty to that arena, below
 * its own peak, so when the live set moves to another arena the first
 * keeps its pages while the second takes new ones. The second's fresh
 * pages purge the first's dirty ones down to opt.dirty_max_pct above the
 * peak of the arenas' active pages together. Then threads of both arenas
 * move blocks between them at once: the purges of each other's pages
 * never touch a block in use. Residency is read with mincore(). */
#include <pthread.h>

#include "harness.h"
#include "residency.h"

#define MIB ((size_t)1 << 20)
#define NBLOCKS 24
#define NFREED (NBLOCKS / 3 * 2)

static unsigned scale = 1;

static size_t pages(size_t bytes) { return bytes / page_size(); }

static void bind_arena(unsigned index)
{
    TCHECK(ta_ctl("thread.arena", NULL, NULL, &index, sizeof index) == 0);
}

static size_t stat_of(unsigned index, const char *leaf)
{
    uint64_t e = 1;
    CHECK_EQ(ta_ctl("epoch", NULL, NULL, &e, sizeof e), 0);
    return test_ctl_size("stats.arenas.%u.%s", index, leaf);
}

static char *blocks[NBLOCKS];

/* On arena 0: NBLOCKS MiB written, then two of every three blocks freed
 * (kept dirty: below the arena's own peak, and under 8 times its active
 * pages). */
static void *fill_and_free(void *arg)
{
    (void)arg;
    bind_arena(0);
    for (unsigned i = 0; i < NBLOCKS; i++) {
        blocks[i] = ta_malloc(MIB);
        TCHECK(blocks[i] != NULL);
        if (blocks[i])
            test_fill(blocks[i], MIB, i);
    }
    for (unsigned i = 0; i < NBLOCKS; i++)
        if (i % 3)
            ta_free(blocks[i]);
    return NULL;
}

static char *moved[NBLOCKS];

/* On arena 1: as much again, in pages arena 1 never had. */
static void *fill_elsewhere(void *arg)
{
    (void)arg;
    bind_arena(1);
    for (unsigned i = 0; i < NBLOCKS; i++) {
        moved[i] = ta_malloc(MIB);
        TCHECK(moved[i] != NULL);
        if (moved[i])
            test_fill(moved[i], MIB, 100 + i);
    }
    return NULL;
}

static void run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, fn, arg), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
}

static void test_moved_live_set_purges_left_arena(void)
{
    run_thread(fill_and_free, NULL);
    size_t left_dirty = stat_of(0, "pdirty");
    CHECK(left_dirty >= pages(NFREED * MIB));
    CHECK_EQ(stat_of(0, "dirty_purged"), 0);
    run_thread(fill_elsewhere, NULL);
    unsigned pct = 0;
    size_t len = sizeof pct;
    CHECK_EQ(ta_ctl("opt.dirty_max_pct", &pct, &len, NULL, 0), 0);
    /* the peak together is what is active now, plus 1 MiB for the
     * little else the arenas held before; the floor together is 1 MiB */
    size_t active = stat_of(0, "pactive") + stat_of(1, "pactive");
    size_t bound = active + active * pct / 100 + pages(2 * MIB);
    size_t kept = active + stat_of(0, "pdirty") + stat_of(1, "pdirty");
    CHECK(kept <= bound);
    CHECK(stat_of(0, "dirty_purged") >= pages(NFREED / 2 * MIB));
    size_t resident = 0;
    for (unsigned i = 0; i < NBLOCKS; i++)
        if (i % 3)
            resident += resident_pages(blocks[i], MIB);
    CHECK(resident <= pages(NFREED / 4 * MIB));
    for (unsigned i = 0; i < NBLOCKS; i++) {
        if (i % 3 == 0) {
            CHECK_EQ(test_verify(blocks[i], MIB, i), MIB);
            ta_free(blocks[i]);
        }
        CHECK_EQ(test_verify(moved[i], MIB, 100 + i), MIB);
        ta_free(moved[i]);
    }
}

/* Two threads, one per arena, each replacing its blocks while the other
 * frees them: the live set keeps moving from arena to arena, so each
 * thread's fresh pages purge the other arena's dirty ones while that
 * arena is in use. */
#define ROUNDS 200
#define SLOTS 8

typedef struct side {
    unsigned arena;
    char *mine[SLOTS];
    size_t size[SLOTS];
} side_t;

static side_t sides[2];
static pthread_mutex_t swap_lock = PTHREAD_MUTEX_INITIALIZER;

static void *churn(void *arg)
{
    side_t *me = arg, *other = &sides[1 - me->arena];
    bind_arena(me->arena);
    uint64_t rng = me->arena + 1;
    for (unsigned r = 0; r < ROUNDS * scale; r++) {
        unsigned i = (unsigned)(test_rand(&rng) % SLOTS);
        size_t size = (size_t)(64 << 10) + (size_t)(test_rand(&rng) % (2 * MIB));
        char *p = ta_malloc(size);
        TCHECK(p != NULL);
        if (!p)
            break;
        test_fill(p, size, (uintptr_t)p);
        /* the block goes to the other thread, whose old one this thread frees */
        pthread_mutex_lock(&swap_lock);
        char *old = other->mine[i];
        size_t old_size = other->size[i];
        other->mine[i] = p;
        other->size[i] = size;
        pthread_mutex_unlock(&swap_lock);
        if (old) {
            TCHECK(test_verify(old, old_size, (uintptr_t)old) == old_size);
            ta_free(old);
        }
    }
    return NULL;
}

static void test_purges_race_with_use(void)
{
    pthread_t t[2];
    for (unsigned k = 0; k < 2; k++) {
        sides[k].arena = k;
        CHECK_EQ(pthread_create(&t[k], NULL, churn, &sides[k]), 0);
    }
    for (unsigned k = 0; k < 2; k++)
        CHECK_EQ(pthread_join(t[k], NULL), 0);
    for (unsigned k = 0; k < 2; k++)
        for (unsigned i = 0; i < SLOTS; i++)
            if (sides[k].mine[i]) {
                CHECK_EQ(test_verify(sides[k].mine[i], sides[k].size[i],
                                     (uintptr_t)sides[k].mine[i]),
                         sides[k].size[i]);
                ta_free(sides[k].mine[i]);
            }
    CHECK_EQ(test_thread_failures(), 0);
}

int main(void)
{
    /* two automatic arenas whatever the CPU count; read at the first call */
    if (setenv("TUNALLOC_CONF", "narenas:2", 1) != 0)
        return 1;
    scale = test_scale();
    RUN(test_moved_live_set_purges_left_arena);
    RUN(test_purges_race_with_use);
    return TEST_EXIT();
}
