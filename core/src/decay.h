/* Decay (decay.c): purge what has aged past the arena's decay times. */
#ifndef TA_DECAY_H
#define TA_DECAY_H

#include "arena.h"

/* Purges what is due, or everything if force_all; takes the arena lock. */
HIDDEN void tai_decay_run(arena_t *a, bool force_all);
/* The decay the structures' reports made due (arena.h: decay_due);
 * takes the arena lock. Through tai_decay_poll. */
HIDDEN void tai_decay_answer(arena_t *a);

/* After a call into a bin, a large run or a huge block of arena a, with
 * no lock held: runs the decay its reports made due, if any. One relaxed
 * load when none is. */
static inline void tai_decay_poll(arena_t *a)
{
    if (unlikely(atomic_load_explicit(&a->decay_due, memory_order_relaxed)))
        tai_decay_answer(a);
}

#endif
