/* Extents: runs of whole pages inside a segment. A run is a slab (small
 * regions of one class), a large allocation, or free; free runs are
 * dirty (pages still resident), muzzy (lazily purged) or clean. */
#ifndef TA_EXTENT_H
#define TA_EXTENT_H

#include "common.h"
#include "list.h"
#include "os.h"
#include "sizeclass.h"
#include "tag.h"

enum extent_state {
    EXT_DIRTY = 0, /* free, pages resident: reused first */
    EXT_MUZZY,     /* free, MADV_FREE given */
    EXT_CLEAN,     /* free, purged or never touched: reads as zero */
    NFREE_STATES,
    EXT_SLAB = NFREE_STATES,
    EXT_LARGE,
    EXT_BUSY /* free but being purged with the arena lock dropped */
};

typedef struct extent {
    struct extent *next, *prev; /* free-run list or bin's non-full slab list */
    uint16_t npages;
    uint8_t state;
    uint8_t cls;   /* slab: bin index */
    uint16_t nfree; /* slab: free regions (set bits of its free map) */
    bool guarded;   /* in use, secure mode: its last page is a guard */
    union {
        struct {
            struct extent *lru_next, *lru_prev; /* age order, oldest first */
            uint64_t stamp;                     /* ms when it became free */
        } f;
        struct {
            size_t usize;
        } l;
    } u;
} extent_t;

struct arena;

enum { SEG_NORMAL = 1, SEG_HUGE = 2 };

/* The start of every mapping's header, a segment's (segment_t) or a huge
 * block's (huge_t, huge.h): all that finding a block from a pointer reads
 * before it knows which of the two holds it. Both headers sit at the
 * start of a SEGMENT_SIZE-aligned unit and begin with this, so head_of()
 * is one mask for either. */
typedef struct map_head {
    /* Tags (tag.h) of the pages that may start a block, by page index
     * from the header: at offset 0, so the free fast path reads one with
     * a mask and a shift. The last slot is a huge block's that starts
     * the unit after its header. Written under the arena lock when a run
     * changes hands; read by whoever holds a pointer into the page. */
    uint8_t page_bin[MAX_SEGMENT_PAGES + 1];
    uint8_t kind;        /* SEG_NORMAL or SEG_HUGE: the header this starts */
    struct arena *arena; /* owner; fixed while the mapping exists */
} map_head_t;

/* A segment: SEGMENT_SIZE bytes aligned to SEGMENT_SIZE, this header in
 * its first pages and page runs after it (one clean free run when new);
 * kind == SEG_NORMAL. */
typedef struct segment {
    map_head_t head;             /* first: head_of(p) == &segment->head */
    struct segment *next, *prev; /* the arena's segments */
    uint32_t npages;             /* pages in the segment */
    uint32_t hdr_pages;          /* pages taken by this header, never a run's */
    /* page_head[i]: the first page of the run holding page i (its
     * extent is ext[page_head[i]]); kept for the first and last page of
     * every run, and for every page of a slab */
    uint16_t page_head[MAX_SEGMENT_PAGES];
    /* Slabs' free maps, one bit per region (set: free), the map of a slab
     * starting at its first page's share: a page holds at most
     * page / QUANTUM regions. Kept apart from the regions, so neither a
     * flush nor a fill touches the memory of the blocks it moves. Before
     * ext: the shares of the first runs' pages (the header's own pages
     * have none in use) then share the header's first page with
     * page_bin and page_head, and a segment of a few slabs writes two
     * pages of its header, not three (prodcons's main thread). */
    uint64_t slab_free[SEGMENT_SIZE / QUANTUM / 64];
    extent_t ext[MAX_SEGMENT_PAGES]; /* a run's extent at its first page */
} segment_t;

/* A free-run size list, or a bin's non-full slabs (list.h). */
LIST_DEFINE(extent_list, extent_t, next, prev)
/* A free state's runs by age, around the arena's lru sentinel. */
RING_DEFINE(extent_lru, extent_t, u.f.lru_next, u.f.lru_prev)
/* An arena's segments. */
LIST_DEFINE(segment_list, segment_t, next, prev)

/* The header of the mapping holding block p, segment or huge: the unit
 * of p - 1, since a block never starts at its unit's first byte (a huge
 * block's data follows its header). */
static ALWAYS_INLINE map_head_t *head_of(const void *p)
{
    return (map_head_t *)(((uintptr_t)p - 1) & ~(uintptr_t)SEGMENT_MASK);
}

/* The segment of a head whose kind is SEG_NORMAL. */
static ALWAYS_INLINE segment_t *head_segment(map_head_t *h)
{
    TA_ASSERT(h->kind == SEG_NORMAL);
    return (segment_t *)h;
}

/* The segment holding p, which the caller knows is in a normal segment
 * (a slab's region, a run, a cached class's block). */
static ALWAYS_INLINE segment_t *segment_of(const void *p)
{
    return head_segment(head_of(p));
}

static inline size_t page_index(const map_head_t *h, const void *p)
{
    return ((uintptr_t)p - (uintptr_t)h) >> tai_lg_page;
}

/* The tag of the page holding p (tag.h). */
static ALWAYS_INLINE unsigned page_tag(const map_head_t *h, const void *p)
{
    return h->page_bin[page_index(h, p)];
}

static inline segment_t *extent_segment(const extent_t *e)
{
    return (segment_t *)((uintptr_t)e & ~(uintptr_t)SEGMENT_MASK);
}

static inline size_t extent_page(const extent_t *e)
{
    return (size_t)(e - extent_segment(e)->ext);
}

static inline char *extent_addr(const segment_t *seg, const extent_t *e)
{
    return (char *)seg + ((size_t)(e - seg->ext) << tai_lg_page);
}

/* The free map of slab e, which starts in segment seg. */
static inline uint64_t *slab_map(segment_t *seg, const extent_t *e)
{
    return &seg->slab_free[(size_t)(e - seg->ext) << (tai_lg_page - LG_QUANTUM - 6)];
}

/* The extent whose pages include page idx of a normal segment. */
static inline extent_t *extent_at(const segment_t *seg, size_t idx)
{
    return (extent_t *)&seg->ext[seg->page_head[idx]];
}

/* The extent whose pages include p (p inside a normal segment). */
static inline extent_t *extent_of(const segment_t *seg, const void *p)
{
    return extent_at(seg, page_index(&seg->head, p));
}

/* A block pointer resolved once. The path that takes p from the caller
 * (free, realloc, usable_size, a cache flush) reads its header, page and
 * tag here; every layer below takes the reference, not p, so none masks,
 * indexes or loads the tag again. page is p's page index from the
 * header: a huge block's offset in pages from its huge_t (page_bin has a
 * slot for that). Valid while the caller owns the block. */
typedef struct block_ref {
    void *p;
    map_head_t *head;
    size_t page;
    unsigned tag;
} block_ref_t;

static ALWAYS_INLINE block_ref_t block_resolve(const void *p)
{
    map_head_t *h = head_of(p);
    size_t page = page_index(h, p);
    return (block_ref_t){(void *)p, h, page, h->page_bin[page]};
}

/* All under the arena lock. A new segment, its free pages not yet
 * listed: the first *dirty_pages after its header may be resident (a
 * reused huge unit's, huge.c), the rest read as zero. */
HIDDEN segment_t *tai_segment_new(struct arena *a, size_t *dirty_pages);
/* Unmaps a segment with no bookkeeping. */
HIDDEN void tai_segment_unmap(segment_t *seg);
/* A run of npages pages aligned to align_pages pages, or NULL; *zeroed
 * tells whether its pages read as zero. */
HIDDEN extent_t *tai_extent_alloc(struct arena *a, size_t npages, size_t align_pages,
                                 bool *zeroed);
/* The same, preferring resident free runs with room pages to spare after
 * the run: where a run that may grow (a large one) can, without a copy. */
HIDDEN extent_t *tai_extent_alloc_room(struct arena *a, size_t npages, size_t align_pages,
                                      size_t room, bool *zeroed);
/* Whether a run of npages pages fits in the arena's dirty runs, so
 * taking it touches no page that is not resident already. */
HIDDEN bool tai_extent_resident_fit(struct arena *a, size_t npages);
/* Returns a run (slab or large) to the arena as dirty. */
HIDDEN void tai_extent_free(struct arena *a, extent_t *e);
/* Shrinks an in-use run in place to npages, freeing the tail. */
HIDDEN void tai_extent_shrink(struct arena *a, extent_t *e, size_t npages);
/* Grows an in-use run in place by taking the free run after it. */
HIDDEN bool tai_extent_grow(struct arena *a, extent_t *e, size_t npages, bool *zeroed);
/* Marks every page of an in-use run so page_head and page_bin find it. */
HIDDEN void tai_extent_map(segment_t *seg, extent_t *e, uint8_t pb, bool all_pages);
/* A segment that holds nothing, taken out of the arena's lists and
 * statistics for a huge block to move its pages in (huge.c), still
 * marked OWNER_HEAD; *resident: its bytes that may be (header and dirty
 * runs). NULL if there is none. */
HIDDEN void *tai_extent_take_empty_segment(struct arena *a, size_t *resident);
/* Unmaps the segments that hold nothing (one clean run from the header
 * to the end); drops the lock around munmap. */
HIDDEN void tai_extent_unmap_empty_segments(struct arena *a);
/* Purges dirty runs freed before `before` (all if before is UINT64_MAX),
 * muzzy likewise with muzzy_before; drops the lock around madvise. */
HIDDEN void tai_extent_purge(struct arena *a, uint64_t dirty_before, uint64_t muzzy_before,
                            bool lazy);
/* Purges up to `pages` pages of the dirty run freed longest ago (its
 * last pages if it has more) with MADV_DONTNEED; returns the pages
 * purged, 0 if no run is dirty. Drops the lock around madvise. */
HIDDEN size_t tai_extent_purge_oldest(struct arena *a, size_t pages);

#endif
