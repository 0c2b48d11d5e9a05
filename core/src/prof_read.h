/* Copies of the profile for readers: taken under the profile's lock in
 * one memcpy per table, then read without it. */
#ifndef TA_PROF_READ_H
#define TA_PROF_READ_H

#include "common.h"

typedef struct prof_stack {
    uint64_t hash;
    size_t off;
    uint32_t len;
    uint64_t live_blocks, live_bytes, alloc_blocks, alloc_bytes;
    double live_blocks_est, live_bytes_est, alloc_blocks_est, alloc_bytes_est;
} prof_stack_t;

typedef struct prof_snap {
    prof_stack_t *stacks;
    size_t nstacks;
    uint8_t *pool;
    size_t pool_len;
} prof_snap_t;

HIDDEN int tai_prof_snapshot(prof_snap_t *snap);
HIDDEN void tai_prof_snapshot_free(prof_snap_t *snap);
/* Stack i of the copy; pcs and frames must hold PROF_MAX_C_FRAMES and
 * PROF_MAX_RT_FRAMES entries, and names point into the copy. */
HIDDEN void tai_prof_decode(const prof_snap_t *snap, size_t i, ta_prof_stack *out,
                           uintptr_t *pcs, ta_prof_frame *frames);
/* prof.reset: cumulative counts start again from zero. */
HIDDEN void tai_prof_reset_counts(void);

#endif
