/* The whole-arena consistency walk behind tai_arena_verify, and the debug
 * build's assertion failure. Reads only: it never repairs what it finds. */
#include <stdlib.h>

#include "bin.h"
#include "owner_map.h"
#include "secure.h"
#include "verify.h"

/* Reports past this many per walk add nothing a reader could use. */
#define MAX_REPORTS 8
/* Longer lists than this are taken for cycles: an arena has at most
 * MAX_SEGMENT_PAGES runs per segment and far fewer mappings. */
#define LIST_BOUND ((size_t)1 << 24)

typedef struct walk {
    arena_t *a;
    unsigned bad;
    tai_census_t c;
    uint64_t partial[NBINS]; /* partly used slabs other than bins' cur */
    uint64_t regs[NBINS];    /* regions handed out, over every slab */
    uint64_t slabs[NBINS];   /* slabs in use (not spare) */
} walk_t;

static void fail(walk_t *w, const char *what, const void *where, size_t n)
{
    if (w->bad++ < MAX_REPORTS)
        tai_warn("tunalloc: arena %u inconsistent: %s (at %p, %zu)", w->a->index, what, where, n);
}

#define EXPECT(w, cond, where, n)                                                             \
    do {                                                                                      \
        if (!(cond))                                                                          \
            fail((w), #cond, (where), (size_t)(n));                                           \
    } while (0)

/* Regions of slab e whose free bit is set; bits past nregs must be clear. */
static unsigned count_free(segment_t *seg, const extent_t *e, const bin_info_t *bi, walk_t *w)
{
    const uint64_t *map = slab_map(seg, e);
    unsigned n = 0, words = (bi->nregs + 63) / 64;
    for (unsigned k = 0; k < words; k++)
        n += (unsigned)__builtin_popcountll(map[k]);
    if (bi->nregs % 64)
        EXPECT(w, !(map[words - 1] >> (bi->nregs % 64)), e, bi->nregs);
    return n;
}

/* Whether e is on its bin's list of spare slabs. */
static bool is_spare(const bin_t *bin, const extent_t *e)
{
    size_t n = 0;
    for (const extent_t *s = bin->spare; s && n < LIST_BOUND; s = s->next, n++)
        if (s == e)
            return true;
    return false;
}

static void walk_slab(walk_t *w, segment_t *seg, size_t idx, const extent_t *e)
{
    arena_t *a = w->a;
    EXPECT(w, e->cls < NBINS, e, e->cls);
    if (e->cls >= NBINS)
        return;
    const bin_info_t *bi = &tai_bin_info[e->cls];
    const bin_t *bin = &a->bins[e->cls];
    size_t n = e->npages;
    /* secure mode: one guard page past the regions, mapped as the slab's */
    EXPECT(w, n == bi->slab_pages + tai_guard_pages(), e, n);
    for (size_t i = 0; i < n; i++)
        if (seg->page_head[idx + i] != idx ||
            seg->head.page_bin[idx + i] != bin_tag(a, e->cls)) {
            fail(w, "slab page not mapped to its head with its class", e, i);
            break;
        }
    unsigned nfree = count_free(seg, e, bi, w);
    EXPECT(w, e->nfree == nfree, e, nfree);
    EXPECT(w, e->nfree <= bi->nregs, e, e->nfree);
    w->c.slab_pages += n;
    if (is_spare(bin, e)) {
        EXPECT(w, e->nfree == bi->nregs, e, e->nfree);
        w->c.spare_pages += n;
        return;
    }
    w->slabs[e->cls]++;
    w->regs[e->cls] += bi->nregs - e->nfree;
    if (e == bin->cur)
        return;
    /* a slab left empty goes to the spare or back to the arena */
    EXPECT(w, e->nfree < bi->nregs, e, e->nfree);
    if (e->nfree)
        w->partial[e->cls]++;
}

static void walk_run(walk_t *w, segment_t *seg, size_t idx, unsigned prev_state)
{
    const extent_t *e = &seg->ext[idx];
    size_t n = e->npages;
    EXPECT(w, seg->page_head[idx] == idx, e, idx);
    EXPECT(w, seg->page_head[idx + n - 1] == idx, e, idx + n - 1);
    if (e->state < NFREE_STATES) {
        /* insert_free merges a run with free neighbours of its state */
        EXPECT(w, e->state != prev_state, e, e->state);
        w->c.free_pages[e->state] += n;
        w->c.free_runs[e->state]++;
        for (size_t i = 0; i < n; i++)
            if (seg->head.page_bin[idx + i] != PB_NONE) {
                fail(w, "free page tagged", e, i);
                break;
            }
    } else if (e->state == EXT_SLAB) {
        walk_slab(w, seg, idx, e);
    } else if (e->state == EXT_LARGE) {
        w->c.large_pages += n;
        EXPECT(w, (n - tai_guard_pages()) << tai_lg_page == e->u.l.usize, e, e->u.l.usize);
        unsigned want = tag_large(w->a->manual, e->u.l.usize);
        EXPECT(w, seg->head.page_bin[idx] == want, e, seg->head.page_bin[idx]);
        for (size_t i = 1; i < n; i++)
            if (seg->head.page_bin[idx + i] != PB_NONE) {
                fail(w, "large run's interior page tagged", e, i);
                break;
            }
    } else {
        /* a purge has it with the arena lock dropped */
        EXPECT(w, e->state == EXT_BUSY, e, e->state);
    }
}

/* Floyd's two-pointer test, so a looping list is reported, not walked;
 * next_off is where each element keeps its next pointer. */
static bool list_loops(const void *head, size_t next_off)
{
#define NEXT(x) (*(const void *const *)((const char *)(x) + next_off))
    const void *slow = head, *fast = head;
    while (fast && NEXT(fast)) {
        slow = NEXT(slow);
        fast = NEXT(NEXT(fast));
        if (slow == fast)
            return true;
    }
    return false;
#undef NEXT
}

static void walk_segments(walk_t *w)
{
    arena_t *a = w->a;
    if (list_loops(a->segments, offsetof(segment_t, next))) {
        fail(w, "segment list loops", a->segments, 0);
        return;
    }
    const segment_t *prev_seg = NULL;
    for (segment_t *seg = a->segments; seg; prev_seg = seg, seg = seg->next) {
        EXPECT(w, seg->prev == prev_seg, seg, 0);
        EXPECT(w, seg->head.kind == SEG_NORMAL && seg->head.arena == a, seg, seg->head.kind);
        EXPECT(w, tai_owner_map_unit(seg) == OWNER_HEAD, seg, tai_owner_map_unit(seg));
        if (seg->head.kind != SEG_NORMAL)
            continue;
        size_t idx = seg->hdr_pages;
        unsigned prev = EXT_BUSY;
        while (idx < seg->npages) {
            size_t n = seg->ext[idx].npages;
            if (n == 0 || idx + n > seg->npages) {
                fail(w, "run overruns its segment", seg, idx);
                break;
            }
            walk_run(w, seg, idx, prev);
            prev = seg->ext[idx].state;
            idx += n;
        }
    }
}

/* A huge mapping against huge_t's invariants (huge.h): its units marked
 * in the owner map, its block inside, its state that of its list. */
static uint64_t walk_huge(walk_t *w, const huge_t *h, const huge_t *prev, bool live)
{
    EXPECT(w, h->prev == prev && h->live == live, h, h->live);
    EXPECT(w, h->head.kind == SEG_HUGE && h->head.arena == w->a, h, h->head.kind);
    EXPECT(w, h->map_size % SEGMENT_SIZE == 0 && h->map_size > 0, h, h->map_size);
    EXPECT(w, tai_owner_map_unit(h) == OWNER_HEAD, h, tai_owner_map_unit(h));
    for (size_t off = SEGMENT_SIZE; off < h->map_size; off += SEGMENT_SIZE)
        if (tai_owner_map_unit((const char *)h + off) != OWNER_TAIL) {
            fail(w, "huge mapping's unit not marked", h, off);
            break;
        }
    size_t data_off = (size_t)(h->data - (const char *)h);
    EXPECT(w, data_off >= sizeof(huge_t) && data_off <= SEGMENT_SIZE &&
                  data_off % tai_page == 0 && h->head.page_bin[data_off >> tai_lg_page] == PB_LARGE,
           h, data_off);
    EXPECT(w, data_off <= h->map_size && h->usize <= h->map_size - data_off, h, h->usize);
    EXPECT(w, live ? h->touched >= h->usize : h->touched == h->usize, h, h->touched);
    return h->usize >> tai_lg_page;
}

static void walk_huge_lists(walk_t *w)
{
    arena_t *a = w->a;
    if (list_loops(a->huge_live, offsetof(huge_t, next)) ||
        list_loops(a->huge_cache, offsetof(huge_t, next))) {
        fail(w, "huge list loops", a->huge_cache, 0);
        return;
    }
    const huge_t *prev = NULL;
    for (const huge_t *h = a->huge_live; h; prev = h, h = h->next) {
        w->c.huge_live_pages += walk_huge(w, h, prev, true);
        w->c.huge_tail_pages += (h->touched - h->usize) >> tai_lg_page;
    }
    EXPECT(w, w->c.huge_tail_pages == a->huge_tail_pages, a->huge_live, a->huge_tail_pages);
    prev = NULL;
    for (const huge_t *h = a->huge_cache; h; prev = h, h = h->next) {
        w->c.huge_cached_pages += walk_huge(w, h, prev, false);
        EXPECT(w, !tai_huge_listed(a->huge_live, h), h, 0); /* freed yet live */
    }
}

/* The size lists hold exactly the free runs, each under its own state;
 * the age lists the dirty and muzzy ones, oldest first. */
static void walk_free_lists(walk_t *w)
{
    arena_t *a = w->a;
    for (unsigned st = 0; st < NFREE_STATES; st++) {
        uint64_t listed = 0;
        for (unsigned c = 0; c < NPAGE_CLASSES; c++) {
            bool nonempty = a->avail[st][c] != NULL;
            EXPECT(w, nonempty == !!(a->avail_mask[st] >> c & 1), a, c);
            const extent_t *prev = NULL;
            for (const extent_t *e = a->avail[st][c]; e && listed < LIST_BOUND;
                 prev = e, e = e->next, listed++) {
                EXPECT(w, e->prev == prev && e->state == st, e, e->state);
                EXPECT(w, extent_segment(e)->page_head[extent_page(e)] == extent_page(e), e, 0);
            }
        }
        EXPECT(w, listed == w->c.free_runs[st], a, listed);
    }
    for (unsigned k = 0; k < 2; k++) {
        const extent_t *sentinel = &a->lru[k];
        unsigned st = k == 0 ? EXT_DIRTY : EXT_MUZZY;
        uint64_t n = 0, last = 0;
        for (const extent_t *e = sentinel->u.f.lru_next; e != sentinel && n < LIST_BOUND;
             e = e->u.f.lru_next, n++) {
            EXPECT(w, e->state == st && e->u.f.lru_next->u.f.lru_prev == e, e, e->state);
            /* decay stops at the first young run: one out of order would
             * hide older ones from purging */
            EXPECT(w, e->u.f.stamp >= last, e, e->u.f.stamp);
            last = e->u.f.stamp;
        }
        EXPECT(w, n == w->c.free_runs[st], sentinel, n);
    }
}

/* Each bin's cur, non-full list and spare against the slabs walked. */
static void walk_bins(walk_t *w)
{
    arena_t *a = w->a;
    for (unsigned c = 0; c < NBINS; c++) {
        const bin_t *bin = &a->bins[c];
        const bin_info_t *bi = &tai_bin_info[c];
        if (bin->cur)
            EXPECT(w, bin->cur->state == EXT_SLAB && bin->cur->cls == c, bin->cur, c);
        uint64_t n = 0;
        for (const extent_t *e = bin->spare; e && n < LIST_BOUND; e = e->next, n++)
            EXPECT(w, e->state == EXT_SLAB && e->cls == c && e != bin->cur, e, c);
        EXPECT(w, n == bin->nspare, bin, n);
        n = 0;
        const extent_t *prev = NULL;
        for (const extent_t *e = bin->nonfull; e && n < LIST_BOUND; prev = e, e = e->next, n++) {
            EXPECT(w, e->prev == prev && e->state == EXT_SLAB && e->cls == c, e, c);
            EXPECT(w, e != bin->cur && !is_spare(bin, e), e, c);
            EXPECT(w, e->nfree > 0 && e->nfree < bi->nregs, e, e->nfree);
        }
        EXPECT(w, n == w->partial[c], bin, n);
        EXPECT(w, ctr_get(&bin->stats.curslabs) == w->slabs[c], bin, w->slabs[c]);
        EXPECT(w, ctr_get(&bin->stats.curregs) == w->regs[c], bin, w->regs[c]);
    }
}

bool tai_huge_listed(const huge_t *list, const huge_t *h)
{
    for (size_t n = 0; list && n < LIST_BOUND; list = list->next, n++)
        if (list == h)
            return true;
    return false;
}

unsigned tai_arena_verify(arena_t *a, tai_census_t *census)
{
    walk_t w = {.a = a};
    for (unsigned c = 0; c < NBINS; c++)
        mutex_lock(&a->bins[c].lock);
    mutex_lock(&a->lock);
    walk_segments(&w);
    walk_huge_lists(&w);
    walk_free_lists(&w);
    walk_bins(&w);
    mutex_unlock(&a->lock);
    for (unsigned c = 0; c < NBINS; c++)
        mutex_unlock(&a->bins[c].lock);
    if (census)
        *census = w.c;
    return w.bad;
}

#ifdef TA_DEBUG
void tai_assert_fail(const char *file, int line, const char *expr)
{
    tai_warn("tunalloc: assertion failed: %s (%s:%d)", expr, file, line);
    abort();
}
#endif
