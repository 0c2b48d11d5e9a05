/* Unit test of bin.c.
 * Slabs: a fresh manual arena fills one slab with exactly nregs regions
 * of a class before opening another, takes them all back in any order,
 * and serves the refill from the same memory. */
#include "arena.h"
#include "harness.h"
#include "os.h"
#include "sizeclass.h"

enum { MAX_REGS = 4096 };
static void *blocks[MAX_REGS + 1];

/* Fisher-Yates with the fixed-seed generator: a random but repeatable
 * order of frees. */
static void shuffle(void **v, size_t n, uint64_t *seed)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(test_rand(seed) % i);
        void *t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* Blocks must be distinct, class-aligned offsets inside one slab. */
static void check_one_slab(const bin_info_t *b, size_t n)
{
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t a = (uintptr_t)blocks[i];
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
    }
    CHECK(hi - lo + b->size <= (size_t)b->slab_pages * tai_page);
    for (size_t i = 0; i < n; i++)
        CHECK(((uintptr_t)blocks[i] - lo) % b->size == 0);
}

/* Writes every block then checks none was overwritten by another. */
static void check_contents(size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++)
        test_fill(blocks[i], size, i);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ(test_verify(blocks[i], size, i), size);
}

/* Fill, overflow, free in random order and refill one class's slab. */
static void run_class(unsigned cls, uint64_t *seed)
{
    const bin_info_t *b = &tai_bin_info[cls];
    size_t n = b->nregs < MAX_REGS ? b->nregs : MAX_REGS;
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    bin_stats_t *st = &ar->a.bins[cls].stats;
    for (size_t i = 0; i < n; i++) {
        blocks[i] = ta_arena_malloc(ar, b->size);
        CHECK(blocks[i] != NULL);
        if (!blocks[i])
            return;
    }
    CHECK_EQ(ctr_get(&st->curregs), n);
    CHECK_EQ(ctr_get(&st->curslabs), 1);
    if (n == b->nregs)
        check_one_slab(b, n);
    check_contents(n, b->size);
    /* one more region needs a second slab when the first is full */
    blocks[n] = ta_arena_malloc(ar, b->size);
    CHECK(blocks[n] != NULL);
    CHECK_EQ(ctr_get(&st->curslabs), n == b->nregs ? 2 : 1);
    ta_free(blocks[n]);
    uint64_t mapped = ctr_get(&ar->a.stats.mapped);
    shuffle(blocks, n, seed);
    for (size_t i = 0; i < n; i++)
        ta_free(blocks[i]);
    CHECK_EQ(ctr_get(&st->curregs), 0);
    for (size_t i = 0; i < n; i++) {
        blocks[i] = ta_arena_malloc(ar, b->size);
        CHECK(blocks[i] != NULL);
        if (!blocks[i])
            return;
    }
    CHECK_EQ(ctr_get(&st->curregs), n);
    CHECK(ctr_get(&ar->a.stats.mapped) <= mapped);
    check_contents(n, b->size);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Every small class, each in an arena of its own so slab counts start at
 * zero. */
static void test_every_class(void)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (unsigned cls = 0; cls < NBINS; cls++)
        run_class(cls, &seed);
}

/* Half-freed slabs are reused before new ones are opened. */
static void test_partial_slabs_reused(void)
{
    unsigned cls = size_class(96);
    const bin_info_t *b = &tai_bin_info[cls];
    size_t n = 4 * (size_t)b->nregs;
    if (n > MAX_REGS)
        n = MAX_REGS;
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    bin_stats_t *st = &ar->a.bins[cls].stats;
    for (size_t i = 0; i < n; i++)
        blocks[i] = ta_arena_malloc(ar, 96);
    uint64_t slabs = ctr_get(&st->curslabs);
    for (size_t i = 0; i < n; i += 2) {
        ta_free(blocks[i]);
        blocks[i] = NULL;
    }
    for (size_t i = 0; i < n; i += 2)
        blocks[i] = ta_arena_malloc(ar, 96);
    CHECK(ctr_get(&st->curslabs) <= slabs);
    CHECK_EQ(ctr_get(&st->curregs), n);
    for (size_t i = 0; i < n; i++)
        CHECK(blocks[i] != NULL);
    check_contents(n, 96);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    ta_free(ta_malloc(1));
    RUN(test_every_class);
    RUN(test_partial_slabs_reused);
    return TEST_EXIT();
}
