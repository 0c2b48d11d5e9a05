/* Huge blocks (huge.c): above LARGE_MAX, a mapping each. */
#ifndef TA_HUGE_H
#define TA_HUGE_H

#include "arena.h"

/* A huge block's header, in the first page of its mapping. The mapping
 * starts a SEGMENT_SIZE-aligned unit and covers whole units (the owner
 * map marks its first unit OWNER_HEAD, the others OWNER_TAIL), so
 * head_of() finds this header from any block pointer, as it finds a
 * segment's. A freed mapping keeps its header while cached for reuse.
 * Every field after head is read and written under the arena lock,
 * except by the one thread that took the block off both lists to trim,
 * grow or move it. */
typedef struct huge {
    /* first: head_of(data) == &huge->head. kind is SEG_HUGE; every tag
     * is PB_NONE but the block's first page's, PB_LARGE */
    map_head_t head;
    bool live;                /* handed out, on huge_live (a second free
                                 sees false); else cached, on huge_cache */
    struct huge *next, *prev; /* the arena's huge_live or huge_cache */
    size_t map_size;          /* bytes mapped from this header: whole
                                 units, at least one */
    char *data;               /* the block: page aligned, after this
                                 header, at most one unit in */
    size_t usize;             /* live: usable bytes, a page multiple, with
                                 data + usize within the mapping; cached:
                                 equal to touched, as counted in pdirty */
    size_t touched;           /* bytes from data that may be dirty (written
                                 since the kernel gave them); live: at
                                 least usize, the pages past it counted
                                 in pdirty and huge_tail_pages while
                                 listed */
    uint64_t stamp;           /* cached: ms when freed, decay's age */
    size_t req;               /* live, secure mode: bytes requested, the
                                 canary after them */
} huge_t;

/* An arena's live or cached huge blocks. */
LIST_DEFINE(huge_list, huge_t, next, prev)

/* The huge header of a head whose kind is SEG_HUGE. */
static inline huge_t *head_huge(map_head_t *h)
{
    TA_ASSERT(h->kind == SEG_HUGE);
    return (huge_t *)h;
}

HIDDEN void *tai_huge_alloc(arena_t *a, size_t size, size_t align, bool zero);
HIDDEN void *tai_huge_resize(huge_t *h, void *p, size_t size);
HIDDEN size_t tai_huge_dalloc(huge_t *h, void *p);
/* Unmaps cached huge mappings freed before `before`; arena lock held,
 * dropped around munmap. */
HIDDEN void tai_huge_purge(arena_t *a, uint64_t before);
/* Takes one SEGMENT_SIZE unit of the cached mappings for a new segment
 * (segment.c), out of the huge lists and statistics, still marked
 * OWNER_HEAD; *dirty: bytes from its start that may be resident. NULL
 * when nothing is cached. Arena lock held. */
HIDDEN void *tai_huge_take_unit(arena_t *a, size_t *dirty);
/* Purges the written pages past each live block's end in its last unit
 * (huge.h: touched), which a reused or shrunk block keeps; arena lock
 * held throughout. */
HIDDEN void tai_huge_purge_tails(arena_t *a);
/* Purges up to `pages` dirty pages of the cached mapping freed longest
 * ago: the last ones it wrote, or all of it unmapped. Returns the pages
 * purged, 0 if nothing is cached. Arena lock held, dropped around the
 * system call. */
HIDDEN size_t tai_huge_purge_oldest(arena_t *a, size_t pages);
/* Dirty pages of the cached mappings; arena lock held. */
HIDDEN uint64_t tai_huge_cached_pages(const arena_t *a);
/* Unmaps every live and cached huge block of an arena being reset or
 * destroyed, with no bookkeeping (the caller zeroes the statistics);
 * every lock of the arena held. */
HIDDEN void tai_huge_discard(arena_t *a);

#endif
