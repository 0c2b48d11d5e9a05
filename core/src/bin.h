/* Bins (bin.c): small regions from slabs, per arena and size class.
 * Callers outside the arena layer go through arena_blocks.h, which adds
 * reclaim and decay around these. */
#ifndef TA_BIN_H
#define TA_BIN_H

#include "arena.h"

/* Small allocation straight from a bin (locks it); NULL when no slab
 * could be had. */
HIDDEN void *tai_bin_alloc(arena_t *a, unsigned cls, bool zero);
/* Takes up to n regions, stored downward from out[n - 1] in the order
 * taken (so a stack pops them in that order); returns how many, which
 * end up in out[n - got .. n - 1]. */
HIDDEN unsigned tai_bin_fill(arena_t *a, unsigned cls, void **out, unsigned n);
/* Returns the regions among items that belong to arena a, under one lock;
 * the others are moved to the front, and their count returned. */
HIDDEN unsigned tai_bin_flush(arena_t *a, unsigned cls, void **items, unsigned n);
HIDDEN void tai_bin_dalloc(arena_t *a, unsigned cls, void *p);
/* Gives the spare empty slabs of the bins back to the arena (decay). */
HIDDEN void tai_bin_release_empty(arena_t *a);

/* The tag of arena a's slab pages of class cls (tag.h). */
static inline uint8_t bin_tag(const arena_t *a, unsigned cls)
{
    return tag_encode(a->manual, tag_arena_colour(a->index), cls);
}

#endif
