/* Metadata memory (arenas, caches, snapshots), taken straight from the OS
 * so tunalloc never depends on another malloc. */
#ifndef TA_BASE_H
#define TA_BASE_H

#include "common.h"

/* Zeroed, cache-line aligned; NULL when the OS refuses. */
HIDDEN void *tai_base_alloc(size_t size);
/* Returns a block for reuse by a later tai_base_alloc of the same size. */
HIDDEN void tai_base_free(void *p, size_t size);
/* Bytes mapped for metadata. */
HIDDEN uint64_t tai_base_mapped(void);
HIDDEN void tai_base_prefork(void);
HIDDEN void tai_base_postfork(bool child);

#endif
