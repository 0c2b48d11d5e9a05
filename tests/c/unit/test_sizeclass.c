/* Unit test of sizeclass.c.
 * Size classes: the tables the fast path uses and the usable sizes the
 * public API reports must agree, cover every request, and waste at most a
 * quarter of a block above 128 bytes. */
#include "harness.h"
#include "os.h"
#include "sizeclass.h"
#include "tunalloc.h"

/* The class sizes must rise strictly, or size_class could pick a class
 * smaller than a request. */
static void test_class_sizes_increase(void)
{
    for (unsigned k = 1; k < NCACHED_CLASSES; k++)
        CHECK(tai_class_size[k] > tai_class_size[k - 1]);
    CHECK_EQ(tai_class_size[NBINS - 1], SMALL_MAX);
    CHECK(tai_class_size[NCACHED_CLASSES - 1] >= TCACHE_MAX);
}

/* harness.h names the tiers' edges for the integration tests, which
 * cannot see these headers: they must be the core's. */
static void test_harness_edges_match(void)
{
    CHECK_EQ(TEST_SMALL_MAX, SMALL_MAX);
    CHECK_EQ(TEST_TCACHE_MAX, TCACHE_MAX);
    CHECK_EQ(TEST_LARGE_MAX, LARGE_MAX);
}

/* Every size the lookup table serves maps to the smallest class that
 * holds it, and the mapping never goes down as sizes go up. */
static void test_size2class_minimal_and_monotonic(void)
{
    unsigned prev = 0;
    for (size_t s = 0; s <= TCACHE_MAX; s++) {
        unsigned c = size_class(s);
        CHECK(c < NCACHED_CLASSES);
        if (c >= NCACHED_CLASSES)
            return;
        CHECK(c >= prev);
        CHECK(tai_class_size[c] >= s);
        if (c > 0)
            CHECK(tai_class_size[c - 1] < s);
        prev = c;
    }
}

/* Slab geometry must fit inside its pages and hold at least one region. */
static void test_bin_geometry(void)
{
    for (unsigned k = 0; k < NBINS; k++) {
        const bin_info_t *b = &tai_bin_info[k];
        CHECK_EQ(b->size, tai_class_size[k]);
        CHECK(b->nregs >= 1);
        CHECK(b->slab_pages >= 1);
        CHECK((size_t)b->nregs * b->size <= (size_t)b->slab_pages * tai_page);
        CHECK(b->size % QUANTUM == 0);
    }
}

/* Each slab leaves unused at most the share of itself slab_lg_tail
 * allows, and takes the fewest pages that do: a tail of 1/16 on the
 * one-page slabs of 320 to 768 bytes cost churn-2t 1.3 MiB of its peak
 * RSS, and a slab bigger than it needs pins more pages per survivor. */
static void test_slab_tails(void)
{
    for (unsigned k = 0; k < NBINS; k++) {
        const bin_info_t *b = &tai_bin_info[k];
        unsigned lg = slab_lg_tail(b->size);
        size_t bytes = (size_t)b->slab_pages * tai_page;
        CHECK_EQ(b->nregs, bytes / b->size);
        CHECK((bytes - (size_t)b->nregs * b->size) << lg <= bytes);
        for (size_t n = 1; n < b->slab_pages; n++) {
            size_t fewer = n * tai_page;
            if (fewer / b->size >= 2)
                CHECK((fewer % b->size) << lg > fewer);
        }
    }
}

/* Large classes: lextent_size(lextent_index(s)) is the smallest class
 * holding s, four classes per doubling. */
static void test_large_classes(void)
{
    for (size_t s = SMALL_MAX + 1; s <= LARGE_MAX; s += 1 + s / 97) {
        unsigned j = lextent_index(s);
        CHECK(lextent_size(j) >= s);
        if (j > 0)
            CHECK(lextent_size(j - 1) < s);
        CHECK(lextent_size(j) - s <= s / 4);
    }
    for (unsigned j = 0; j + 1 < NLEXTENTS; j++)
        CHECK(lextent_size(j + 1) > lextent_size(j));
}

/* One request through the public API: usable >= request, bounded waste,
 * and for slab sizes exactly the class size. */
static void check_request(size_t s)
{
    char *p = ta_malloc(s);
    CHECK(p != NULL);
    if (!p)
        return;
    size_t u = ta_malloc_usable_size(p);
    CHECK(u >= s);
    if (s > 128)
        CHECK(u - s <= s / 4);
    if (s <= SMALL_MAX)
        CHECK_EQ(u, tai_class_size[size_class(s)]);
    if (s) {
        p[0] = 1;
        p[s - 1] = 2;
    }
    ta_free(p);
}

/* Sweeps 0..LARGE_MAX: every size up to 4 KiB, then a sample, plus each
 * class boundary and its neighbours. */
static void test_usable_size_sweep(void)
{
    for (size_t s = 0; s <= 4096; s++)
        check_request(s);
    for (size_t s = 4097; s <= LARGE_MAX; s += 1 + s / 53)
        check_request(s);
    for (unsigned k = 0; k < NCACHED_CLASSES; k++) {
        check_request(tai_class_size[k] - 1);
        check_request(tai_class_size[k]);
        check_request(tai_class_size[k] + 1);
    }
    for (unsigned j = 0; lextent_size(j) <= LARGE_MAX; j++) {
        check_request(lextent_size(j) - 1);
        check_request(lextent_size(j));
        check_request(lextent_size(j) + 1);
    }
    check_request(LARGE_MAX + 1);
    check_request(3 * LARGE_MAX + 12345);
}

int main(void)
{
    /* The tables are built at first use of the allocator. */
    ta_free(ta_malloc(1));
    RUN(test_class_sizes_increase);
    RUN(test_harness_edges_match);
    RUN(test_size2class_minimal_and_monotonic);
    RUN(test_bin_geometry);
    RUN(test_slab_tails);
    RUN(test_large_classes);
    RUN(test_usable_size_sweep);
    return TEST_EXIT();
}
