/* Large allocations: page runs from the arena for sizes up to LARGE_MAX,
 * and above that a mapping of their own ("huge"), kept for reuse until
 * decay says otherwise. */
#include <string.h>

#include "arena.h"
#include "owner_map.h"

/* page_bin tag of a large block: its cache class when thread caches may
 * hold it, else PB_LARGE (always the slow path). */
static uint8_t large_tag(const arena_t *a, size_t usize)
{
    if (usize > TCACHE_MAX)
        return PB_LARGE;
    unsigned cls = size_class(usize);
    return (uint8_t)(a->manual ? PB_MANUAL + cls : cls);
}

/* Arena lock held; page counts are the extent layer's business. */
static void count_large(arena_t *a, size_t usize, bool alloc)
{
    large_stats_t *ls = &a->stats.lstats[lextent_index(usize)];
    if (alloc) {
        ctr_add(&ls->nmalloc, 1);
        ctr_add(&ls->nrequests, 1);
        ctr_add(&ls->curlextents, 1);
        ctr_add(&a->stats.large_allocated, usize);
    } else {
        ctr_add(&ls->ndalloc, 1);
        ctr_sub(&ls->curlextents, 1);
        ctr_sub(&a->stats.large_allocated, usize);
    }
}

static size_t huge_header_size(void)
{
    return align_up(offsetof(segment_t, page_head), ta_page);
}

/* Offset of the block from its segment header for an alignment; at
 * SEGMENT_SIZE the block starts the next segment unit, which segment_of
 * still maps back to this header. */
static size_t huge_data_offset(size_t align)
{
    size_t hdr = huge_header_size();
    if (align <= ta_page)
        return hdr;
    return align < SEGMENT_SIZE ? align_up(hdr, align) : SEGMENT_SIZE;
}

static void list_push(segment_t **list, segment_t *s)
{
    s->prev = NULL;
    s->next = *list;
    if (*list)
        (*list)->prev = s;
    *list = s;
}

static void list_remove(segment_t **list, segment_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        *list = s->next;
    if (s->next)
        s->next->prev = s->prev;
}

/* A cached mapping with the same block offset, a block aligned as asked
 * and a capacity between usize and twice that, unlinked from the cache;
 * arena lock held. */
static segment_t *huge_cache_take(arena_t *a, size_t usize, size_t off, size_t align)
{
    for (segment_t *s = a->huge_cache; s; s = s->next) {
        if ((size_t)(s->data - (char *)s) != off || ((uintptr_t)s->data & (align - 1)) ||
            s->usize < usize || s->usize / 2 > usize)
            continue;
        list_remove(&a->huge_cache, s);
        ctr_sub(&a->stats.pdirty, s->usize >> ta_lg_page);
        return s;
    }
    return NULL;
}

/* Maps a header plus usize bytes with the block at offset off aligned to
 * align; the header is always SEGMENT_SIZE aligned. */
static segment_t *huge_map(size_t off, size_t usize, size_t align, size_t *map_size)
{
    *map_size = off + usize;
    if (*map_size < usize)
        return NULL;
    if (align < SEGMENT_SIZE)
        return ta_os_map_aligned(*map_size, SEGMENT_SIZE);
    size_t total = SEGMENT_SIZE + usize + align;
    if (total < usize)
        return NULL;
    char *raw = ta_os_map(total);
    if (!raw)
        return NULL;
    char *data = (char *)align_up((uintptr_t)raw + SEGMENT_SIZE, align);
    char *base = data - SEGMENT_SIZE, *end = data + usize;
    if (base > raw)
        ta_os_unmap(raw, (size_t)(base - raw));
    if (raw + total > end)
        ta_os_unmap(end, (size_t)(raw + total - end));
    return (segment_t *)base;
}

static segment_t *huge_new(arena_t *a, size_t usize, size_t align)
{
    size_t off = huge_data_offset(align), map_size;
    segment_t *seg = huge_map(off, usize, align, &map_size);
    if (!seg)
        return NULL;
    if (!ta_owner_map_set(seg, map_size, true)) {
        ta_owner_map_set(seg, map_size, false);
        ta_os_unmap(seg, map_size);
        return NULL;
    }
    memset(seg->page_bin, PB_NONE, sizeof(seg->page_bin));
    seg->page_bin[off >> ta_lg_page] = PB_LARGE;
    seg->kind = SEG_HUGE;
    seg->arena = a;
    seg->map_base = (char *)seg;
    seg->map_size = map_size;
    seg->hdr_pages = (uint32_t)(huge_header_size() >> ta_lg_page);
    seg->data = (char *)seg + off;
    seg->usize = usize;
    return seg;
}

static void *huge_alloc(arena_t *a, size_t size, size_t align, bool zero)
{
    size_t usize = align_up(size, ta_page);
    if (usize < size || usize > ((size_t)1 << LG_HUGE_LIMIT))
        return NULL;
    mutex_lock(&a->lock);
    if (ta_arena_over_limit(a, usize >> ta_lg_page)) {
        mutex_unlock(&a->lock);
        return NULL;
    }
    segment_t *seg = huge_cache_take(a, usize, huge_data_offset(align), align ? align : 1);
    mutex_unlock(&a->lock);
    bool fresh = !seg;
    if (fresh && !(seg = huge_new(a, usize, align)))
        return NULL;
    if (!fresh && zero)
        memset(seg->data, 0, seg->usize);
    mutex_lock(&a->lock);
    if (fresh) {
        ctr_add(&a->stats.mapped, seg->map_size);
        ctr_add(&a->stats.metadata, huge_header_size());
    }
    list_push(&a->huge_live, seg);
    count_large(a, seg->usize, true);
    ctr_add(&a->stats.pactive, seg->usize >> ta_lg_page);
    ta_arena_note_active(a);
    mutex_unlock(&a->lock);
    return seg->data;
}

/* Arena lock held; the mapping is already off every list. */
static void huge_uncount(arena_t *a, segment_t *seg)
{
    ctr_sub(&a->stats.mapped, seg->map_size);
    ctr_sub(&a->stats.metadata, huge_header_size());
}

/* Freed huge blocks stay mapped as dirty pages for reuse unless decay is
 * immediate; decay unmaps them once they age. */
void ta_huge_dalloc(segment_t *seg)
{
    arena_t *a = seg->arena;
    mutex_lock(&a->lock);
    list_remove(&a->huge_live, seg);
    count_large(a, seg->usize, false);
    ctr_sub(&a->stats.pactive, seg->usize >> ta_lg_page);
    if (atomic_load_explicit(&a->dirty_decay_ms, memory_order_relaxed) == 0) {
        huge_uncount(a, seg);
        mutex_unlock(&a->lock);
        ta_segment_unmap(seg);
        return;
    }
    seg->stamp = ta_os_now_ms();
    list_push(&a->huge_cache, seg);
    ctr_add(&a->stats.pdirty, seg->usize >> ta_lg_page);
    ta_decay_tick(a);
    mutex_unlock(&a->lock);
}

void ta_huge_purge(arena_t *a, uint64_t before)
{
    segment_t *aged = NULL, *next;
    for (segment_t *s = a->huge_cache; s; s = next) {
        next = s->next;
        if (s->stamp >= before)
            continue;
        list_remove(&a->huge_cache, s);
        ctr_sub(&a->stats.pdirty, s->usize >> ta_lg_page);
        ctr_add(&a->stats.dirty_purged, s->usize >> ta_lg_page);
        ctr_add(&a->stats.dirty_nmadvise, 1);
        huge_uncount(a, s);
        s->next = aged;
        aged = s;
    }
    if (!aged)
        return;
    mutex_unlock(&a->lock);
    for (segment_t *s = aged; s; s = next) {
        next = s->next;
        ta_segment_unmap(s);
    }
    mutex_lock(&a->lock);
}

static void *run_alloc(arena_t *a, size_t usize, size_t align, bool zero)
{
    size_t npages = usize >> ta_lg_page;
    size_t align_pages = align > ta_page ? align >> ta_lg_page : 1;
    bool zeroed;
    mutex_lock(&a->lock);
    extent_t *e = ta_extent_alloc(a, npages, align_pages, &zeroed);
    if (!e) {
        mutex_unlock(&a->lock);
        return NULL;
    }
    segment_t *seg = extent_segment(e);
    e->state = EXT_LARGE;
    e->u.l.usize = usize;
    ta_extent_map(seg, e, large_tag(a, usize), false);
    count_large(a, usize, true);
    ta_decay_tick(a);
    mutex_unlock(&a->lock);
    void *p = extent_addr(seg, e);
    if (zero && !zeroed)
        memset(p, 0, usize);
    return p;
}

void *ta_large_alloc(arena_t *a, size_t size, size_t align, bool zero)
{
    if (size <= LARGE_MAX && align < SEGMENT_SIZE / 4) {
        size_t usize = align_up(large_usize(size), ta_page);
        return run_alloc(a, usize, align, zero);
    }
    return huge_alloc(a, size, align, zero);
}

void ta_large_dalloc(void *p)
{
    segment_t *seg = segment_of(p);
    if (seg->kind == SEG_HUGE) {
        ta_huge_dalloc(seg);
        return;
    }
    arena_t *a = seg->arena;
    extent_t *e = extent_of(seg, p);
    mutex_lock(&a->lock);
    count_large(a, e->u.l.usize, false);
    ta_extent_free(a, e);
    ta_decay_after_free(a);
    mutex_unlock(&a->lock);
}

size_t ta_large_usize(const void *p)
{
    segment_t *seg = segment_of(p);
    if (seg->kind == SEG_HUGE)
        return seg->usize;
    return extent_of(seg, p)->u.l.usize;
}

/* Resizes a large run within its segment, arena lock held. */
static bool run_resize(arena_t *a, segment_t *seg, extent_t *e, size_t usize)
{
    size_t old = e->u.l.usize, npages = usize >> ta_lg_page;
    bool zeroed;
    if (usize < old)
        ta_extent_shrink(a, e, npages);
    else if (!ta_extent_grow(a, e, npages, &zeroed))
        return false;
    count_large(a, old, false);
    count_large(a, usize, true);
    e->u.l.usize = usize;
    ta_extent_map(seg, e, large_tag(a, usize), false);
    return true;
}

/* Grows or shrinks a huge mapping where it stands. */
static bool huge_resize(arena_t *a, segment_t *seg, size_t usize)
{
    size_t off = (size_t)(seg->data - (char *)seg), old_map = seg->map_size;
    size_t new_map = off + usize;
    if (usize > seg->usize) {
        if (!ta_owner_map_set(seg, new_map, true))
            return false;
        if (!ta_os_extend(seg, old_map, new_map)) {
            size_t keep = align_up(old_map, SEGMENT_SIZE);
            if (new_map > keep)
                ta_owner_map_set((char *)seg + keep, new_map - keep, false);
            return false;
        }
    } else {
        ta_os_unmap((char *)seg + new_map, old_map - new_map);
        size_t keep = align_up(new_map, SEGMENT_SIZE);
        if (old_map > keep)
            ta_owner_map_set((char *)seg + keep, old_map - keep, false);
    }
    mutex_lock(&a->lock);
    count_large(a, seg->usize, false);
    count_large(a, usize, true);
    ctr_add(&a->stats.pactive, usize >> ta_lg_page);
    ctr_sub(&a->stats.pactive, seg->usize >> ta_lg_page);
    ctr_add(&a->stats.mapped, new_map);
    ctr_sub(&a->stats.mapped, old_map);
    seg->map_size = new_map;
    seg->usize = usize;
    mutex_unlock(&a->lock);
    return true;
}

void *ta_large_ralloc_in_place(void *p, size_t size)
{
    segment_t *seg = segment_of(p);
    arena_t *a = seg->arena;
    if (seg->kind == SEG_HUGE) {
        size_t usize = align_up(size, ta_page);
        if (size <= LARGE_MAX || usize < size)
            return NULL;
        if (usize == seg->usize)
            return p;
        if (usize > seg->usize && ta_arena_over_limit(a, (usize - seg->usize) >> ta_lg_page))
            return NULL;
        return huge_resize(a, seg, usize) ? p : NULL;
    }
    if (size <= SMALL_MAX || size > LARGE_MAX)
        return NULL;
    size_t usize = align_up(large_usize(size), ta_page);
    extent_t *e = extent_of(seg, p);
    if (usize == e->u.l.usize)
        return p;
    mutex_lock(&a->lock);
    bool ok = run_resize(a, seg, e, usize);
    if (ok)
        ta_decay_tick(a);
    mutex_unlock(&a->lock);
    return ok ? p : NULL;
}
