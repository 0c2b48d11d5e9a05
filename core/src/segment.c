/* Segments: SEGMENT_SIZE mappings aligned to their size, so the metadata
 * of any block is found by masking its address. A new segment's pages
 * behind its header are free: dirty as far as a reused unit was written,
 * clean after. */
#include <string.h>

#include "arena.h"
#include "huge.h"
#include "owner_map.h"
#include "secure.h"

static size_t segment_header_pages(void)
{
    return align_up(sizeof(segment_t) + tai_secure_map_bytes(), tai_page) >> tai_lg_page;
}

/* A unit of the cached huge mappings comes first: its pages are resident
 * already, and large runs carved from it reuse them instead of faulting
 * in new ones while the cache waits for decay (numpy's big buffers freed
 * beside growing mid-size ones, docs/python.md). */
segment_t *tai_segment_new(arena_t *a, size_t *dirty_pages)
{
    size_t hdr_bytes = segment_header_pages() << tai_lg_page, dirty = 0;
    segment_t *seg = tai_huge_take_unit(a, &dirty);
    if (seg) {
        /* a fresh mapping's header reads as zero, and the runs' fields
         * and slab maps start from that: so does a purged one, whose
         * pages come back as the header uses them (two for a few slabs,
         * extent.h), where clearing it wrote all of them (84 KiB with
         * 4 KiB pages) */
        tai_os_purge_forced(seg, hdr_bytes);
    } else {
        seg = tai_os_map_aligned(SEGMENT_SIZE, SEGMENT_SIZE);
        if (!seg)
            return NULL;
        owner_marks_t marks = {0};
        if (!tai_owner_marks_claim(&marks, seg, SEGMENT_SIZE, OWNER_HEAD)) {
            tai_os_unmap(seg, SEGMENT_SIZE);
            return NULL;
        }
    }
    if (a->huge_pages)
        tai_os_huge_pages(seg, SEGMENT_SIZE);
    memset(seg->head.page_bin, PB_NONE, sizeof(seg->head.page_bin));
    seg->head.kind = SEG_NORMAL;
    seg->head.arena = a;
    seg->npages = (uint32_t)(SEGMENT_SIZE >> tai_lg_page);
    seg->hdr_pages = (uint32_t)(hdr_bytes >> tai_lg_page);
    segment_list_push(&a->segments, seg);
    *dirty_pages = dirty > hdr_bytes ? (align_up(dirty, tai_page) - hdr_bytes) >> tai_lg_page : 0;
    ctr_add(&a->stats.mapped, SEGMENT_SIZE);
    ctr_add(&a->stats.metadata, hdr_bytes);
    return seg;
}

/* Unmaps a segment with no bookkeeping: the caller has dropped it from
 * every list and statistic. */
void tai_segment_unmap(segment_t *seg)
{
    TA_ASSERT(tai_owner_map_unit(seg) == OWNER_HEAD);
    tai_owner_map_set(seg, SEGMENT_SIZE, OWNER_NONE);
    tai_os_unmap(seg, SEGMENT_SIZE);
}
