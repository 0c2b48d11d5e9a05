/* Huge blocks (above LARGE_MAX): a mapping each, header first, aligned to
 * SEGMENT_SIZE so segment_of() still finds the header. Freed mappings stay
 * cached as dirty pages until decay. A new block takes the smallest cached
 * mapping that holds it, and the whole units it does not need are cached
 * again as a mapping of their own; when none holds it, the block is mapped
 * fresh and filled with cached pages moved in by mremap (page tables move,
 * nothing is copied or faulted). Either way a workload of varied big
 * buffers reuses resident pages instead of faulting in new ones. */
#include <string.h>

#include "arena.h"
#include "check.h"
#include "decay.h"
#include "huge.h"
#include "large.h"
#include "owner_map.h"
#include "verify.h"

static size_t header_size(void) { return align_up(offsetof(segment_t, page_head), tai_page); }

/* Offset of the block from the header for an alignment; at SEGMENT_SIZE
 * the block starts the next segment unit, which segment_of() still maps
 * back to this header. */
static size_t data_offset(size_t align)
{
    size_t hdr = header_size();
    if (align <= tai_page)
        return hdr;
    return align < SEGMENT_SIZE ? align_up(hdr, align) : SEGMENT_SIZE;
}

static size_t seg_offset(const segment_t *s) { return (size_t)(s->data - (char *)s); }

static void huge_list_push(segment_t **list, segment_t *s)
{
    TA_ASSERT(!tai_segment_listed(*list, s));
    segment_list_push(list, s);
}

static size_t capacity(const segment_t *s) { return s->map_size - seg_offset(s); }

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Mappings cover whole segment units: the owner map marks units, so a
 * partly used unit would let a foreign mapping land in it and be "owned". */
static size_t map_size_for(size_t off, size_t usize) { return align_up(off + usize, SEGMENT_SIZE); }

/* Every field is written: the header page may be a reused dirty page. */
static segment_t *header_init(char *base, size_t map_size, size_t off, arena_t *a)
{
    segment_t *seg = (segment_t *)base;
    memset(seg->page_bin, PB_NONE, sizeof(seg->page_bin));
    seg->page_bin[off >> tai_lg_page] = PB_LARGE;
    seg->kind = SEG_HUGE;
    seg->live = false;
    seg->arena = a;
    seg->next = seg->prev = NULL;
    seg->map_base = base;
    seg->map_size = map_size;
    seg->npages = 0;
    seg->hdr_pages = (uint32_t)(header_size() >> tai_lg_page);
    seg->data = base + off;
    seg->usize = seg->touched = 0;
    seg->stamp = 0;
    return seg;
}

/* ---- owner-map marks ------------------------------------------------- */

/* The owner-map marks a step changes, undone together if it fails: a
 * range claimed for a mapping (its units marked before anything can
 * point into it) and a range released while its pages move away (a unit
 * that left may be mapped by someone else at once). Rollback clears the
 * claim and puts the released marks back; on success the marks simply
 * stay. Zero-initialised: nothing held. */
typedef struct owner_marks {
    char *claimed, *released;
    size_t claimed_size, released_size;
    uint8_t released_first;
} owner_marks_t;

/* Marks [p, p+size): first unit first, the rest OWNER_TAIL. False, with
 * nothing marked, if the range lies outside the map. */
static bool marks_claim(owner_marks_t *m, char *p, size_t size, uint8_t first)
{
    if (!tai_owner_map_set(p, size, first)) {
        tai_owner_map_set(p, size, OWNER_NONE);
        return false;
    }
    m->claimed = p;
    m->claimed_size = size;
    return true;
}

/* Unmarks [p, p+size), whose first unit was marked first. */
static void marks_release(owner_marks_t *m, char *p, size_t size, uint8_t first)
{
    tai_owner_map_set(p, size, OWNER_NONE);
    m->released = p;
    m->released_size = size;
    m->released_first = first;
}

static void marks_rollback(const owner_marks_t *m)
{
    if (m->released)
        tai_owner_map_set(m->released, m->released_size, m->released_first);
    if (m->claimed)
        tai_owner_map_set(m->claimed, m->claimed_size, OWNER_NONE);
}

/* ---- the cache of free mappings (arena lock held) -------------------- */

/* A cached mapping's usize is the dirty bytes it is counted for. */
static void cache_put(arena_t *a, segment_t *s)
{
    huge_list_push(&a->huge_cache, s);
    ctr_add(&a->stats.pdirty, s->usize >> tai_lg_page);
    ctr_add(&a->stats.mapped, s->map_size);
}

static void cache_unlink(arena_t *a, segment_t *s)
{
    segment_list_remove(&a->huge_cache, s);
    ctr_sub(&a->stats.pdirty, s->usize >> tai_lg_page);
    ctr_sub(&a->stats.mapped, s->map_size);
}

/* Caches a free mapping unless decay is immediate; false tells the caller
 * to unmap it once the lock is dropped. */
static bool cache_keep(arena_t *a, segment_t *s)
{
    if (atomic_load_explicit(&a->dirty_decay_ms, memory_order_relaxed) == 0)
        return false;
    cache_put(a, s);
    tai_decay_tick(a);
    return true;
}

/* The smallest cached mapping that holds usize at offset off, unlinked. */
static segment_t *cache_take_fit(arena_t *a, size_t usize, size_t off)
{
    segment_t *best = NULL;
    for (segment_t *s = a->huge_cache; s; s = s->next) {
        if (seg_offset(s) == off && capacity(s) >= usize &&
            (!best || capacity(s) < capacity(best)))
            best = s;
    }
    if (best)
        cache_unlink(a, best);
    return best;
}

/* ---- moving pages ----------------------------------------------------- */

/* mremap moves pages within one VMA only, and a block filled from several
 * mappings spans several, each whole units: when one call fails, unit by
 * unit. Returns the bytes moved from the start. A unit that has left src
 * is never moved back: another thread's mapping may already sit where it
 * was, and a fixed mremap would silently replace it. */
static size_t move_units(char *src, size_t len, char *dst)
{
    if (tai_os_move(src, len, len, dst))
        return len;
    size_t done = 0;
    while (done < len && tai_os_move(src + done, SEGMENT_SIZE, SEGMENT_SIZE, dst + done))
        done += SEGMENT_SIZE;
    return done;
}

/* cache_put for callers that do not hold the arena lock. */
static void cache_put_unlocked(arena_t *a, segment_t *s)
{
    mutex_lock(&a->lock);
    cache_put(a, s);
    mutex_unlock(&a->lock);
}

/* Moves cached pages over the fresh range [dst, dst+len) (whole units),
 * newest mapping first as the likeliest to be resident, taking a mapping
 * whole or its last units; returns the bytes filled from dst. The units
 * leave the owner map before they move: they are free, nobody holds a
 * pointer into them. If the kernel stops part way, the taken units it
 * did not move are unmapped: they are free pages cut off from their
 * mapping by the ones that left. */
static size_t fill_from_cache(arena_t *a, char *dst, size_t len)
{
    size_t done = 0;
    while (done < len) {
        mutex_lock(&a->lock);
        segment_t *d = a->huge_cache;
        if (d)
            cache_unlink(a, d);
        mutex_unlock(&a->lock);
        if (!d)
            break;
        size_t take = min_size(d->map_size, len - done);
        bool whole = take == d->map_size;
        char *src = (char *)d + d->map_size - take;
        owner_marks_t marks = {0};
        marks_release(&marks, src, take, whole ? OWNER_HEAD : OWNER_TAIL);
        size_t moved = move_units(src, take, dst + done);
        if (moved == 0) {
            marks_rollback(&marks);
            cache_put_unlocked(a, d);
            break;
        }
        done += moved;
        if (moved < take)
            tai_os_unmap(src + moved, take - moved);
        if (!whole) {
            d->map_size -= take;
            d->usize = min_size(d->usize, capacity(d));
            d->touched = min_size(d->touched, capacity(d));
            cache_put_unlocked(a, d);
        }
        if (moved < take)
            break;
    }
    return done;
}

/* ---- making, trimming and growing blocks ------------------------------ */

/* Maps a header plus usize bytes with the block at offset off aligned to
 * align; the header is always SEGMENT_SIZE aligned. */
static char *map_block(size_t off, size_t usize, size_t align, size_t *map_size)
{
    *map_size = map_size_for(off, usize);
    if (*map_size < usize)
        return NULL;
    if (align < SEGMENT_SIZE)
        return tai_os_map_aligned(*map_size, SEGMENT_SIZE);
    size_t total = *map_size + align;
    if (total < align)
        return NULL;
    char *raw = tai_os_map(total);
    if (!raw)
        return NULL;
    char *data = (char *)align_up((uintptr_t)raw + SEGMENT_SIZE, align);
    char *base = data - SEGMENT_SIZE, *end = base + *map_size;
    if (base > raw)
        tai_os_unmap(raw, (size_t)(base - raw));
    if (raw + total > end)
        tai_os_unmap(end, (size_t)(raw + total - end));
    return base;
}

/* A fresh mapping whose units wholly inside the block are filled from
 * the cache; the last, partly used unit stays fresh so no dirty page sits
 * unused past the block's end. */
static segment_t *huge_new(arena_t *a, size_t usize, size_t align, bool zero)
{
    size_t off = data_offset(align), map_size;
    char *base = map_block(off, usize, align, &map_size);
    if (!base)
        return NULL;
    owner_marks_t marks = {0};
    if (!marks_claim(&marks, base, map_size, OWNER_HEAD)) {
        tai_os_unmap(base, map_size);
        return NULL;
    }
    size_t filled = off < SEGMENT_SIZE ? fill_from_cache(a, base, map_size) : 0;
    segment_t *seg = header_init(base, map_size, off, a);
    seg->usize = usize;
    seg->touched = filled > off ? filled - off : 0;
    if (zero)
        memset(seg->data, 0, min_size(seg->touched, usize));
    return seg;
}

/* Cuts the units from keep on off seg. If they hold dirty pages they
 * become a mapping of their own (header in their first page), returned
 * for the cache; else they are unmapped. */
static segment_t *split_tail(segment_t *seg, size_t keep)
{
    char *tail = (char *)seg + keep, *dirty_end = seg->data + seg->touched;
    size_t size = seg->map_size - keep, off = header_size();
    seg->map_size = keep;
    if (dirty_end <= tail + off) {
        tai_owner_map_set(tail, size, OWNER_NONE);
        tai_os_unmap(tail, size);
        return NULL;
    }
    tai_owner_map_set(tail, size, OWNER_HEAD);
    segment_t *t = header_init(tail, size, off, seg->arena);
    t->usize = t->touched = min_size((size_t)(dirty_end - t->data), capacity(t));
    t->stamp = tai_os_now_ms();
    return t;
}

/* Shrinks the block to usize, returning its whole spare units as
 * split_tail does. Dirty pages past the block's end in its last unit stay
 * with it (under one unit, and fewer than the block's own since it is
 * huge): purging them would only make the next bigger reuse fault them in
 * again. They go back to the cache with the block. */
static segment_t *trim(segment_t *seg, size_t usize)
{
    size_t new_map = map_size_for(seg_offset(seg), usize);
    segment_t *tail = new_map < seg->map_size ? split_tail(seg, new_map) : NULL;
    seg->touched = min_size(seg->touched, capacity(seg));
    seg->usize = usize;
    return tail;
}

/* Grows the block to usize bytes: within its last unit for free, else by
 * extending its last unit's mapping in place, else by moving it; the new
 * units are filled from the cache. Returns the (maybe moved) header, or
 * NULL. */
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
    char *last = base + old_map - SEGMENT_SIZE;
    owner_marks_t marks = {0};
    if (tai_os_extend(last, SEGMENT_SIZE, SEGMENT_SIZE + new_map - old_map)) {
        if (!marks_claim(&marks, base + old_map, new_map - old_map, OWNER_TAIL)) {
            tai_os_unmap(base + old_map, new_map - old_map);
            return NULL;
        }
    } else {
        if (off >= SEGMENT_SIZE)
            return NULL;
        /* the target is reserved and marked owned before the pages move
         * in, so every failure leaves the block where it was; the old
         * range leaves the owner map before the pages leave it, since
         * from then on another mapping may land there and mark itself */
        char *moved = tai_os_map_aligned(new_map, SEGMENT_SIZE);
        if (!moved)
            return NULL;
        if (!marks_claim(&marks, moved, new_map, OWNER_HEAD)) {
            tai_os_unmap(moved, new_map);
            return NULL;
        }
        marks_release(&marks, base, old_map, OWNER_HEAD);
        /* read while the header is still here */
        size_t written = min_size(off + seg->touched, old_map);
        size_t done = move_units(base, old_map, moved);
        if (done == 0) {
            marks_rollback(&marks);
            tai_os_unmap(moved, new_map);
            return NULL;
        }
        /* stopped part way: the units that moved cannot go back, so the
         * rest of the block is copied after them (past the pages it ever
         * wrote, both sides read as zero) */
        if (written > done)
            memcpy(moved + done, base + done, written - done);
        if (done < old_map)
            tai_os_unmap(base + done, old_map - done);
        seg = (segment_t *)moved;
        seg->map_base = moved;
        seg->data = moved + off;
    }
    char *fresh = (char *)seg + old_map;
    /* new_map > old_map, so the block reaches past old_map */
    size_t filled = fill_from_cache(seg->arena, fresh, align_down(off + usize, SEGMENT_SIZE) - old_map);
    if (filled)
        seg->touched = (size_t)(fresh + filled - seg->data);
    seg->map_size = new_map;
    seg->usize = usize;
    return seg;
}

/* ---- entry points ----------------------------------------------------- */

/* Unmaps a mapping split off while the lock was held, once it is not. */
static void unmap_unkept(segment_t *s)
{
    if (s)
        tai_segment_unmap(s);
}

void *tai_huge_alloc(arena_t *a, size_t size, size_t align, bool zero)
{
    size_t usize = align_up(size, tai_page);
    if (usize < size || usize > ((size_t)1 << LG_HUGE_LIMIT))
        return NULL;
    size_t off = data_offset(align), pages = usize >> tai_lg_page;
    mutex_lock(&a->lock);
    if (tai_arena_over_limit(a, pages)) {
        mutex_unlock(&a->lock);
        return NULL;
    }
    /* active from the limit check on, so racing requests see it too */
    ctr_add(&a->stats.pactive, pages);
    tai_arena_note_active(a);
    segment_t *seg = cache_take_fit(a, usize, off), *tail = NULL;
    mutex_unlock(&a->lock);
    if (seg) {
        tail = trim(seg, usize);
        if (zero)
            memset(seg->data, 0, min_size(seg->touched, usize));
    } else {
        seg = huge_new(a, usize, align, zero);
    }
    if (seg && seg->touched < seg->usize)
        seg->touched = seg->usize;
    mutex_lock(&a->lock);
    if (tail && cache_keep(a, tail))
        tail = NULL;
    if (seg) {
        ctr_add(&a->stats.mapped, seg->map_size);
        huge_list_push(&a->huge_live, seg);
        seg->live = true;
        tai_count_large(a, seg->usize, true);
    } else {
        ctr_sub(&a->stats.pactive, pages);
    }
    mutex_unlock(&a->lock);
    unmap_unkept(tail);
    return seg ? seg->data : NULL;
}

/* Freed huge blocks stay mapped as dirty pages for reuse unless decay is
 * immediate (or their alignment makes them unfit to move). A block freed
 * twice is cached already: listing it again would loop the cache list,
 * so its header's state is checked first. */
size_t tai_huge_dalloc(segment_t *seg, void *p)
{
    arena_t *a = seg->arena;
    mutex_lock(&a->lock);
    if (!seg->live || p != seg->data) {
        bool live = seg->live;
        mutex_unlock(&a->lock);
        tai_heap_error(live ? TA_ERR_INTERIOR : TA_ERR_DOUBLE, p, "huge");
        return 0;
    }
    size_t usize = seg->usize;
    seg->live = false;
    segment_list_remove(&a->huge_live, seg);
    tai_count_large(a, seg->usize, false);
    ctr_sub(&a->stats.pactive, seg->usize >> tai_lg_page);
    ctr_sub(&a->stats.mapped, seg->map_size);
    seg->stamp = tai_os_now_ms();
    seg->usize = seg->touched;
    bool kept = seg_offset(seg) < SEGMENT_SIZE && cache_keep(a, seg);
    mutex_unlock(&a->lock);
    if (!kept)
        tai_segment_unmap(seg);
    return usize;
}

void tai_huge_purge(arena_t *a, uint64_t before)
{
    segment_t *aged = NULL, *next;
    for (segment_t *s = a->huge_cache; s; s = next) {
        next = s->next;
        if (s->stamp >= before)
            continue;
        cache_unlink(a, s);
        ctr_add(&a->stats.dirty_purged, s->usize >> tai_lg_page);
        ctr_add(&a->stats.dirty_nmadvise, 1);
        s->next = aged;
        aged = s;
    }
    if (!aged)
        return;
    mutex_unlock(&a->lock);
    for (segment_t *s = aged; s; s = next) {
        next = s->next;
        tai_segment_unmap(s);
    }
    mutex_lock(&a->lock);
}

/* Resizes a live huge block without copying: trim, extend in place, or
 * move the mapping. Returns the block's (possibly new) address or NULL. */
void *tai_huge_resize(segment_t *seg, void *p, size_t size)
{
    arena_t *a = seg->arena;
    size_t usize = align_up(size, tai_page), old = seg->usize;
    if (size <= LARGE_MAX || usize < size || usize > ((size_t)1 << LG_HUGE_LIMIT))
        return NULL;
    if (usize == old)
        return p;
    size_t more = usize > old ? (usize - old) >> tai_lg_page : 0;
    mutex_lock(&a->lock);
    if (more && tai_arena_over_limit(a, more)) {
        mutex_unlock(&a->lock);
        return NULL;
    }
    /* growth counts as active from the limit check on, as in alloc */
    ctr_add(&a->stats.pactive, more);
    segment_list_remove(&a->huge_live, seg);
    ctr_sub(&a->stats.mapped, seg->map_size);
    mutex_unlock(&a->lock);
    segment_t *moved = seg, *tail = NULL;
    if (usize < old)
        tail = trim(seg, usize);
    else
        moved = grow(seg, usize);
    seg = moved ? moved : seg;
    if (seg->touched < seg->usize)
        seg->touched = seg->usize;
    mutex_lock(&a->lock);
    if (tail && cache_keep(a, tail))
        tail = NULL;
    huge_list_push(&a->huge_live, seg);
    ctr_add(&a->stats.mapped, seg->map_size);
    if (moved) {
        tai_count_large(a, old, false);
        tai_count_large(a, usize, true);
        if (usize < old)
            ctr_sub(&a->stats.pactive, (old - usize) >> tai_lg_page);
        tai_arena_note_active(a);
    } else {
        ctr_sub(&a->stats.pactive, more);
    }
    mutex_unlock(&a->lock);
    unmap_unkept(tail);
    return moved ? moved->data : NULL;
}
