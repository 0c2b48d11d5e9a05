/* The C stack of a sample. */
#ifndef TA_PROF_WALK_H
#define TA_PROF_WALK_H

#include "common.h"

/* What backtrace(pcs, max) gives (pcs[0] the return address into the
 * caller), without its cost: each return address's unwinding rule is
 * read once from the object's .eh_frame and kept in a cache, so a frame
 * walked again costs a few loads instead of libgcc's search and
 * interpretation. Takes no lock and allocates nothing on a cached frame;
 * reads only the thread's stack between its own frame and the stack's
 * top, so a garbage frame ends the walk instead of faulting. Falls back
 * to backtrace() for what it does not handle (another architecture, a
 * rule through a DWARF expression, a stack it cannot bound). */
#define PROF_WALK_MAX 64
HIDDEN int tai_prof_walk(void **pcs, int max);
/* Walks that went to backtrace(): rare, each as dear as before. */
extern HIDDEN _Atomic uint64_t tai_prof_walk_fallbacks;

#endif
