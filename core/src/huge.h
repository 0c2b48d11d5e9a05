/* Huge blocks (huge.c): above LARGE_MAX, a mapping each. */
#ifndef TA_HUGE_H
#define TA_HUGE_H

#include "arena.h"

HIDDEN void *tai_huge_alloc(arena_t *a, size_t size, size_t align, bool zero);
HIDDEN void *tai_huge_resize(segment_t *seg, void *p, size_t size);
HIDDEN size_t tai_huge_dalloc(segment_t *seg, void *p);
/* Unmaps cached huge mappings freed before `before`; arena lock held,
 * dropped around munmap. */
HIDDEN void tai_huge_purge(arena_t *a, uint64_t before);

#endif
