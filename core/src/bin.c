/* Bins: per arena and size class, the slabs that small regions come from.
 * A bin has its own lock so threads filling different classes of one
 * arena do not contend; slabs come from and return to the arena's runs. */
#include <string.h>

#include "arena.h"
#include "bin.h"
#include "check.h"
#include "secure.h"

/* Marks regions [0, nregs) of a new slab free in its map. */
static void map_all_free(uint64_t *map, unsigned nregs)
{
    unsigned full = nregs / 64;
    for (unsigned w = 0; w < full; w++)
        map[w] = ~(uint64_t)0;
    if (nregs % 64)
        map[full] = ((uint64_t)1 << (nregs % 64)) - 1;
}

/* Moves pages between "in use" and "free but resident": a spare slab
 * counts as dirty, though only decay runs give it back. Arena lock held. */
static void move_spare_pages(arena_t *a, size_t pages, bool parked)
{
    if (parked) {
        ctr_sub(&a->stats.pactive, pages);
        ctr_add(&a->stats.pdirty, pages);
    } else {
        ctr_add(&a->stats.pactive, pages);
        ctr_sub(&a->stats.pdirty, pages);
    }
}

/* move_spare_pages for the spares a fill or flush took or left, once per
 * call rather than once per slab: a batch of remote frees can empty
 * several slabs, and the arena lock is the one every bin shares. */
static void count_spare(arena_t *a, size_t pages, bool parked)
{
    if (!pages)
        return;
    mutex_lock(&a->lock);
    move_spare_pages(a, pages, parked);
    mutex_unlock(&a->lock);
}

/* Gives an empty slab's pages back to the arena; bin lock held. */
static void slab_release(arena_t *a, bin_t *bin, extent_t *e)
{
    TA_ASSERT(e != bin->cur && e->nfree == tai_bin_info[e->cls].nregs);
    ctr_sub(&bin->stats.curslabs, 1);
    mutex_lock(&a->lock);
    tai_extent_free(a, e);
    arena_report(a, true);
    mutex_unlock(&a->lock);
}

/* The bin's newest spare back to the arena's runs; bin lock held. */
static void release_spare(arena_t *a, bin_t *bin)
{
    extent_t *e = bin->spare;
    bin->spare = e->next;
    bin->nspare--;
    count_spare(a, e->npages, false);
    ctr_add(&bin->stats.curslabs, 1);
    slab_release(a, bin, e);
}

/* Other bins' spares back to the arena's runs, one at a time, until a
 * run of pages fits in dirty ones: a new slab then takes pages the
 * process touched already rather than fresh ones. A bin keeps its
 * spares for its own next fills, and with many classes (prodcons's 16)
 * the spares of some sat resident while others faulted in new pages.
 * Bin cls's lock is held, so the others' are only tried: a busy bin
 * keeps its spares. */
static void reclaim_spares(arena_t *a, unsigned cls, size_t pages)
{
    for (unsigned c = 0; c < NBINS; c++) {
        bin_t *bin = &a->bins[c];
        if (c == cls || !mutex_trylock(&bin->lock))
            continue;
        bool fit = false;
        while (bin->spare && !fit) {
            release_spare(a, bin);
            mutex_lock(&a->lock);
            fit = tai_extent_resident_fit(a, pages);
            mutex_unlock(&a->lock);
        }
        mutex_unlock(&bin->lock);
        if (fit)
            return;
    }
}

/* A fresh slab for the bin; bin lock held, arena lock taken inside, where
 * the pages of spares this fill took so far are counted in use first, so
 * the arena's limit sees them. */
static extent_t *slab_new(arena_t *a, unsigned cls, size_t *unparked)
{
    const bin_info_t *bi = &tai_bin_info[cls];
    size_t guard = tai_guard_pages();
    bool zeroed;
    size_t pages = bi->slab_pages + guard;
    mutex_lock(&a->lock);
    move_spare_pages(a, *unparked, false);
    *unparked = 0;
    /* spares count as dirty: none to take if the dirty pages are fewer */
    if (!tai_extent_resident_fit(a, pages) && ctr_get(&a->stats.pdirty) >= pages) {
        mutex_unlock(&a->lock);
        reclaim_spares(a, cls, pages);
        mutex_lock(&a->lock);
    }
    extent_t *e = tai_extent_alloc(a, pages, 1, &zeroed);
    if (e) {
        if (guard)
            tai_secure_guard(e);
        e->state = EXT_SLAB;
        e->cls = (uint8_t)cls;
        e->nfree = (uint16_t)bi->nregs;
        map_all_free(slab_map(extent_segment(e), e), bi->nregs);
        tai_extent_map(extent_segment(e), e, bin_tag(a, cls), true);
        arena_report(a, false);
    }
    mutex_unlock(&a->lock);
    if (e) {
        ctr_add(&a->bins[cls].stats.nslabs, 1);
        ctr_add(&a->bins[cls].stats.curslabs, 1);
    }
    return e;
}

/* The bin's spare slab back in use, unless that would pass the limit;
 * its pages are added to *unparked, for the caller to count. */
static extent_t *take_spare(arena_t *a, bin_t *bin, unsigned cls, size_t *unparked)
{
    extent_t *e = bin->spare;
    if (!e || tai_arena_over_limit(a, *unparked + e->npages))
        return NULL;
    bin->spare = e->next;
    bin->nspare--;
    *unparked += e->npages;
    ctr_add(&a->bins[cls].stats.curslabs, 1);
    return e;
}

/* Makes bin->cur a slab with a free region: a non-full one, the spare,
 * else a new one. */
static extent_t *next_slab(arena_t *a, bin_t *bin, unsigned cls, size_t *unparked)
{
    extent_t *e = bin->nonfull;
    if (e)
        extent_list_remove(&bin->nonfull, e);
    else if (!(e = take_spare(a, bin, cls, unparked)))
        e = slab_new(a, cls, unparked);
    TA_ASSERT(!e || (e->state == EXT_SLAB && e->cls == cls && e->nfree > 0));
    if (e)
        bin->cur = e;
    return e;
}

/* Secure mode's slab_take: each region drawn at random among the free
 * ones (the next free one from a random index), so where the next block
 * lands cannot be predicted from the ones before it. */
static unsigned slab_take_random(extent_t *e, const bin_info_t *bi, void **out, unsigned n)
{
    segment_t *seg = extent_segment(e);
    uint64_t *map = slab_map(seg, e);
    char *base = extent_addr(seg, e);
    unsigned k = 0, nwords = (bi->nregs + 63) / 64;
    for (; k < n && k < e->nfree; k++) {
        unsigned from = (unsigned)(((tai_secure_rand() >> 32) * bi->nregs) >> 32), w = from / 64;
        uint64_t bits = map[w] & (~(uint64_t)0 << (from % 64));
        while (!bits) {
            w = (w + 1) % nwords;
            bits = map[w];
        }
        unsigned idx = w * 64 + (unsigned)__builtin_ctzll(bits);
        map[w] &= ~((uint64_t)1 << (idx % 64));
        out[n - 1 - k] = base + (size_t)idx * bi->size;
    }
    e->nfree = (uint16_t)(e->nfree - k);
    return k;
}

/* Takes up to k = min(n, free regions) regions of slab e into
 * out[n - k .. n - 1], the first taken at out[n - 1], lowest address
 * first: a slab is used from its start, so live blocks stay packed. The
 * region size is a local: with no strict aliasing, each store to out
 * would otherwise reload it from the table. */
static unsigned slab_take(extent_t *e, const bin_info_t *bi, void **out, unsigned n)
{
    if (tai_opt.secure)
        return slab_take_random(e, bi, out, n);
    segment_t *seg = extent_segment(e);
    uint64_t *map = slab_map(seg, e);
    char *base = extent_addr(seg, e);
    const size_t size = bi->size;
    unsigned k = n < e->nfree ? n : e->nfree;
    void **dst = out + n;
    for (void **end = dst - k; dst != end; map++) {
        TA_ASSERT(map < slab_map(seg, e) + (bi->nregs + 63) / 64); /* nfree counts the map's set bits */
        uint64_t bits = *map;
        char *word_base = base;
        base += 64 * size;
        for (; bits && dst != end; bits &= bits - 1)
            *--dst = word_base + (size_t)__builtin_ctzll(bits) * size;
        *map = bits;
    }
    e->nfree = (uint16_t)(e->nfree - k);
    return k;
}

unsigned tai_bin_fill(arena_t *a, unsigned cls, void **out, unsigned n)
{
    bin_t *bin = &a->bins[cls];
    const bin_info_t *bi = &tai_bin_info[cls];
    unsigned got = 0;
    size_t unparked = 0;
    mutex_lock(&bin->lock);
    while (got < n) {
        extent_t *e = bin->cur;
        if ((!e || !e->nfree) && !(e = next_slab(a, bin, cls, &unparked)))
            break;
        got += slab_take(e, bi, out, n - got);
    }
    count_spare(a, unparked, false);
    ctr_add(&bin->stats.nmalloc, got);
    ctr_add(&bin->stats.curregs, got);
    ctr_add(&bin->stats.nfills, 1);
    mutex_unlock(&bin->lock);
    return got;
}

void *tai_bin_alloc(arena_t *a, unsigned cls, bool zero)
{
    void *p;
    if (!tai_bin_fill(a, cls, &p, 1))
        return NULL;
    ctr_add(&a->bins[cls].stats.nrequests, 1);
    if (zero)
        memset(p, 0, tai_bin_info[cls].size);
    return p;
}

/* Spare slabs a bin keeps: SPARE_PAGES worth, at least one. A batch of
 * remote frees (up to 32 blocks) empties several one-page slabs of the
 * bigger small classes at once, and the producer's next fill wants as
 * many back: kept, they cost no carve and release each round. */
#define SPARE_PAGES 8

static unsigned spare_max(unsigned cls)
{
    if (tai_opt.secure)
        return SECURE_SPARES;
    unsigned pages = tai_bin_info[cls].slab_pages;
    return pages < SPARE_PAGES ? SPARE_PAGES / pages : 1;
}

/* What a flush did: regions put back, and pages of the slabs it made
 * spares, which the caller counts (count_spare) once at the end. */
typedef struct put_tally {
    unsigned freed;
    size_t parked;
} put_tally_t;

/* An empty slab becomes the bin's spare, so a producer refilling while
 * another thread's frees empty slabs does not carve and release one each
 * round; with decay at 0, or the bin's spares all there, it goes back. */
static void slab_empty(arena_t *a, bin_t *bin, extent_t *e, put_tally_t *t)
{
    if (bin->nspare >= spare_max(e->cls) ||
        atomic_load_explicit(&a->dirty_decay_ms, memory_order_relaxed) == 0) {
        slab_release(a, bin, e);
        return;
    }
    ctr_sub(&bin->stats.curslabs, 1);
    e->next = bin->spare;
    bin->spare = e;
    bin->nspare++;
    t->parked += e->npages;
}

/* Counts put regions back on slab e, their bits set already: only the
 * slab's states before and after matter (full, partly used, empty), so a
 * run of regions costs one transition. */
static void slab_settle(arena_t *a, bin_t *bin, extent_t *e, unsigned put, unsigned nregs,
                        put_tally_t *t)
{
    bool was_full = e->nfree == 0;
    e->nfree = (uint16_t)(e->nfree + put);
    TA_ASSERT(e->nfree <= nregs);
    if (e == bin->cur) {
        if (e->nfree == nregs) {
            bin->cur = NULL;
            slab_empty(a, bin, e, t);
        }
        return;
    }
    if (e->nfree == nregs) {
        if (!was_full)
            extent_list_remove(&bin->nonfull, e);
        slab_empty(a, bin, e, t);
    } else if (was_full) {
        extent_list_push(&bin->nonfull, e);
    }
}

/* Puts the regions among items that belong to arena a back on their
 * slabs; the others are moved to the front, and their count returned.
 * Blocks freed together tend to have been allocated together, so a
 * region in the slab of the one before costs a subtraction, a compare
 * and its bit; only a region of another slab looks up its segment and
 * page, and the slab left behind takes its state transition then
 * (slab_settle). A remote batch's blocks come from many slabs, so that
 * change of slab is kept short too: the slab's first page gives its
 * extent, address and free map without a division. A region whose bit
 * is set already was freed twice (through thread caches, which push
 * without looking), and an address that is no region's start was never
 * handed out: both are reported and left out. The class's constants are
 * copied into a local, which the map's stores cannot alias. */
static unsigned put_regions(arena_t *a, bin_t *bin, unsigned cls, void **items, unsigned n,
                            put_tally_t *t)
{
    const bin_info_t bi = tai_bin_info[cls];
    const size_t span = (size_t)bi.nregs * bi.size;
    const unsigned lg_page = tai_lg_page;
    extent_t *e = NULL;
    uintptr_t base = UINTPTR_MAX; /* no slab yet: every offset is out of span */
    uint64_t *map = NULL;
    unsigned keep = 0, put = 0;
    for (unsigned i = 0; i < n; i++) {
        void *p = items[i];
        uintptr_t off = (uintptr_t)p - base;
        if (off >= span) {
            if (put)
                slab_settle(a, bin, e, put, bi.nregs, t);
            t->freed += put;
            put = 0;
            base = UINTPTR_MAX;
            segment_t *seg = segment_of(p);
            if (seg->head.arena != a) {
                items[keep++] = p;
                continue;
            }
            size_t first = seg->page_head[page_index(&seg->head, p)];
            e = &seg->ext[first];
            if (unlikely(e->state != EXT_SLAB || e->cls != cls)) {
                /* a block freed twice may come back after its slab went
                 * back to the arena */
                tai_heap_error(TA_ERR_INVALID, p, NULL);
                continue;
            }
            off = ((uintptr_t)p - (uintptr_t)seg) - (first << lg_page);
            if (unlikely(off >= span)) {
                /* in the slab's pages, past its last region */
                tai_heap_error(TA_ERR_INVALID, p, "small");
                continue;
            }
            base = (uintptr_t)seg + (first << lg_page);
            map = &seg->slab_free[first << (lg_page - LG_QUANTUM - 6)];
        }
        unsigned idx = region_index(&bi, off);
        uint64_t bit = (uint64_t)1 << (idx % 64);
        if (unlikely((size_t)idx * bi.size != off || (map[idx / 64] & bit))) {
            tai_heap_error((size_t)idx * bi.size != off ? TA_ERR_INTERIOR : TA_ERR_DOUBLE, p,
                           "small");
            continue;
        }
        map[idx / 64] |= bit;
        put++;
    }
    if (put)
        slab_settle(a, bin, e, put, bi.nregs, t);
    t->freed += put;
    return keep;
}

static void count_frees(bin_t *bin, unsigned n)
{
    ctr_add(&bin->stats.ndalloc, n);
    ctr_sub(&bin->stats.curregs, n);
}

unsigned tai_bin_flush(arena_t *a, unsigned cls, void **items, unsigned n)
{
    bin_t *bin = &a->bins[cls];
    put_tally_t t = {0, 0};
    mutex_lock(&bin->lock);
    unsigned keep = put_regions(a, bin, cls, items, n, &t);
    count_frees(bin, t.freed);
    count_spare(a, t.parked, true);
    ctr_add(&bin->stats.nflushes, 1);
    mutex_unlock(&bin->lock);
    return keep;
}

void tai_bin_dalloc(arena_t *a, unsigned cls, void *p)
{
    bin_t *bin = &a->bins[cls];
    put_tally_t t = {0, 0};
    mutex_lock(&bin->lock);
    put_regions(a, bin, cls, &p, 1, &t);
    count_frees(bin, t.freed);
    count_spare(a, t.parked, true);
    mutex_unlock(&bin->lock);
}

void tai_bin_release_empty(arena_t *a)
{
    for (unsigned c = 0; c < NBINS; c++) {
        bin_t *bin = &a->bins[c];
        mutex_lock(&bin->lock);
        while (bin->spare)
            release_spare(a, bin);
        mutex_unlock(&bin->lock);
    }
}
