/* Secure mode (opt.secure): exact detection of double and invalid frees
 * on every path, guard pages after slabs and large runs, slabs handing
 * out their regions in random order, and canaries in the unused tail of
 * blocks. Nothing here runs, and the fast paths test nothing for it, when
 * the mode is off: secure implies check, which already sends every free
 * to the slow path, and the thread cache the fast paths see is empty. */
#ifndef TA_SECURE_H
#define TA_SECURE_H

#include "extent.h"
#include "opts.h"

/* A normal segment in secure mode has one byte per quantum right after
 * its header struct: 0 where no live block starts, else the block is
 * handed out and the byte tells where its canary is. */
#define SECURE_MAP_BYTES (SEGMENT_SIZE >> LG_QUANTUM)

static inline size_t tai_secure_map_bytes(void) { return tai_opt.secure ? SECURE_MAP_BYTES : 0; }
/* Empty slabs a bin keeps in secure mode until decay. */
#define SECURE_SPARES 8

/* Pages after each slab and large run that fault when touched; part of
 * the run, so counted as active. */
static inline size_t tai_guard_pages(void) { return tai_opt.secure ? 1 : 0; }

/* The per-process secret behind canaries and region order; at start-up. */
HIDDEN void tai_secure_init(void);
/* A random number from the calling thread's generator. */
HIDDEN uint64_t tai_secure_rand(void);
/* p (just allocated, size bytes requested) is handed out: marked live,
 * canary written. Returns p. */
HIDDEN void *tai_secure_out(void *p, size_t size);
/* p is given back: true if it is a live block's start, which release
 * unmarks (one atomic exchange, so of two racing frees one fails);
 * reports and returns false otherwise. An overwritten canary is reported
 * too, but the block may still be freed. */
HIDDEN bool tai_secure_check(void *p, bool release);
/* ta_check_ptr for a normal segment (p owned and quantum aligned). */
HIDDEN bool tai_secure_is_live(segment_t *seg, const void *p);
/* The size p was requested with (the canary is not the program's). */
HIDDEN size_t tai_secure_usable(const void *p);
/* Guard pages at a time: each splits a mapping, and Linux allows 65530
 * per process by default; past this, runs go without one. */
#define SECURE_MAX_GUARDS 16384

/* Makes the last page of in-use run e (secure mode) a guard, if the
 * budget and the kernel allow; tai_extent_free undoes it. */
HIDDEN void tai_secure_guard(extent_t *e);
HIDDEN void tai_secure_unguard(extent_t *e);
/* A normal segment about to be unmapped with its runs in use (arena
 * reset or destroy): its guards go back to the budget. */
HIDDEN void tai_secure_forget_guards(segment_t *seg);

#endif
