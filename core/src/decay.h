/* Decay (decay.c): purge what has aged past the arena's decay times. */
#ifndef TA_DECAY_H
#define TA_DECAY_H

#include "arena.h"

/* An allocation slow path's event, arena lock held: every few, a purge. */
HIDDEN void tai_decay_tick(arena_t *a);
/* Purges what is due, or everything if force_all; takes the arena lock. */
HIDDEN void tai_decay_run(arena_t *a, bool force_all);
/* A free's event, arena lock held: at once if dirty decay is 0. */
HIDDEN void tai_decay_after_free(arena_t *a);

#endif
