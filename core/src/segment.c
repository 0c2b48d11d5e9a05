/* Segments: SEGMENT_SIZE mappings aligned to their size, so the metadata
 * of any block is found by masking its address. A new segment starts as
 * one clean free run behind its header pages. */
#include <string.h>

#include "arena.h"
#include "owner_map.h"
#include "secure.h"

static size_t segment_header_pages(void)
{
    return align_up(sizeof(segment_t) + tai_secure_map_bytes(), tai_page) >> tai_lg_page;
}

segment_t *tai_segment_new(arena_t *a)
{
    segment_t *seg = tai_os_map_aligned(SEGMENT_SIZE, SEGMENT_SIZE);
    if (!seg)
        return NULL;
    owner_marks_t marks = {0};
    if (!tai_owner_marks_claim(&marks, seg, SEGMENT_SIZE, OWNER_HEAD)) {
        tai_os_unmap(seg, SEGMENT_SIZE);
        return NULL;
    }
    memset(seg->head.page_bin, PB_NONE, sizeof(seg->head.page_bin));
    seg->head.kind = SEG_NORMAL;
    seg->head.arena = a;
    seg->npages = (uint32_t)(SEGMENT_SIZE >> tai_lg_page);
    seg->hdr_pages = (uint32_t)segment_header_pages();
    segment_list_push(&a->segments, seg);
    size_t hdr_bytes = (size_t)seg->hdr_pages << tai_lg_page;
    ctr_add(&a->stats.mapped, SEGMENT_SIZE);
    ctr_add(&a->stats.metadata, hdr_bytes);
    ctr_add(&a->stats.retained, SEGMENT_SIZE - hdr_bytes);
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
