/* Unit test of segment.c and extent.h.
 * What a segment's header makes resident (mincore): a new segment with a
 * few small slabs writes its page tags, run heads and the slabs' free
 * maps on its header's first page, and the slabs' extents on one more,
 * two pages of its header (three while the free maps followed the
 * extents: prodcons's main thread). */
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

int main(void)
{
    ta_free(ta_malloc(1));
    RUN(test_few_slabs_touch_two_header_pages);
    return TEST_EXIT();
}
