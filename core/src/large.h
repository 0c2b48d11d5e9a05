/* Large blocks (large.c): page runs for (SMALL_MAX, LARGE_MAX], and the
 * entry for every block above SMALL_MAX, huge ones passed on to huge.h.
 * Callers outside the arena layer allocate, free and resize through
 * arena_blocks.h, which adds reclaim and decay around these. */
#ifndef TA_LARGE_H
#define TA_LARGE_H

#include "arena.h"

HIDDEN void *tai_large_alloc(arena_t *a, size_t size, size_t align, bool zero);
/* Frees a large or huge block; returns its usable size, or 0 if p was
 * no live block's start (reported, nothing freed). */
HIDDEN size_t tai_large_dalloc(const block_ref_t *b);
HIDDEN size_t tai_large_usize(const block_ref_t *b);
/* Resizes without copying (in place, or by moving a huge mapping's
 * pages); the block's address, or NULL if it must be copied. */
HIDDEN void *tai_large_resize(const block_ref_t *b, size_t size);
/* Moves a large run that cannot grow where it stands to a new run of
 * its arena with room to grow after it, copying; its address, or NULL
 * (huge, secure mode, no such run). */
HIDDEN void *tai_large_move(const block_ref_t *b, size_t size);

#endif
