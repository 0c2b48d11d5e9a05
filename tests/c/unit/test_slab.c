/* Unit test of bin.c.
 * Slabs: a fresh manual arena fills one slab with exactly nregs regions
 * of a class before opening another, takes them all back in any order,
 * and serves the refill from the same memory. A flush's batch may hop
 * between slabs and arenas and hold bad pointers. A new slab takes the
 * pages of other bins' spare slabs before fresh ones. */
#include <string.h>

#include "arena.h"
#include "bin.h"
#include "harness.h"
#include "capture.h"
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

static unsigned count(const char *out, const char *what)
{
    unsigned n = 0;
    for (const char *at = out; (at = strstr(at, what)); at++)
        n++;
    return n;
}

/* One flush batch of a 96-byte class that goes back and forth between two
 * slabs (the second slab's run breaks the first's, then the first comes
 * back), holds another arena's region (kept and moved to the front), a
 * region given twice, an interior pointer, and ends by emptying the first
 * slab. Each good region goes back exactly once; each bad one is reported
 * once and changes nothing. */
static void test_flush_batch_hops(void)
{
    unsigned cls = size_class(96);
    const bin_info_t *b = &tai_bin_info[cls];
    size_t n = b->nregs;
    if (n + 2 > MAX_REGS)
        return;
    ta_arena_t *ar = ta_arena_create(NULL), *other = ta_arena_create(NULL);
    CHECK(ar != NULL && other != NULL);
    if (!ar || !other)
        return;
    bin_stats_t *st = &ar->a.bins[cls].stats;
    for (size_t i = 0; i < n + 2; i++) /* a full slab, two of the next */
        CHECK((blocks[i] = ta_arena_malloc(ar, 96)) != NULL);
    char *theirs = ta_arena_malloc(other, 96);
    CHECK(theirs != NULL);
    CHECK_EQ(ctr_get(&st->curslabs), 2);
    char *first = blocks[0], *second = blocks[n];
    void *batch[16];
    unsigned k = 0;
    batch[k++] = first;                   /* slab 1 */
    batch[k++] = blocks[1];               /* slab 1, same run */
    batch[k++] = second;                  /* slab 2 */
    batch[k++] = theirs;                  /* another arena's */
    batch[k++] = blocks[2];               /* slab 1 again */
    batch[k++] = first;                   /* twice in one batch */
    batch[k++] = second + 8;              /* inside a region */
    capture_begin();
    unsigned keep = tai_bin_flush(&ar->a, cls, batch, k);
    const char *out = capture_end();
    CHECK_EQ(keep, 1);
    CHECK(batch[0] == theirs);
    CHECK_EQ(count(out, "double free of "), 1);
    CHECK_EQ(count(out, "not at its start"), 1);
    CHECK_EQ(ctr_get(&st->curregs), n + 2 - 4);
    /* the rest of slab 1 in one batch, largest address first: it empties */
    static void *rest[MAX_REGS];
    k = 0;
    for (size_t i = n; i > 3; i--)
        rest[k++] = blocks[i - 1];
    CHECK_EQ(tai_bin_flush(&ar->a, cls, rest, k), 0);
    CHECK_EQ(ctr_get(&st->curregs), 1);
    CHECK_EQ(ctr_get(&st->curslabs), 1);
    /* the emptied slab was not left on a list: a whole slab's worth
     * comes back from the two slabs' memory without a third */
    for (size_t i = 0; i < n; i++)
        CHECK((blocks[i] = ta_arena_malloc(ar, 96)) != NULL);
    CHECK_EQ(ctr_get(&st->curslabs), 2);
    CHECK_EQ(ctr_get(&st->curregs), n + 1);
    check_contents(n, 96);
    ta_free(theirs);
    CHECK_EQ(ta_arena_destroy(other), 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Class a's emptied slabs kept as its spares (one page each, side by
 * side) are the only resident free pages when class b (two-page slabs)
 * needs a slab: b's slab takes two of them rather than two fresh pages,
 * so the arena's resident pages (active plus dirty, spares counting as
 * dirty) stay as they were. */
static void test_spares_before_fresh_pages(void)
{
    unsigned a_cls = NBINS, b_cls = NBINS;
    for (unsigned c = 0; c < NBINS; c++) {
        if (tai_bin_info[c].slab_pages == 1 && a_cls == NBINS)
            a_cls = c;
        if (tai_bin_info[c].slab_pages == 2 && b_cls == NBINS)
            b_cls = c;
    }
    CHECK(a_cls < NBINS && b_cls < NBINS);
    if (a_cls == NBINS || b_cls == NBINS)
        return;
    const bin_info_t *ai = &tai_bin_info[a_cls];
    size_t n = 4 * (size_t)ai->nregs;
    CHECK(n <= MAX_REGS);
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar || n > MAX_REGS)
        return;
    arena_stats_t *st = &ar->a.stats;
    bin_t *abin = &ar->a.bins[a_cls];
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK((blocks[i] = ta_arena_malloc(ar, ai->size)) != NULL);
        lo = (uintptr_t)blocks[i] < lo ? (uintptr_t)blocks[i] : lo;
        hi = (uintptr_t)blocks[i] > hi ? (uintptr_t)blocks[i] : hi;
    }
    for (size_t i = 0; i < n; i++)
        ta_free(blocks[i]);
    CHECK_EQ(abin->nspare, 4);
    CHECK_EQ(ctr_get(&st->pactive), 0);
    CHECK_EQ(ctr_get(&st->pdirty), 4);
    char *p = ta_arena_malloc(ar, tai_bin_info[b_cls].size);
    CHECK(p != NULL);
    CHECK_EQ(ctr_get(&st->pactive) + ctr_get(&st->pdirty), 4);
    CHECK_EQ(abin->nspare, 2);
    CHECK((uintptr_t)p >= lo && (uintptr_t)p < hi + ai->size);
    /* the bin that gave its spares still fills from what it has left */
    void *q = ta_arena_malloc(ar, ai->size);
    CHECK(q != NULL);
    CHECK_EQ(abin->nspare, 1);
    CHECK_EQ(ctr_get(&st->pactive) + ctr_get(&st->pdirty), 4);
    ta_free(q);
    ta_free(p);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    ta_free(ta_malloc(1));
    RUN(test_every_class);
    RUN(test_partial_slabs_reused);
    RUN(test_flush_batch_hops);
    RUN(test_spares_before_fresh_pages);
    return TEST_EXIT();
}
