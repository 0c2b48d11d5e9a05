/* An arena's blocks (arena_blocks.c): the calls caches, entry points and
 * the profiler make to take blocks from an arena and give them back. */
#ifndef TA_ARENA_BLOCKS_H
#define TA_ARENA_BLOCKS_H

#include "arena.h"

/* Small: up to n regions of class cls, stored as tai_bin_fill stores
 * them; how many. */
HIDDEN unsigned tai_arena_fill(arena_t *a, unsigned cls, void **out, unsigned n);
/* One small region of class cls (zeroed if zero), or NULL. */
HIDDEN void *tai_arena_alloc_small(arena_t *a, unsigned cls, bool zero);
/* Returns the regions among items that belong to arena a; the others
 * are moved to the front, and their count returned (tai_bin_flush). */
HIDDEN unsigned tai_arena_flush(arena_t *a, unsigned cls, void **items, unsigned n);
HIDDEN void tai_arena_dalloc_small(arena_t *a, unsigned cls, void *p);
/* A large or huge block (align 0 or a power of two), or NULL. */
HIDDEN void *tai_arena_alloc_large(arena_t *a, size_t size, size_t align, bool zero);
/* Frees a large or huge block; its usable size, or 0 if b was no live
 * block's start (reported, nothing freed). */
HIDDEN size_t tai_arena_dalloc_large(const block_ref_t *b);
/* Resizes a large or huge block without copying; its address, or NULL
 * if it must be copied (tai_large_resize). */
HIDDEN void *tai_arena_resize_large(const block_ref_t *b, size_t size);
/* Grows a large block into a new run of its arena, copying; its address,
 * or NULL (tai_large_move). */
HIDDEN void *tai_arena_move_large(const block_ref_t *b, size_t size);

#endif
