/* The profile itself: stacks interned once, with live and cumulative
 * counts, and a table of live sampled blocks keyed by address. One mutex
 * guards both; it is held for table updates and for copying, never for
 * stack walks, callbacks or output. */
#ifndef TA_PROF_DATA_H
#define TA_PROF_DATA_H

#include "common.h"

#define PROF_MAX_C_FRAMES 48
/* C frames kept of a stack that has runtime frames too. */
#define PROF_RT_C_FRAMES 8
#define PROF_MAX_RT_FRAMES 32
/* Bytes of a function or file name kept (longer names are cut). */
#define PROF_MAX_NAME 127

extern HIDDEN _Atomic uint64_t tai_prof_sample_bytes;
extern HIDDEN _Atomic uint64_t tai_prof_seed;
/* Changes whenever sampling restarts, is reseeded or changes its rate:
 * caches draw a new countdown when they see a new value. */
extern HIDDEN _Atomic uint64_t tai_prof_gen;

/* Records a sampled block p of usize usable bytes, sampled with weight w
 * (1 / its inclusion probability), made through a cache of arena origin
 * (cache: the explicit one, or NULL). Walks the stack and asks the
 * frames hook first. false: out of memory
 * for the tables (the block is then not profiled). */
HIDDEN bool tai_prof_record(void *p, size_t usize, double w, void *origin, ta_tcache_t *cache);
/* p leaves the live profile if it is in it. */
HIDDEN void tai_prof_forget(void *p);
/* Live sampled blocks made through caches of arena origin, at most n,
 * taken out of the live profile; their addresses go to out. */
HIDDEN size_t tai_prof_take_origin(void *origin, void **out, size_t n);
/* Adds the count and bytes of live sampled blocks of arena origin. */
HIDDEN void tai_prof_origin_live(const void *origin, uint64_t *blocks, uint64_t *bytes);
/* Whether the calling thread is inside the profiler (its own
 * allocations, and those of the frames hook, are not sampled). */
HIDDEN bool tai_prof_busy(void);
HIDDEN void tai_prof_data_prefork(void);
HIDDEN void tai_prof_data_postfork(bool child);

#endif
