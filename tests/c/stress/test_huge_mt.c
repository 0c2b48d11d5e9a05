/* Huge blocks from several threads at once, on one arena: allocations
 * that split cached mappings and fill new ones from the cache race with
 * frees that feed the cache, with reallocations that grow and shrink
 * blocks, and with purges. Every block keeps its contents and ownership;
 * once all are freed and the arena purged, nothing huge stays mapped. */
#include <pthread.h>

#include "arena.h"
#include "harness.h"
#include "owner_map.h"

/* test_scale(), read in main before any thread starts. */
static unsigned scale = 1;

#define MIB ((size_t)1 << 20)
#define NTHREADS 4
#define SLOTS 6
#define STRIDE ((size_t)64 << 10)

static ta_arena_t *shared;

/* One byte per 64 KiB and the last one: enough to catch a page that
 * moved to the wrong block without touching every page. */
static void stamp(unsigned char *p, size_t size, unsigned char tag)
{
    for (size_t off = 0; off < size; off += STRIDE)
        p[off] = (unsigned char)(tag + off / STRIDE);
    p[size - 1] = tag;
}

static int stamped(const unsigned char *p, size_t size, unsigned char tag)
{
    for (size_t off = 0; off < size; off += STRIDE)
        if (p[off] != (unsigned char)(tag + off / STRIDE))
            return 0;
    return p[size - 1] == tag;
}

static size_t huge_size(uint64_t *rng)
{
    return LARGE_MAX + 1 + (size_t)(test_rand(rng) % (40 * MIB));
}

typedef struct slot {
    unsigned char *p;
    size_t size;
    unsigned char tag;
} slot_t;

static slot_t pool[NTHREADS][SLOTS];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
/* Checks and frees whatever the slot holds. */
static void drop(slot_t *s)
{
    if (!s->p)
        return;
    TCHECK(stamped(s->p, s->size, s->tag));
    ta_free(s->p);
    s->p = NULL;
}

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (id + 1);
    unsigned steps = (TEST_SANITIZED ? 60 : 300) * scale;
    for (unsigned i = 0; i < steps; i++) {
        uint64_t r = test_rand(&rng);
        /* a slot of any thread: frees cross threads */
        slot_t *s = &pool[(r >> 8) % NTHREADS][(r >> 16) % SLOTS];
        pthread_mutex_lock(&pool_lock);
        slot_t mine = *s;
        s->p = NULL;
        pthread_mutex_unlock(&pool_lock);
        if (mine.p && r % 3 == 0) {
            size_t size = huge_size(&rng);
            unsigned char *q = ta_arena_realloc(shared, mine.p, size);
            TCHECK(q != NULL);
            if (!q)
                continue;
            size_t keep = mine.size < size ? mine.size : size;
            for (size_t off = 0; off + 1 < keep; off += STRIDE)
                TCHECK(q[off] == (unsigned char)(mine.tag + off / STRIDE));
            mine.p = q;
            mine.size = size;
        } else {
            drop(&mine);
            mine.size = huge_size(&rng);
            mine.p = r % 5 == 0 ? ta_arena_calloc(shared, 1, mine.size)
                                : ta_arena_malloc(shared, mine.size);
            TCHECK(mine.p != NULL);
            if (!mine.p)
                continue;
            if (r % 5 == 0)
                TCHECK(!mine.p[0] && !mine.p[mine.size - 1] && !mine.p[mine.size / 2]);
        }
        mine.tag = (unsigned char)r;
        stamp(mine.p, mine.size, mine.tag);
        TCHECK(tai_owner_map_unit(head_of(mine.p)) == OWNER_HEAD &&
               ta_owns(mine.p + mine.size - 1));
        if (r % 17 == 0) {
            char name[48];
            snprintf(name, sizeof name, "arena.%u.purge", ta_arena_index(shared));
            ta_ctl(name, NULL, NULL, NULL, 0);
        }
        pthread_mutex_lock(&pool_lock);
        slot_t old = *s;
        *s = mine;
        pthread_mutex_unlock(&pool_lock);
        drop(&old);
    }
    return NULL;
}

int main(void)
{
    scale = test_scale();
    ta_arena_opts o;
    ta_arena_opts_init(&o);
    o.dirty_decay_ms = -1; /* pieces stay cached: the most splitting */
    shared = ta_arena_create(&o);
    CHECK(shared != NULL);
    pthread_t t[NTHREADS];
    for (uintptr_t i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < NTHREADS; i++)
        for (int j = 0; j < SLOTS; j++)
            drop(&pool[i][j]);
    CHECK_EQ(test_thread_failures(), 0);
    arena_t *a = &((struct ta_arena *)shared)->a;
    CHECK(a->huge_live == NULL);
    char name[48];
    snprintf(name, sizeof name, "arena.%u.purge", ta_arena_index(shared));
    CHECK_EQ(ta_ctl(name, NULL, NULL, NULL, 0), 0);
    CHECK(a->huge_cache == NULL);
    uint64_t normal = 0;
    for (segment_t *s = a->segments; s; s = s->next)
        normal += SEGMENT_SIZE;
    CHECK_EQ(ctr_get(&a->stats.mapped), normal);
    CHECK_EQ(ta_arena_destroy(shared), 0);
    return TEST_EXIT();
}
