/* Huge blocks (above LARGE_MAX): a mapping each, header first, aligned to
 * SEGMENT_SIZE so head_of() finds the header (huge_t, huge.h). Freed mappings stay
 * cached as dirty pages until decay. A new block takes the smallest cached
 * mapping that holds it, and the whole units it does not need are cached
 * again as a mapping of their own; when none holds it, the block is mapped
 * fresh and filled with cached pages moved in by mremap (page tables move,
 * nothing is copied or faulted), then with the units of empty segments.
 * Either way a workload of varied big buffers reuses resident pages
 * instead of faulting in new ones. New segments take cached units too
 * (tai_huge_take_unit), so large runs reuse them as well. A block that
 * takes pages no resident one stood for reports it (arena_report_fresh),
 * and decay bounds the dirty pages then (decay.c). */
#include <string.h>

#include "arena.h"
#include "check.h"
#include "huge.h"
#include "owner_map.h"
#include "verify.h"

static size_t header_size(void) { return align_up(sizeof(huge_t), tai_page); }

/* Offset of the block from the header for an alignment; at SEGMENT_SIZE
 * the block starts the next segment unit, which head_of() still maps
 * back to this header. */
static size_t data_offset(size_t align)
{
    size_t hdr = header_size();
    if (align <= tai_page)
        return hdr;
    return align < SEGMENT_SIZE ? align_up(hdr, align) : SEGMENT_SIZE;
}

static size_t block_offset(const huge_t *s) { return (size_t)(s->data - (char *)s); }

static void list_add(huge_t **list, huge_t *s)
{
    TA_ASSERT(!tai_huge_listed(*list, s));
    huge_list_push(list, s);
}

static size_t capacity(const huge_t *s) { return s->map_size - block_offset(s); }

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Mappings cover whole segment units: the owner map marks units, so a
 * partly used unit would let a foreign mapping land in it and be "owned". */
static size_t map_size_for(size_t off, size_t usize) { return align_up(off + usize, SEGMENT_SIZE); }

/* Every field is written: the header page may be a reused dirty page. */
static huge_t *header_init(char *base, size_t map_size, size_t off, arena_t *a)
{
    huge_t *h = (huge_t *)base;
    memset(h->head.page_bin, PB_NONE, sizeof(h->head.page_bin));
    h->head.page_bin[off >> tai_lg_page] = PB_LARGE;
    h->head.kind = SEG_HUGE;
    h->head.arena = a;
    h->live = false;
    h->next = h->prev = NULL;
    h->map_size = map_size;
    h->data = base + off;
    h->usize = h->touched = 0;
    h->stamp = 0;
    return h;
}

/* Unmaps a mapping with no bookkeeping: the caller has taken it off its
 * list and out of the statistics. */
static void huge_unmap(huge_t *h)
{
    TA_ASSERT(tai_owner_map_unit(h) == OWNER_HEAD);
    tai_owner_map_set(h, h->map_size, OWNER_NONE);
    tai_os_unmap(h, h->map_size);
}

/* ---- the live list (arena lock held) ---------------------------------- */

/* Written pages past a live block's end, in its last unit (trim keeps
 * them): unused but resident, so counted dirty while the block is
 * listed live, and purged when decay bounds the arena's dirty pages
 * (tai_huge_purge_tails). touched and usize change only off the list. */
static size_t tail_pages(const huge_t *h) { return (h->touched - h->usize) >> tai_lg_page; }

static void live_add(arena_t *a, huge_t *h)
{
    list_add(&a->huge_live, h);
    h->live = true;
    ctr_add(&a->stats.mapped, h->map_size);
    ctr_add(&a->stats.pdirty, tail_pages(h));
    a->huge_tail_pages += tail_pages(h);
}

static void live_remove(arena_t *a, huge_t *h)
{
    huge_list_remove(&a->huge_live, h);
    ctr_sub(&a->stats.mapped, h->map_size);
    ctr_sub(&a->stats.pdirty, tail_pages(h));
    a->huge_tail_pages -= tail_pages(h);
}

/* ---- the cache of free mappings (arena lock held) -------------------- */

/* A cached mapping's usize is the dirty bytes it is counted for. */
static void cache_put(arena_t *a, huge_t *s)
{
    list_add(&a->huge_cache, s);
    ctr_add(&a->stats.pdirty, s->usize >> tai_lg_page);
    ctr_add(&a->stats.mapped, s->map_size);
}

static void cache_unlink(arena_t *a, huge_t *s)
{
    huge_list_remove(&a->huge_cache, s);
    ctr_sub(&a->stats.pdirty, s->usize >> tai_lg_page);
    ctr_sub(&a->stats.mapped, s->map_size);
}

/* Caches a free mapping unless decay is immediate; false tells the caller
 * to unmap it once the lock is dropped. */
static bool cache_keep(arena_t *a, huge_t *s)
{
    if (atomic_load_explicit(&a->dirty_decay_ms, memory_order_relaxed) == 0)
        return false;
    cache_put(a, s);
    arena_report(a, false);
    return true;
}

/* The smallest cached mapping that holds usize at offset off, unlinked. */
static huge_t *cache_take_fit(arena_t *a, size_t usize, size_t off)
{
    huge_t *best = NULL;
    for (huge_t *s = a->huge_cache; s; s = s->next) {
        if (block_offset(s) == off && capacity(s) >= usize &&
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

/* Moves an empty segment's unit (tai_extent_take_empty_segment) to dst;
 * if the kernel refuses, the unit is unmapped: it holds no block. */
static bool move_segment(char *seg, char *dst)
{
    owner_marks_t marks = {0};
    tai_owner_marks_release(&marks, seg, SEGMENT_SIZE, OWNER_HEAD);
    if (move_units(seg, SEGMENT_SIZE, dst))
        return true;
    tai_owner_marks_rollback(&marks);
    tai_segment_unmap((segment_t *)seg);
    return false;
}

/* cache_put for callers that do not hold the arena lock. */
static void cache_put_unlocked(arena_t *a, huge_t *s)
{
    mutex_lock(&a->lock);
    cache_put(a, s);
    mutex_unlock(&a->lock);
}

/* Moves cached pages over the fresh range [dst, dst+len) (whole units),
 * newest mapping first as the likeliest to be resident, taking a mapping
 * whole or its last units, then segments that hold nothing (their
 * dirty runs are freed runs' pages, resident, which would otherwise wait
 * for decay while the block faults in new ones, and the rest at least
 * needs no new mapping); returns the bytes filled from dst. The units
 * leave the owner map before they move: they are free, nobody holds a
 * pointer into them. If the kernel stops part way, the taken units it
 * did not move are unmapped: they are free pages cut off from their
 * mapping by the ones that left. *resident: of the bytes filled, those
 * that were written before (the rest are pages the kernel has yet to
 * give: a cached mapping's units past what its block wrote). */
static size_t fill_from_cache(arena_t *a, char *dst, size_t len, size_t *resident)
{
    size_t done = 0;
    *resident = 0;
    while (done < len) {
        mutex_lock(&a->lock);
        huge_t *d = a->huge_cache;
        char *seg = NULL;
        size_t seg_resident = 0;
        if (d)
            cache_unlink(a, d);
        else
            seg = tai_extent_take_empty_segment(a, &seg_resident);
        mutex_unlock(&a->lock);
        if (seg) {
            if (!move_segment(seg, dst + done))
                break;
            done += SEGMENT_SIZE;
            *resident += seg_resident;
            continue;
        }
        if (!d)
            break;
        size_t take = min_size(d->map_size, len - done);
        bool whole = take == d->map_size;
        char *src = (char *)d + d->map_size - take;
        /* read before the move: a mapping taken whole takes its header */
        char *written_end = d->data + d->touched;
        owner_marks_t marks = {0};
        tai_owner_marks_release(&marks, src, take, whole ? OWNER_HEAD : OWNER_TAIL);
        size_t moved = move_units(src, take, dst + done);
        if (moved == 0) {
            tai_owner_marks_rollback(&marks);
            cache_put_unlocked(a, d);
            break;
        }
        done += moved;
        if (written_end > src)
            *resident += min_size((size_t)(written_end - src), moved);
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

/* A fresh mapping filled from the cache as far as it holds pages;
 * *fresh: whether some of it is new pages. */
static huge_t *huge_new(arena_t *a, size_t usize, size_t align, bool zero, bool *fresh)
{
    size_t off = data_offset(align), map_size;
    char *base = map_block(off, usize, align, &map_size);
    if (!base)
        return NULL;
    owner_marks_t marks = {0};
    if (!tai_owner_marks_claim(&marks, base, map_size, OWNER_HEAD)) {
        tai_os_unmap(base, map_size);
        return NULL;
    }
    size_t resident = 0;
    size_t filled = off < SEGMENT_SIZE ? fill_from_cache(a, base, map_size, &resident) : 0;
    huge_t *h = header_init(base, map_size, off, a);
    h->usize = usize;
    h->touched = filled > off ? filled - off : 0;
    *fresh = resident < map_size;
    if (zero)
        memset(h->data, 0, min_size(h->touched, usize));
    return h;
}

/* Cuts the units from keep on off h. If they hold dirty pages they
 * become a mapping of their own (header in their first page), returned
 * for the cache; else they are unmapped. */
static huge_t *split_tail(huge_t *h, size_t keep)
{
    char *tail = (char *)h + keep, *dirty_end = h->data + h->touched;
    size_t size = h->map_size - keep, off = header_size();
    h->map_size = keep;
    if (dirty_end <= tail + off) {
        tai_owner_map_set(tail, size, OWNER_NONE);
        tai_os_unmap(tail, size);
        return NULL;
    }
    tai_owner_map_set(tail, size, OWNER_HEAD);
    huge_t *t = header_init(tail, size, off, h->head.arena);
    t->usize = t->touched = min_size((size_t)(dirty_end - t->data), capacity(t));
    t->stamp = tai_os_now_ms();
    return t;
}

/* Shrinks the block to usize, returning its whole spare units as
 * split_tail does. Dirty pages past the block's end in its last unit stay
 * with it (under one unit, and fewer than the block's own since it is
 * huge): purging them at once would make the next bigger reuse fault
 * them in again. They count as dirty while the block lives (tail_pages)
 * and go back to the cache with it, unless decay purges them first. */
static huge_t *trim(huge_t *h, size_t usize)
{
    size_t new_map = map_size_for(block_offset(h), usize);
    huge_t *tail = new_map < h->map_size ? split_tail(h, new_map) : NULL;
    h->touched = min_size(h->touched, capacity(h));
    h->usize = usize;
    return tail;
}

/* Grows the block to usize bytes: within its last unit for free, else by
 * extending its last unit's mapping in place, else by moving it; the new
 * units are filled from the cache (*mapped: not all of them). Returns the
 * (maybe moved) header, or NULL. */
COLD static huge_t *grow(huge_t *h, size_t usize, bool *mapped)
{
    *mapped = false;
    char *base = (char *)h;
    size_t off = block_offset(h), old_map = h->map_size, new_map = map_size_for(off, usize);
    if (new_map == old_map) {
        h->usize = usize;
        return h;
    }
    /* the range after us may be another of our mappings: mark it owned
     * only once the kernel gave it to this one */
    char *last = base + old_map - SEGMENT_SIZE;
    owner_marks_t marks = {0};
    if (tai_os_extend(last, SEGMENT_SIZE, SEGMENT_SIZE + new_map - old_map)) {
        if (!tai_owner_marks_claim(&marks, base + old_map, new_map - old_map, OWNER_TAIL)) {
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
        if (!tai_owner_marks_claim(&marks, moved, new_map, OWNER_HEAD)) {
            tai_os_unmap(moved, new_map);
            return NULL;
        }
        tai_owner_marks_release(&marks, base, old_map, OWNER_HEAD);
        /* read while the header is still here */
        size_t written = min_size(off + h->touched, old_map);
        size_t done = move_units(base, old_map, moved);
        if (done == 0) {
            tai_owner_marks_rollback(&marks);
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
        h = (huge_t *)moved;
        h->data = moved + off;
    }
    char *fresh = (char *)h + old_map;
    /* new_map > old_map, so the block reaches past old_map */
    size_t want = align_down(off + usize, SEGMENT_SIZE) - old_map;
    size_t resident;
    size_t filled = fill_from_cache(h->head.arena, fresh, want, &resident);
    if (filled)
        h->touched = (size_t)(fresh + filled - h->data);
    *mapped = resident < new_map - old_map;
    h->map_size = new_map;
    h->usize = usize;
    return h;
}

/* ---- entry points ----------------------------------------------------- */

/* Unmaps a mapping split off while the lock was held, once it is not. */
static void unmap_unkept(huge_t *s)
{
    if (s)
        huge_unmap(s);
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
    huge_t *h = cache_take_fit(a, usize, off), *tail = NULL;
    mutex_unlock(&a->lock);
    bool mapped = false;
    if (h) {
        tail = trim(h, usize);
        if (zero)
            memset(h->data, 0, min_size(h->touched, usize));
    } else {
        h = huge_new(a, usize, align, zero, &mapped);
    }
    /* pages past what the mapping ever wrote are not resident yet */
    if (h && h->touched < h->usize) {
        h->touched = h->usize;
        mapped = true;
    }
    mutex_lock(&a->lock);
    if (tail && cache_keep(a, tail))
        tail = NULL;
    if (h) {
        live_add(a, h);
        tai_arena_count_large(a, h->usize, true);
        if (mapped)
            arena_report_fresh(a);
    } else {
        ctr_sub(&a->stats.pactive, pages);
    }
    mutex_unlock(&a->lock);
    unmap_unkept(tail);
    return h ? h->data : NULL;
}

/* Freed huge blocks stay mapped as dirty pages for reuse unless decay is
 * immediate (or their alignment makes them unfit to move). A block freed
 * twice is cached already: listing it again would loop the cache list,
 * so its header's state is checked first. */
size_t tai_huge_dalloc(huge_t *h, void *p)
{
    arena_t *a = h->head.arena;
    mutex_lock(&a->lock);
    if (!h->live || p != h->data) {
        bool live = h->live;
        mutex_unlock(&a->lock);
        tai_heap_error(live ? TA_ERR_INTERIOR : TA_ERR_DOUBLE, p, "huge");
        return 0;
    }
    size_t usize = h->usize;
    h->live = false;
    live_remove(a, h);
    tai_arena_count_large(a, h->usize, false);
    ctr_sub(&a->stats.pactive, h->usize >> tai_lg_page);
    h->stamp = tai_os_now_ms();
    h->usize = h->touched;
    bool kept = block_offset(h) < SEGMENT_SIZE && cache_keep(a, h);
    mutex_unlock(&a->lock);
    if (!kept)
        huge_unmap(h);
    return usize;
}

void tai_huge_purge(arena_t *a, uint64_t before)
{
    huge_t *aged = NULL, *next;
    for (huge_t *s = a->huge_cache; s; s = next) {
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
    for (huge_t *s = aged; s; s = next) {
        next = s->next;
        huge_unmap(s);
    }
    mutex_lock(&a->lock);
}

/* A new segment takes the first unit of the newest cached mapping: its
 * pages are the likeliest to be resident and, from the block's start,
 * the most written (a last unit may hold a few pages of the block). The
 * units after it stay cached as a mapping of their own, with the age of
 * the whole; the unit keeps its OWNER_HEAD mark for the segment. */
void *tai_huge_take_unit(arena_t *a, size_t *dirty)
{
    huge_t *s = a->huge_cache;
    if (!s)
        return NULL;
    cache_unlink(a, s);
    char *unit = (char *)s, *dirty_end = s->data + s->touched;
    *dirty = min_size((size_t)(dirty_end - unit), SEGMENT_SIZE);
    if (s->map_size == SEGMENT_SIZE)
        return unit;
    char *rest = unit + SEGMENT_SIZE;
    size_t size = s->map_size - SEGMENT_SIZE, off = header_size();
    uint64_t stamp = s->stamp;
    /* the header is written before the unit is marked as one's start, so
     * whoever reads the mark finds it */
    huge_t *t = header_init(rest, size, off, a);
    size_t left = dirty_end > t->data ? (size_t)(dirty_end - t->data) : 0;
    t->usize = t->touched = min_size(left, capacity(t));
    t->stamp = stamp;
    owner_marks_t marks = {0};
    tai_owner_marks_claim(&marks, rest, size, OWNER_HEAD);
    cache_put(a, t);
    return unit;
}

/* The lock stays held: once the block is freed, its mapping may be
 * reused and written at once, so a purge running unlocked could wipe
 * the new block's data. */
void tai_huge_purge_tails(arena_t *a)
{
    for (huge_t *h = a->huge_live; h; h = h->next) {
        size_t pages = tail_pages(h);
        if (!pages)
            continue;
        tai_os_purge_forced(h->data + h->usize, pages << tai_lg_page);
        h->touched = h->usize;
        ctr_sub(&a->stats.pdirty, pages);
        ctr_add(&a->stats.dirty_purged, pages);
        ctr_add(&a->stats.dirty_nmadvise, 1);
        a->huge_tail_pages -= pages;
    }
}

size_t tai_huge_purge_oldest(arena_t *a, size_t pages)
{
    huge_t *old = NULL;
    for (huge_t *s = a->huge_cache; s; s = s->next)
        if (!old || s->stamp < old->stamp)
            old = s;
    if (!old)
        return 0;
    cache_unlink(a, old);
    size_t dirty = old->usize >> tai_lg_page;
    bool whole = pages >= dirty;
    if (!whole) {
        /* the last pages written go; the mapping stays cached with the
         * rest, which reads the same */
        old->usize = old->touched = (dirty - pages) << tai_lg_page;
        dirty = pages;
    }
    ctr_add(&a->stats.dirty_purged, dirty);
    ctr_add(&a->stats.dirty_nmadvise, 1);
    mutex_unlock(&a->lock);
    if (whole)
        huge_unmap(old);
    else
        tai_os_purge_forced(old->data + old->usize, pages << tai_lg_page);
    mutex_lock(&a->lock);
    if (!whole)
        cache_put(a, old);
    return dirty;
}

uint64_t tai_huge_cached_pages(const arena_t *a)
{
    uint64_t pages = 0;
    for (const huge_t *s = a->huge_cache; s; s = s->next)
        pages += s->usize >> tai_lg_page;
    return pages;
}

void tai_huge_discard(arena_t *a)
{
    huge_t *lists[2] = {a->huge_live, a->huge_cache}, *next;
    for (int k = 0; k < 2; k++)
        for (huge_t *s = lists[k]; s; s = next) {
            next = s->next;
            huge_unmap(s);
        }
    a->huge_live = a->huge_cache = NULL;
    a->huge_tail_pages = 0;
}

/* Resizes a live huge block without copying: trim, extend in place, or
 * move the mapping. Returns the block's (possibly new) address or NULL. */
COLD void *tai_huge_resize(huge_t *h, void *p, size_t size)
{
    arena_t *a = h->head.arena;
    size_t usize = align_up(size, tai_page), old = h->usize;
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
    live_remove(a, h);
    mutex_unlock(&a->lock);
    huge_t *moved = h, *tail = NULL;
    bool mapped = false;
    if (usize < old)
        tail = trim(h, usize);
    else
        moved = grow(h, usize, &mapped);
    h = moved ? moved : h;
    if (h->touched < h->usize) {
        h->touched = h->usize;
        mapped = true;
    }
    mutex_lock(&a->lock);
    if (tail && cache_keep(a, tail))
        tail = NULL;
    live_add(a, h);
    if (mapped)
        arena_report_fresh(a);
    if (moved) {
        tai_arena_count_large(a, old, false);
        tai_arena_count_large(a, usize, true);
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
