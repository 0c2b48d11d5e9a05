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

/* A segment: SEGMENT_SIZE bytes aligned to SEGMENT_SIZE, metadata first.
 * page_bin must stay at offset 0: the free fast path reads it with just a
 * mask and a shift. Huge mappings use only the fields up to page_head. */
typedef struct segment {
    uint8_t page_bin[MAX_SEGMENT_PAGES + 1]; /* page tags, tag.h */
    uint8_t kind; /* SEG_NORMAL or SEG_HUGE */
    bool live;    /* huge: handed out, not cached (a second free sees it) */
    struct arena *arena;
    struct segment *next, *prev; /* arena's segments, or huge list */
    size_t map_size;             /* bytes mapped, from map_base */
    char *map_base;              /* == segment except for huge alignments */
    uint32_t npages;             /* pages in the segment */
    uint32_t hdr_pages;          /* pages taken by this header */
    size_t usize;                /* huge: usable bytes */
    char *data;                  /* huge: the block */
    size_t touched;              /* huge: bytes from data that may be dirty */
    uint64_t stamp;              /* huge cached: ms when freed */
    size_t req;                  /* huge, secure mode: bytes requested */
    uint16_t page_head[MAX_SEGMENT_PAGES];
    extent_t ext[MAX_SEGMENT_PAGES];
    /* Slabs' free maps, one bit per region (set: free), the map of a slab
     * starting at its first page's share: a page holds at most
     * page / QUANTUM regions. Kept apart from the regions, so neither a
     * flush nor a fill touches the memory of the blocks it moves. */
    uint64_t slab_free[SEGMENT_SIZE / QUANTUM / 64];
} segment_t;

enum { SEG_NORMAL = 1, SEG_HUGE = 2 };

/* A free-run size list, or a bin's non-full slabs (list.h). */
LIST_DEFINE(extent_list, extent_t, next, prev)
/* A free state's runs by age, around the arena's lru sentinel. */
RING_DEFINE(extent_lru, extent_t, u.f.lru_next, u.f.lru_prev)
/* An arena's segments, or its live or cached huge blocks. */
LIST_DEFINE(segment_list, segment_t, next, prev)

static ALWAYS_INLINE segment_t *segment_of(const void *p)
{
    return (segment_t *)(((uintptr_t)p - 1) & ~(uintptr_t)SEGMENT_MASK);
}

static inline size_t page_index(const segment_t *seg, const void *p)
{
    return ((uintptr_t)p - (uintptr_t)seg) >> tai_lg_page;
}

/* The tag of the page holding p (tag.h). */
static ALWAYS_INLINE unsigned page_tag(const segment_t *seg, const void *p)
{
    return seg->page_bin[page_index(seg, p)];
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
    return extent_at(seg, page_index(seg, p));
}

/* A block pointer resolved once. The path that takes p from the caller
 * (free, realloc, usable_size, a cache flush) reads its segment, page
 * and tag here; every layer below takes the reference, not p, so none
 * masks, indexes or loads the tag again. For a huge block seg is its
 * header and page the block's offset in pages from it (page_bin has a
 * slot for that). Valid while the caller owns the block. */
typedef struct block_ref {
    void *p;
    segment_t *seg;
    size_t page;
    unsigned tag;
} block_ref_t;

static ALWAYS_INLINE block_ref_t block_resolve(const void *p)
{
    segment_t *seg = segment_of(p);
    size_t page = page_index(seg, p);
    return (block_ref_t){(void *)p, seg, page, seg->page_bin[page]};
}

/* All under the arena lock. */
HIDDEN segment_t *tai_segment_new(struct arena *a);
/* Unmaps any segment (normal or huge) with no bookkeeping. */
HIDDEN void tai_segment_unmap(segment_t *seg);
/* A run of npages pages aligned to align_pages pages, or NULL; *zeroed
 * tells whether its pages read as zero. */
HIDDEN extent_t *tai_extent_alloc(struct arena *a, size_t npages, size_t align_pages,
                                 bool *zeroed);
/* Returns a run (slab or large) to the arena as dirty. */
HIDDEN void tai_extent_free(struct arena *a, extent_t *e);
/* Shrinks an in-use run in place to npages, freeing the tail. */
HIDDEN void tai_extent_shrink(struct arena *a, extent_t *e, size_t npages);
/* Grows an in-use run in place by taking the free run after it. */
HIDDEN bool tai_extent_grow(struct arena *a, extent_t *e, size_t npages, bool *zeroed);
/* Marks every page of an in-use run so page_head and page_bin find it. */
HIDDEN void tai_extent_map(segment_t *seg, extent_t *e, uint8_t pb, bool all_pages);
/* Unmaps the segments that hold nothing (one clean run from the header
 * to the end); drops the lock around munmap. */
HIDDEN void tai_extent_unmap_empty_segments(struct arena *a);
/* Purges dirty runs freed before `before` (all if before is UINT64_MAX),
 * muzzy likewise with muzzy_before; drops the lock around madvise. */
HIDDEN void tai_extent_purge(struct arena *a, uint64_t dirty_before, uint64_t muzzy_before,
                            bool lazy);

#endif
