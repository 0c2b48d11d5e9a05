/* Everything tunalloc asks of the kernel: mappings, purging, time. */
#ifndef TA_OS_H
#define TA_OS_H

#include "common.h"

extern HIDDEN size_t tai_page;      /* run-time page size */
extern HIDDEN unsigned tai_lg_page; /* log2(tai_page) */

HIDDEN void tai_os_init(void);
HIDDEN unsigned tai_os_ncpus(void);
/* A fresh zeroed mapping, or NULL. */
HIDDEN void *tai_os_map(size_t size);
/* How many times the kernel refused tai_os_map so far (reclaim.c). */
HIDDEN uint64_t tai_os_map_refusals(void);
/* A fresh mapping of size bytes aligned to align (a power of two). */
HIDDEN void *tai_os_map_aligned(size_t size, size_t align);
HIDDEN void tai_os_unmap(void *p, size_t size);
/* Tries to grow the mapping at p from old to new size without moving. */
HIDDEN bool tai_os_extend(void *p, size_t old_size, size_t new_size);
/* Moves the pages of [p, p+old_size) onto target (a mapping of new_size
 * bytes, which it replaces) without copying; false if the kernel refused. */
HIDDEN bool tai_os_move(void *p, size_t old_size, size_t new_size, void *target);
/* Pages stay mapped and read as zero afterwards. */
HIDDEN void tai_os_purge_forced(void *p, size_t size);
/* Pages may be reclaimed lazily; returns false if the kernel refuses. */
HIDDEN bool tai_os_purge_lazy(void *p, size_t size);
/* Asks for transparent huge pages behind [p, p+size) as it is faulted
 * in; 0 or the kernel's errno (EINVAL: no THP in this kernel). */
HIDDEN int tai_os_huge_pages(void *p, size_t size);
HIDDEN uint64_t tai_os_now_ms(void);

#endif
