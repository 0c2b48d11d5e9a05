/* Process-wide start-up and the global lock. */
#ifndef TA_INIT_H
#define TA_INIT_H

#include "common.h"
#include "lock.h"

extern HIDDEN _Atomic bool tai_initialized;
/* Serialises arena creation and other rare global changes. */
extern HIDDEN mutex_t tai_global_lock;
extern HIDDEN uint64_t tai_start_ms;

HIDDEN bool tai_init_slow(void);
/* Start-up's own lock, first in the lock order (fork.c). */
HIDDEN void tai_init_prefork(void);
HIDDEN void tai_init_postfork(bool child);

/* True once the allocator is usable; initialises on first call. */
static ALWAYS_INLINE bool tai_ensure_init(void)
{
    if (likely(atomic_load_explicit(&tai_initialized, memory_order_acquire)))
        return true;
    return tai_init_slow();
}

#endif
