/* Huge blocks (above LARGE_MAX): a mapping each, header first, aligned to
 * SEGMENT_SIZE so segment_of() still finds the header. Freed mappings
 * stay cached as dirty pages until decay; a new huge block reuses the most
 * fitting one, trimming it or growing it by moving its page tables, so a
 * workload of varied big buffers stops paying a page fault per page. */
#include <string.h>

#include "arena.h"
#include "owner_map.h"

static size_t header_size(void) { return align_up(offsetof(segment_t, page_head), ta_page); }

/* Offset of the block from the header for an alignment; at SEGMENT_SIZE
 * the block starts the next segment unit, which segment_of() still maps
 * back to this header. */
static size_t data_offset(size_t align)
{
    size_t hdr = header_size();
    if (align <= ta_page)
        return hdr;
    return align < SEGMENT_SIZE ? align_up(hdr, align) : SEGMENT_SIZE;
}

static size_t seg_offset(const segment_t *s) { return (size_t)(s->data - (char *)s); }

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

static size_t capacity(const segment_t *s) { return s->map_size - seg_offset(s); }

/* Mappings cover whole segment units: the owner map marks units, so a
 * partly used unit would let a foreign mapping land in it and be "owned". */
static size_t map_size_for(size_t off, size_t usize) { return align_up(off + usize, SEGMENT_SIZE); }

/* Maps a header plus usize bytes with the block at offset off aligned to
 * align; the header is always SEGMENT_SIZE aligned. */
static char *map_block(size_t off, size_t usize, size_t align, size_t *map_size)
{
    *map_size = map_size_for(off, usize);
    if (*map_size < usize)
        return NULL;
    if (align < SEGMENT_SIZE)
        return ta_os_map_aligned(*map_size, SEGMENT_SIZE);
    size_t total = *map_size + align;
    if (total < align)
        return NULL;
    char *raw = ta_os_map(total);
    if (!raw)
        return NULL;
    char *data = (char *)align_up((uintptr_t)raw + SEGMENT_SIZE, align);
    char *base = data - SEGMENT_SIZE, *end = base + *map_size;
    if (base > raw)
        ta_os_unmap(raw, (size_t)(base - raw));
    if (raw + total > end)
        ta_os_unmap(end, (size_t)(raw + total - end));
    return base;
}

static segment_t *huge_new(arena_t *a, size_t usize, size_t align)
{
    size_t off = data_offset(align), map_size;
    char *base = map_block(off, usize, align, &map_size);
    if (!base)
        return NULL;
    if (!ta_owner_map_set(base, map_size, OWNER_HEAD)) {
        ta_owner_map_set(base, map_size, OWNER_NONE);
        ta_os_unmap(base, map_size);
        return NULL;
    }
    segment_t *seg = (segment_t *)base;
    memset(seg->page_bin, PB_NONE, sizeof(seg->page_bin));
    seg->page_bin[off >> ta_lg_page] = PB_LARGE;
    seg->kind = SEG_HUGE;
    seg->arena = a;
    seg->map_base = base;
    seg->map_size = map_size;
    seg->hdr_pages = (uint32_t)(header_size() >> ta_lg_page);
    seg->data = base + off;
    seg->usize = usize;
    return seg;
}

/* Shrinks the block to usize: whole units past it are unmapped, and the
 * pages between it and the end of its last unit purged, so they neither
 * count as resident nor hold stale data for a later reuse. */
static void trim(segment_t *seg, size_t usize)
{
    char *base = (char *)seg;
    size_t new_map = map_size_for(seg_offset(seg), usize), old_map = seg->map_size;
    if (new_map < old_map) {
        ta_owner_map_set(base + new_map, old_map - new_map, OWNER_NONE);
        ta_os_unmap(base + new_map, old_map - new_map);
    }
    char *slack = seg->data + usize, *dirty_end = seg->data + seg->touched;
    if (dirty_end > base + new_map)
        dirty_end = base + new_map;
    if (dirty_end > slack) {
        ta_os_purge_forced(slack, (size_t)(dirty_end - slack));
        seg->touched = usize;
    }
    seg->map_size = new_map;
    seg->usize = usize;
}

/* Grows the block to usize bytes: within its last unit for free, else by
 * extending the mapping in place, else by moving it; returns the (maybe
 * moved) header, or NULL. */
static segment_t *grow(segment_t *seg, size_t usize)
{
    char *base = (char *)seg;
    size_t off = seg_offset(seg), old_map = seg->map_size, new_map = map_size_for(off, usize);
    if (new_map == old_map) {
        seg->usize = usize;
        return seg;
    }
    /* the range after us may be another of our mappings: mark it owned
     * only once the kernel gave it to this one */
    if (ta_os_extend(base, old_map, new_map)) {
        if (ta_owner_map_set(base + old_map, new_map - old_map, OWNER_TAIL)) {
            seg->map_size = new_map;
            seg->usize = usize;
            return seg;
        }
        ta_owner_map_set(base + old_map, new_map - old_map, OWNER_NONE);
        ta_os_unmap(base + old_map, new_map - old_map);
    }
    if (off >= SEGMENT_SIZE)
        return NULL;
    /* the target is reserved and marked owned before the pages move in,
     * so every failure leaves the block where it was */
    char *moved = ta_os_map_aligned(new_map, SEGMENT_SIZE);
    if (!moved)
        return NULL;
    if (!ta_owner_map_set(moved, new_map, OWNER_HEAD) ||
        !ta_os_move(base, old_map, new_map, moved)) {
        ta_owner_map_set(moved, new_map, OWNER_NONE);
        ta_os_unmap(moved, new_map);
        return NULL;
    }
    ta_owner_map_set(base, old_map, OWNER_NONE);
    seg = (segment_t *)moved;
    seg->map_base = moved;
    seg->map_size = new_map;
    seg->data = moved + off;
    seg->usize = usize;
    return seg;
}

/* The cached mapping to reuse for usize at offset off: the smallest that
 * holds it, else the largest (to grow); unlinked; arena lock held. */
static segment_t *cache_take(arena_t *a, size_t usize, size_t off)
{
    segment_t *best = NULL;
    for (segment_t *s = a->huge_cache; s; s = s->next) {
        if (seg_offset(s) != off)
            continue;
        size_t cap = capacity(s), best_cap = best ? capacity(best) : 0;
        bool fits = cap >= usize, best_fits = best && best_cap >= usize;
        if (!best || (fits && (!best_fits || cap < best_cap)) ||
            (!fits && !best_fits && cap > best_cap))
            best = s;
    }
    if (best) {
        list_remove(&a->huge_cache, best);
        ctr_sub(&a->stats.pdirty, best->usize >> ta_lg_page);
        ctr_sub(&a->stats.mapped, best->map_size);
    }
    return best;
}

/* Fits a cached mapping to usize; unmaps it and returns NULL if it
 * cannot grow. */
static segment_t *reuse(segment_t *seg, size_t usize, bool zero)
{
    size_t cap = capacity(seg);
    if (cap >= usize && cap / 2 <= usize) {
        /* close enough: its pages are already faulted in, keep them all */
        seg->usize = usize;
    } else if (cap >= usize) {
        trim(seg, usize);
    } else {
        segment_t *grown = grow(seg, usize);
        if (!grown) {
            ta_segment_unmap(seg);
            return NULL;
        }
        seg = grown;
    }
    if (zero)
        memset(seg->data, 0, seg->touched < usize ? seg->touched : usize);
    return seg;
}

void *ta_huge_alloc(arena_t *a, size_t size, size_t align, bool zero)
{
    size_t usize = align_up(size, ta_page);
    if (usize < size || usize > ((size_t)1 << LG_HUGE_LIMIT))
        return NULL;
    size_t off = data_offset(align), pages = usize >> ta_lg_page;
    mutex_lock(&a->lock);
    if (ta_arena_over_limit(a, pages)) {
        mutex_unlock(&a->lock);
        return NULL;
    }
    /* active from the limit check on, so racing requests see it too */
    ctr_add(&a->stats.pactive, pages);
    ta_arena_note_active(a);
    segment_t *seg = off < SEGMENT_SIZE ? cache_take(a, usize, off) : NULL;
    mutex_unlock(&a->lock);
    if (seg)
        seg = reuse(seg, usize, zero);
    if (!seg)
        seg = huge_new(a, usize, align);
    if (seg && seg->touched < seg->usize)
        seg->touched = seg->usize;
    mutex_lock(&a->lock);
    if (seg) {
        ctr_add(&a->stats.mapped, seg->map_size);
        list_push(&a->huge_live, seg);
        ta_count_large(a, seg->usize, true);
    } else {
        ctr_sub(&a->stats.pactive, pages);
    }
    mutex_unlock(&a->lock);
    return seg ? seg->data : NULL;
}

/* Freed huge blocks stay mapped as dirty pages for reuse unless decay is
 * immediate (or their alignment makes them unfit to move). */
void ta_huge_dalloc(segment_t *seg)
{
    arena_t *a = seg->arena;
    mutex_lock(&a->lock);
    list_remove(&a->huge_live, seg);
    ta_count_large(a, seg->usize, false);
    ctr_sub(&a->stats.pactive, seg->usize >> ta_lg_page);
    if (atomic_load_explicit(&a->dirty_decay_ms, memory_order_relaxed) == 0 ||
        seg_offset(seg) >= SEGMENT_SIZE) {
        ctr_sub(&a->stats.mapped, seg->map_size);
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
        ctr_sub(&a->stats.mapped, s->map_size);
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

/* Resizes a live huge block without copying: trim, extend in place, or
 * move the mapping. Returns the block's (possibly new) address or NULL. */
void *ta_huge_resize(void *p, size_t size)
{
    segment_t *seg = segment_of(p);
    arena_t *a = seg->arena;
    size_t usize = align_up(size, ta_page), old = seg->usize;
    if (size <= LARGE_MAX || usize < size || usize > ((size_t)1 << LG_HUGE_LIMIT))
        return NULL;
    if (usize == old)
        return p;
    size_t more = usize > old ? (usize - old) >> ta_lg_page : 0;
    mutex_lock(&a->lock);
    if (more && ta_arena_over_limit(a, more)) {
        mutex_unlock(&a->lock);
        return NULL;
    }
    /* growth counts as active from the limit check on, as in alloc */
    ctr_add(&a->stats.pactive, more);
    list_remove(&a->huge_live, seg);
    ctr_sub(&a->stats.mapped, seg->map_size);
    mutex_unlock(&a->lock);
    segment_t *moved = seg;
    if (usize < old)
        trim(seg, usize);
    else
        moved = grow(seg, usize);
    seg = moved ? moved : seg;
    if (seg->touched < seg->usize)
        seg->touched = seg->usize;
    mutex_lock(&a->lock);
    list_push(&a->huge_live, seg);
    ctr_add(&a->stats.mapped, seg->map_size);
    if (moved) {
        ta_count_large(a, old, false);
        ta_count_large(a, usize, true);
        if (usize < old)
            ctr_sub(&a->stats.pactive, (old - usize) >> ta_lg_page);
        ta_arena_note_active(a);
    } else {
        ctr_sub(&a->stats.pactive, more);
    }
    mutex_unlock(&a->lock);
    return moved ? moved->data : NULL;
}
