/* Process-wide start-up, fork handling and the global lock. */
#ifndef TA_INIT_H
#define TA_INIT_H

#include "common.h"
#include "lock.h"

extern HIDDEN _Atomic bool ta_initialized;
/* Serialises arena creation and other rare global changes. */
extern HIDDEN mutex_t ta_global_lock;
extern HIDDEN uint64_t ta_start_ms;

HIDDEN bool ta_init_slow(void);

/* True once the allocator is usable; initialises on first call. */
static ALWAYS_INLINE bool ta_ensure_init(void)
{
    if (likely(atomic_load_explicit(&ta_initialized, memory_order_acquire)))
        return true;
    return ta_init_slow();
}

#endif
