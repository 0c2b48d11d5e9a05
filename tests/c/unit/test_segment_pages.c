/* Unit test of segment.c and extent.h.
 * What a segment's header makes resident (mincore): a new segment with a
 * few small slabs writes its page tags, run heads and the slabs' free
 * maps on its header's first page, and the slabs' extents on one more,
 * two pages of its header (three while the free maps followed the
 * extents: prodcons's main thread); one in a cached huge mapping's unit
 * writes no more than it uses either. */
#include "arena.h"
#include "harness.h"
#include "residency.h"

/* One block of each of a few small classes from a new manual arena, the
 * first of its one segment's slabs. */
static void test_few_slabs_touch_two_header_pages(void)
{
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    size_t sizes[] = {16, 64, 320, 512, 4096};
    enum { N = sizeof(sizes) / sizeof(sizes[0]) };
    void *p[N];
    for (unsigned i = 0; i < N; i++)
        CHECK((p[i] = ta_arena_malloc(ar, sizes[i])) != NULL);
    segment_t *seg = ar->a.segments;
    CHECK(seg != NULL && !seg->next);
    if (seg && !thp_always()) {
        CHECK_EQ(segment_of(p[0]), seg);
        size_t hdr = (size_t)seg->hdr_pages * page_size();
        CHECK_EQ(resident_pages(seg, hdr), 2);
    }
    for (unsigned i = 0; i < N; i++)
        ta_free(p[i]);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* A new segment in the first unit of a cached huge mapping (huge.c:
 * tai_huge_take_unit), of which the block wrote one page: its header
 * reads as zero and writes the pages it uses, not all 21. */
static void test_reused_unit_header(void)
{
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    char *big = ta_arena_malloc(ar, (size_t)3 << 20);
    CHECK(big != NULL);
    if (!big)
        return;
    map_head_t *unit = head_of(big);
    big[0] = 1;
    ta_free(big);
    void *p = ta_arena_malloc(ar, 64);
    CHECK(p != NULL);
    segment_t *seg = ar->a.segments;
    CHECK(seg != NULL && (void *)seg == (void *)unit);
    if (seg && !thp_always()) {
        size_t hdr = (size_t)seg->hdr_pages * page_size();
        /* the first page, the slab's extent and the extent of the clean
         * run after the block's dirty pages */
        CHECK(resident_pages(seg, hdr) <= 3);
    }
    ta_free(p);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    ta_free(ta_malloc(1));
    RUN(test_few_slabs_touch_two_header_pages);
    RUN(test_reused_unit_header);
    return TEST_EXIT();
}
