/* Pointer validation for checked mode (opt.check) and ta_check_ptr, and
 * the one report every detected heap error goes through. */
#ifndef TA_CHECK_H
#define TA_CHECK_H

#include "common.h"

/* What a bad pointer handed back to the allocator did wrong. */
typedef enum tai_heap_error {
    TA_ERR_INVALID,  /* not a block tunalloc handed out (or no longer one) */
    TA_ERR_DOUBLE,   /* a block already freed */
    TA_ERR_INTERIOR, /* inside a block, not at its start */
    TA_ERR_OVERFLOW, /* the canary past the block's requested size was overwritten */
} tai_heap_error_t;

/* One line on stderr with the error, the address and the kind of block
 * ("small", "large", "huge"; NULL if unknown); then abort() if
 * opt.abort_on_error, else return: the caller refuses the free (an
 * overflow's block is still freed, its neighbours are not). */
HIDDEN void tai_heap_error(tai_heap_error_t err, const void *p, const char *block);
/* True if p is a live block that size fits: the size last asked for may
 * name a smaller class than the block's, as a shrink that could not move
 * keeps its block. */
HIDDEN bool tai_check_size(const void *p, size_t size);
/* Checked and secure modes: true if p may be freed (secure mode also
 * unmarks it when release is set); otherwise reported, false. */
HIDDEN bool tai_check_free(void *p, bool release);

#endif
