/* What tunalloc does when the kernel refuses a mapping: give back every
 * arena's unused memory and try once more. The policy lives here; the
 * arena's block calls (arena_blocks.c) wrap every allocation from a bin
 * or a large run in it, so neither structure calls up into it. */
#ifndef TA_RECLAIM_H
#define TA_RECLAIM_H

#include "common.h"

/* Taken before an attempt: the count of mappings the kernel refused. */
HIDDEN uint64_t tai_reclaim_mark(void);
/* After an attempt failed: if the kernel refused a mapping since mark,
 * gives back what every arena holds unused (spare slabs, dirty and muzzy
 * pages, cached huge mappings, segments with nothing in them) and returns
 * true: the caller tries once more. False when no mapping was refused (a
 * limit or a bad size, which giving memory back cannot help). The caller
 * holds no lock. */
HIDDEN bool tai_reclaim_retry(uint64_t mark);

#endif
