/* Producer/consumer stress: producers allocate blocks of mixed sizes and
 * hand them to consumers on other threads, which check their content and
 * free them, so most frees cross threads (and arenas). Local churn runs
 * alongside. Any block handed out twice shows up as a content mismatch. */
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"
#include "tunalloc.h"

/* test_scale(), read in main before any thread starts. */
static unsigned scale = 1;

enum { NPRODUCERS = 3, NCONSUMERS = 3, BATCH = 64, QUEUE_CAP = 64 };

/* A bounded queue of batches guarded by one mutex. */
typedef struct batch {
    void *p[BATCH];
    size_t size[BATCH];
} batch_t;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    batch_t *slots[QUEUE_CAP];
    unsigned head, count, producers_left;
} queue = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
           {0}, 0, 0, NPRODUCERS};

static size_t blocks_per_producer;
static _Atomic size_t consumed, bad_blocks;

/* Blocks while the queue is full, so producers cannot run away. */
static void queue_push(batch_t *b)
{
    pthread_mutex_lock(&queue.lock);
    while (queue.count == QUEUE_CAP)
        pthread_cond_wait(&queue.not_full, &queue.lock);
    queue.slots[(queue.head + queue.count++) % QUEUE_CAP] = b;
    pthread_cond_signal(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
}

/* NULL once every producer is done and the queue is drained. */
static batch_t *queue_pop(void)
{
    pthread_mutex_lock(&queue.lock);
    while (queue.count == 0 && queue.producers_left > 0)
        pthread_cond_wait(&queue.not_empty, &queue.lock);
    batch_t *b = NULL;
    if (queue.count) {
        b = queue.slots[queue.head];
        queue.head = (queue.head + 1) % QUEUE_CAP;
        queue.count--;
        pthread_cond_signal(&queue.not_full);
    }
    pthread_mutex_unlock(&queue.lock);
    return b;
}

/* Wakes every consumer so they notice the last producer finished. */
static void producer_done(void)
{
    pthread_mutex_lock(&queue.lock);
    queue.producers_left--;
    pthread_cond_broadcast(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
}

/* Mostly small sizes, some large, a rare huge one: the mix real programs
 * send across threads. */
static size_t pick_size(uint64_t *seed)
{
    uint64_t r = test_rand(seed);
    if (r % 1000 == 0)
        return (size_t)(3 << 20) + (size_t)(r % 4096);
    if (r % 50 == 0)
        return 16384 + (size_t)(r % 100000);
    return (size_t)(r % 512) + 1;
}

/* Tags the first bytes of a block with its address so a consumer can tell
 * whether anybody else wrote there. */
static void stamp(void *p, size_t size)
{
    test_fill(p, size < 32 ? size : 32, (uintptr_t)p);
}

/* Allocates batches for other threads to free, churning locally too. */
static void *producer(void *arg)
{
    uint64_t seed = 0x1234567ull + (uintptr_t)arg * 7919u;
    void *local[16] = {0};
    for (size_t done = 0; done < blocks_per_producer; done += BATCH) {
        batch_t *b = ta_malloc(sizeof(*b));
        if (!b) {
            bad_blocks++;
            break;
        }
        for (int i = 0; i < BATCH; i++) {
            b->size[i] = pick_size(&seed);
            b->p[i] = ta_malloc(b->size[i]);
            if (b->p[i])
                stamp(b->p[i], b->size[i]);
            else
                bad_blocks++;
            /* local churn through the thread cache */
            unsigned slot = (unsigned)(test_rand(&seed) % 16);
            ta_free(local[slot]);
            local[slot] = ta_malloc((size_t)(test_rand(&seed) % 256));
        }
        queue_push(b);
    }
    for (int i = 0; i < 16; i++)
        ta_free(local[i]);
    producer_done();
    return NULL;
}

/* Checks and frees blocks another thread allocated. */
static void *consumer(void *arg)
{
    (void)arg;
    batch_t *b;
    while ((b = queue_pop()) != NULL) {
        for (int i = 0; i < BATCH; i++) {
            void *p = b->p[i];
            if (!p)
                continue;
            size_t n = b->size[i] < 32 ? b->size[i] : 32;
            if (test_verify(p, n, (uintptr_t)p) != n || ta_malloc_usable_size(p) < b->size[i])
                bad_blocks++;
            if (i % 2)
                ta_free(p);
            else
                ta_free_sized(p, b->size[i]);
        }
        consumed += BATCH;
        ta_free(b);
    }
    return NULL;
}

/* Several producers and consumers; every block must arrive intact. */
static void test_producer_consumer(void)
{
    pthread_t prod[NPRODUCERS], cons[NCONSUMERS];
    blocks_per_producer = (TEST_SANITIZED ? 40000 : 400000) / BATCH * BATCH * scale;
    for (uintptr_t i = 0; i < NCONSUMERS; i++)
        CHECK_EQ(pthread_create(&cons[i], NULL, consumer, (void *)i), 0);
    for (uintptr_t i = 0; i < NPRODUCERS; i++)
        CHECK_EQ(pthread_create(&prod[i], NULL, producer, (void *)i), 0);
    for (int i = 0; i < NPRODUCERS; i++)
        pthread_join(prod[i], NULL);
    for (int i = 0; i < NCONSUMERS; i++)
        pthread_join(cons[i], NULL);
    CHECK_EQ(bad_blocks, 0);
    CHECK_EQ(consumed, NPRODUCERS * blocks_per_producer);
}

/* Threads freeing each other's blocks through a shared array at random,
 * with no queue in between: the raw cross-thread free path. */
enum { SHARED = 4096, NCHURN = 4 };
static _Atomic(void *) shared[SHARED];

/* Swaps a fresh block into a random shared slot and frees the old one,
 * which usually came from another thread. */
static void *churner(void *arg)
{
    uint64_t seed = 0xabcdefull + (uintptr_t)arg;
    size_t ops = (TEST_SANITIZED ? 50000 : 500000) * (size_t)scale;
    for (size_t i = 0; i < ops; i++) {
        size_t slot = (size_t)(test_rand(&seed) % SHARED);
        size_t size = sizeof(uintptr_t) + (size_t)(test_rand(&seed) % 2048);
        void *mine = ta_malloc(size);
        if (!mine) {
            bad_blocks++;
            continue;
        }
        memcpy(mine, &mine, sizeof(mine));
        void *old = atomic_exchange(&shared[slot], mine);
        if (old) {
            void *tag;
            memcpy(&tag, old, sizeof(tag));
            if (tag != old)
                bad_blocks++;
            ta_free(old);
        }
    }
    return NULL;
}

/* Random cross-thread frees with no queue between the threads. */
static void test_shared_slots(void)
{
    pthread_t t[NCHURN];
    bad_blocks = 0;
    for (uintptr_t i = 0; i < NCHURN; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, churner, (void *)i), 0);
    for (int i = 0; i < NCHURN; i++)
        pthread_join(t[i], NULL);
    for (size_t i = 0; i < SHARED; i++)
        ta_free(atomic_exchange(&shared[i], NULL));
    CHECK_EQ(bad_blocks, 0);
}

int main(void)
{
    scale = test_scale();
    RUN(test_producer_consumer);
    RUN(test_shared_slots);
    return TEST_EXIT();
}
