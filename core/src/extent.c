/* Page runs inside segments: allocation by size class of page counts,
 * splitting, coalescing with free neighbours of the same state, and the
 * age-ordered lists that decay purges from. All under the arena lock. */
#include <string.h>

#include "arena.h"
#include "secure.h"

/* Free-run size class: exact for 1..8 pages, then four per doubling. */
static unsigned page_class(size_t n)
{
    TA_ASSERT(n && n <= MAX_SEGMENT_PAGES);
    if (n <= 8)
        return (unsigned)n - 1;
    size_t x = n - 1;
    unsigned lg = 63u - (unsigned)__builtin_clzll((unsigned long long)x);
    return 8 + (lg - 3) * 4 + (unsigned)((x >> (lg - 2)) & 3);
}

/* The lists are kept with a mask of the non-empty ones, so a search for
 * a bigger class is one count-trailing-zeros, not a scan. */
static void avail_push(arena_t *a, extent_t *e)
{
    unsigned c = page_class(e->npages);
    a->avail_mask[e->state] |= (uint64_t)1 << c;
    extent_list_push(&a->avail[e->state][c], e);
}

static void avail_remove(arena_t *a, extent_t *e)
{
    unsigned c = page_class(e->npages);
    extent_list_remove(&a->avail[e->state][c], e);
    if (!a->avail[e->state][c])
        a->avail_mask[e->state] &= ~((uint64_t)1 << c);
}

static extent_t *lru_of(arena_t *a, unsigned state)
{
    return &a->lru[state == EXT_DIRTY ? 0 : 1];
}

static counter_t *free_pages_counter(arena_t *a, unsigned state)
{
    return state == EXT_DIRTY ? &a->stats.pdirty
         : state == EXT_MUZZY ? &a->stats.pmuzzy : &a->stats.retained;
}

/* Clean pages are counted in bytes (retained), the others in pages. */
static void count_free(arena_t *a, unsigned state, size_t npages, bool add)
{
    uint64_t v = state == EXT_CLEAN ? (uint64_t)npages << tai_lg_page : npages;
    if (add)
        ctr_add(free_pages_counter(a, state), v);
    else
        ctr_sub(free_pages_counter(a, state), v);
}

/* Makes page_head of the run's first and last page point at its head. */
static void mark_ends(segment_t *seg, extent_t *e)
{
    size_t head = extent_page(e);
    seg->page_head[head] = (uint16_t)head;
    seg->page_head[head + e->npages - 1] = (uint16_t)head;
}

/* Takes a free run off every list. */
static void unlink_free(arena_t *a, extent_t *e)
{
    avail_remove(a, e);
    if (e->state != EXT_CLEAN)
        extent_lru_remove(e);
}

/* The run made of npages pages starting at page index idx. */
static extent_t *run_at(segment_t *seg, size_t idx, size_t npages)
{
    extent_t *e = &seg->ext[idx];
    e->npages = (uint16_t)npages;
    return e;
}

/* Lists a free run, first merging it with free neighbours of its state;
 * the merged run counts as freed at `stamp`. */
static extent_t *insert_free(arena_t *a, segment_t *seg, extent_t *e, unsigned state,
                             uint64_t stamp)
{
    TA_ASSERT(state < NFREE_STATES && e->state >= NFREE_STATES);
    size_t idx = extent_page(e), n = e->npages;
    if (idx > seg->hdr_pages) {
        extent_t *left = &seg->ext[seg->page_head[idx - 1]];
        if (left->state == state) {
            unlink_free(a, left);
            idx = extent_page(left);
            n += left->npages;
        }
    }
    if (idx + n < seg->npages) {
        extent_t *right = &seg->ext[idx + n];
        if (right->state == state) {
            unlink_free(a, right);
            n += right->npages;
        }
    }
    e = run_at(seg, idx, n);
    e->state = (uint8_t)state;
    mark_ends(seg, e);
    avail_push(a, e);
    if (state != EXT_CLEAN) {
        e->u.f.stamp = stamp;
        extent_lru_insert_after(lru_of(a, state)->u.f.lru_prev, e);
    }
    return e;
}

/* Lists the remainder of a split run where the original stood in age
 * order, without merging (its neighbours are in use). */
static void insert_remainder(arena_t *a, segment_t *seg, size_t idx, size_t n, unsigned state,
                             uint64_t stamp, extent_t *lru_pos)
{
    extent_t *r = run_at(seg, idx, n);
    r->state = (uint8_t)state;
    mark_ends(seg, r);
    avail_push(a, r);
    if (state != EXT_CLEAN) {
        r->u.f.stamp = stamp;
        extent_lru_insert_after(lru_pos, r);
    }
}

/* First fit in the smallest class that can hold n pages. */
static extent_t *find_fit(arena_t *a, unsigned state, size_t n)
{
    unsigned c = page_class(n);
    for (extent_t *e = a->avail[state][c]; e; e = e->next)
        if (e->npages >= n)
            return e;
    uint64_t m = a->avail_mask[state] & ~(((uint64_t)2 << c) - 1);
    if (!m)
        return NULL;
    return a->avail[state][__builtin_ctzll(m)];
}

bool tai_arena_over_limit(arena_t *a, size_t extra_pages)
{
    size_t limit = atomic_load_explicit(&a->limit, memory_order_relaxed);
    if (!limit)
        return false;
    uint64_t active = (ctr_get(&a->stats.pactive) + extra_pages) << tai_lg_page;
    return active > limit;
}

/* Carves [idx+lead, idx+lead+n) out of the free run e; the pieces around
 * it stay free in e's state and age position. */
static extent_t *carve(arena_t *a, extent_t *e, size_t lead, size_t n)
{
    segment_t *seg = extent_segment(e);
    size_t idx = extent_page(e), total = e->npages;
    unsigned state = e->state;
    TA_ASSERT(state < NFREE_STATES && lead + n <= total);
    uint64_t stamp = state == EXT_CLEAN ? 0 : e->u.f.stamp;
    extent_t *lru_pos = state == EXT_CLEAN ? NULL : e->u.f.lru_prev;
    unlink_free(a, e);
    count_free(a, state, n, false);
    size_t trail = total - lead - n;
    if (trail)
        insert_remainder(a, seg, idx + lead + n, trail, state, stamp, lru_pos);
    if (lead)
        insert_remainder(a, seg, idx, lead, state, stamp, lru_pos);
    extent_t *out = run_at(seg, idx + lead, n);
    out->state = EXT_BUSY;
    mark_ends(seg, out);
    return out;
}

/* Lists a new segment's free pages as a dirty run (what a reused unit
 * may hold resident) and a clean one, newest in age order; if neither
 * alone holds need pages, all as dirty, so the request still fits.
 * Returns the run to carve from, dirty first, or NULL. */
static extent_t *list_new_segment(arena_t *a, size_t need)
{
    size_t dirty;
    segment_t *seg = tai_segment_new(a, &dirty);
    if (!seg)
        return NULL;
    size_t hdr = seg->hdr_pages, total = seg->npages - hdr;
    if (dirty > total || (dirty && dirty < need && total - dirty < need)) {
        /* counted dirty, yet some are not resident */
        if (dirty < total)
            arena_report_fresh(a);
        dirty = total;
    }
    extent_t *d = NULL, *c = NULL;
    if (dirty) {
        count_free(a, EXT_DIRTY, dirty, true);
        insert_remainder(a, seg, hdr, dirty, EXT_DIRTY, tai_os_now_ms(),
                         lru_of(a, EXT_DIRTY)->u.f.lru_prev);
        d = &seg->ext[hdr];
    }
    if (dirty < total) {
        count_free(a, EXT_CLEAN, total - dirty, true);
        insert_remainder(a, seg, hdr + dirty, total - dirty, EXT_CLEAN, 0, NULL);
        c = &seg->ext[hdr + dirty];
    }
    return d && d->npages >= need ? d : c && c->npages >= need ? c : NULL;
}

/* Whether the free run e starts right after a large run. Its first pages
 * are then that run's room to grow where it stands (a realloc of a
 * growing buffer: Python's lists grow an eighth at a time, a large class
 * boundary every second or third time), so whatever else it holds is
 * carved from its far end. Carved from the near end, the next slab took
 * the page after the run at once, and each growth past a class boundary
 * moved and copied the whole run. */
static bool follows_large(const extent_t *e)
{
    const segment_t *seg = extent_segment(e);
    size_t idx = extent_page(e);
    return idx > seg->hdr_pages && seg->ext[seg->page_head[idx - 1]].state == EXT_LARGE;
}

extent_t *tai_extent_alloc_room(arena_t *a, size_t npages, size_t align_pages, size_t room,
                                bool *zeroed)
{
    if (tai_arena_over_limit(a, npages))
        return NULL;
    size_t need = npages + align_pages - 1;
    /* resident pages with room after the run, then any resident pages */
    extent_t *e = room ? find_fit(a, EXT_DIRTY, need + room) : NULL;
    if (!e)
        e = find_fit(a, EXT_DIRTY, need);
    if (!e)
        e = find_fit(a, EXT_MUZZY, need);
    /* resident pages of the huge cache before clean ones */
    if (!e && a->huge_cache)
        e = list_new_segment(a, need);
    if (!e)
        e = find_fit(a, EXT_CLEAN, need);
    if (!e) {
        e = list_new_segment(a, need);
        if (!e)
            return NULL;
    }
    *zeroed = e->state == EXT_CLEAN;
    if (e->state != EXT_DIRTY)
        arena_report_fresh(a);
    size_t idx = extent_page(e), lead;
    /* not a clean run's far end: that would touch pages the near end
     * leaves untouched (realloc_grow's peak RSS, +1 %) */
    if (e->state != EXT_CLEAN && follows_large(e)) {
        /* the far end, less this run's own room if the free run has it */
        size_t keep = e->npages >= need + room ? room : 0;
        lead = ((idx + e->npages - npages - keep) & ~(align_pages - 1)) - idx;
    } else {
        lead = (align_pages - (idx & (align_pages - 1))) & (align_pages - 1);
    }
    extent_t *out = carve(a, e, lead, npages);
    ctr_add(&a->stats.pactive, npages);
    tai_arena_note_active(a);
    return out;
}

bool tai_extent_resident_fit(arena_t *a, size_t npages)
{
    return find_fit(a, EXT_DIRTY, npages) != NULL;
}

extent_t *tai_extent_alloc(arena_t *a, size_t npages, size_t align_pages, bool *zeroed)
{
    return tai_extent_alloc_room(a, npages, align_pages, 0, zeroed);
}

void tai_extent_map(segment_t *seg, extent_t *e, uint8_t pb, bool all_pages)
{
    size_t head = extent_page(e);
    if (all_pages) {
        for (size_t i = 0; i < e->npages; i++)
            seg->page_head[head + i] = (uint16_t)head;
        memset(&seg->head.page_bin[head], pb, e->npages);
    } else {
        mark_ends(seg, e);
        seg->head.page_bin[head] = pb;
    }
}

void tai_extent_free(arena_t *a, extent_t *e)
{
    segment_t *seg = extent_segment(e);
    size_t n = e->npages;
    /* slabs and large runs may end in a guard page in secure mode; free
     * runs are ordinary memory, to be merged, purged and carved again */
    if (unlikely(e->guarded))
        tai_secure_unguard(e);
    memset(&seg->head.page_bin[extent_page(e)], PB_NONE, n);
    TA_ASSERT(e->state >= NFREE_STATES); /* not free already */
    ctr_sub(&a->stats.pactive, n);
    count_free(a, EXT_DIRTY, n, true);
    insert_free(a, seg, e, EXT_DIRTY, tai_os_now_ms());
}

void tai_extent_shrink(arena_t *a, extent_t *e, size_t npages)
{
    segment_t *seg = extent_segment(e);
    size_t idx = extent_page(e), tail = e->npages - npages;
    if (!tail)
        return;
    e->npages = (uint16_t)npages;
    mark_ends(seg, e);
    extent_t *t = run_at(seg, idx + npages, tail);
    t->state = EXT_BUSY;
    tai_extent_free(a, t);
}

bool tai_extent_grow(arena_t *a, extent_t *e, size_t npages, bool *zeroed)
{
    segment_t *seg = extent_segment(e);
    size_t idx = extent_page(e), more = npages - e->npages;
    if (idx + e->npages >= seg->npages || tai_arena_over_limit(a, more))
        return false;
    extent_t *r = &seg->ext[idx + e->npages];
    if (r->state >= NFREE_STATES || r->npages < more)
        return false;
    *zeroed = r->state == EXT_CLEAN;
    if (r->state != EXT_DIRTY)
        arena_report_fresh(a);
    carve(a, r, 0, more);
    e->npages = (uint16_t)npages;
    mark_ends(seg, e);
    ctr_add(&a->stats.pactive, more);
    tai_arena_note_active(a);
    return true;
}

/* Purges the last n pages of the listed free run e, all of it if n is
 * its size, with the lock dropped around madvise, then lists them in
 * their new state; the first pages stay listed at e's age. */
static void purge_one(arena_t *a, extent_t *e, size_t n, bool lazy)
{
    segment_t *seg = extent_segment(e);
    unsigned from = e->state;
    if (n < e->npages) {
        e = carve(a, e, e->npages - n, n);
        /* counted in their old state until purged, as a whole run is */
        count_free(a, from, n, true);
    } else {
        unlink_free(a, e);
        e->state = EXT_BUSY;
    }
    char *addr = extent_addr(seg, e);
    mutex_unlock(&a->lock);
    bool to_muzzy = lazy && tai_os_purge_lazy(addr, n << tai_lg_page);
    if (!to_muzzy)
        tai_os_purge_forced(addr, n << tai_lg_page);
    mutex_lock(&a->lock);
    bool dirty = from == EXT_DIRTY;
    ctr_add(dirty ? &a->stats.dirty_nmadvise : &a->stats.muzzy_nmadvise, 1);
    ctr_add(dirty ? &a->stats.dirty_purged : &a->stats.muzzy_purged, n);
    count_free(a, from, n, false);
    unsigned to = to_muzzy ? EXT_MUZZY : EXT_CLEAN;
    count_free(a, to, n, true);
    insert_free(a, seg, e, to, tai_os_now_ms());
}

/* Drains one age list of runs freed before `before`. */
static bool purge_list(arena_t *a, unsigned state, uint64_t before, bool lazy)
{
    extent_t *sentinel = lru_of(a, state);
    bool any = false;
    for (;;) {
        extent_t *e = sentinel->u.f.lru_next;
        if (e == sentinel || e->u.f.stamp >= before)
            break;
        purge_one(a, e, e->npages, lazy);
        any = true;
    }
    return any;
}

void tai_extent_purge(arena_t *a, uint64_t dirty_before, uint64_t muzzy_before, bool lazy)
{
    if (purge_list(a, EXT_DIRTY, dirty_before, lazy))
        ctr_add(&a->stats.dirty_npurge, 1);
    if (purge_list(a, EXT_MUZZY, muzzy_before, false))
        ctr_add(&a->stats.muzzy_npurge, 1);
}

size_t tai_extent_purge_oldest(arena_t *a, size_t pages)
{
    extent_t *sentinel = lru_of(a, EXT_DIRTY), *e = sentinel->u.f.lru_next;
    if (e == sentinel || !pages)
        return 0;
    size_t n = e->npages < pages ? e->npages : pages;
    purge_one(a, e, n, false);
    ctr_add(&a->stats.dirty_npurge, 1);
    return n;
}

/* Whether every page of seg after its header is free: its runs, of any
 * free state (neighbours of one state merge, so they are few), end to
 * end. The walk stops at the first run in use. */
static bool segment_empty(const segment_t *seg)
{
    for (size_t idx = seg->hdr_pages; idx < seg->npages;) {
        const extent_t *e = &seg->ext[idx];
        if (e->state >= NFREE_STATES)
            return false;
        idx += e->npages;
    }
    return true;
}

void *tai_extent_take_empty_segment(arena_t *a, size_t *resident)
{
    segment_t *seg = a->segments;
    while (seg && !segment_empty(seg))
        seg = seg->next;
    if (!seg)
        return NULL;
    *resident = (size_t)seg->hdr_pages << tai_lg_page;
    for (size_t idx = seg->hdr_pages; idx < seg->npages;) {
        extent_t *e = &seg->ext[idx];
        if (e->state == EXT_DIRTY)
            *resident += (size_t)e->npages << tai_lg_page;
        unlink_free(a, e);
        count_free(a, e->state, e->npages, false);
        idx += e->npages;
    }
    ctr_sub(&a->stats.mapped, SEGMENT_SIZE);
    ctr_sub(&a->stats.metadata, (size_t)seg->hdr_pages << tai_lg_page);
    segment_list_remove(&a->segments, seg);
    return seg;
}

void tai_extent_unmap_empty_segments(arena_t *a)
{
    segment_t *empty = NULL, *next;
    for (segment_t *seg = a->segments; seg; seg = next) {
        next = seg->next;
        extent_t *e = &seg->ext[seg->hdr_pages];
        size_t pages = seg->npages - seg->hdr_pages;
        if (e->state != EXT_CLEAN || e->npages != pages)
            continue;
        unlink_free(a, e);
        count_free(a, EXT_CLEAN, pages, false);
        ctr_sub(&a->stats.mapped, SEGMENT_SIZE);
        ctr_sub(&a->stats.metadata, (size_t)seg->hdr_pages << tai_lg_page);
        segment_list_remove(&a->segments, seg);
        seg->next = empty;
        empty = seg;
    }
    if (!empty)
        return;
    mutex_unlock(&a->lock);
    for (segment_t *seg = empty; seg; seg = next) {
        next = seg->next;
        tai_segment_unmap(seg);
    }
    mutex_lock(&a->lock);
}
