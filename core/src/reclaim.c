/* Recovery from refused mappings. Under an address-space limit
 * (RLIMIT_AS) or strict commit accounting (vm.overcommit_memory=2) the
 * kernel counts what is mapped, not what is resident, so memory tunalloc
 * keeps for reuse (cached huge mappings, free runs, empty segments) can be
 * what stops a new mapping; purging pages is not enough, only unmapping
 * gives the room back. When a mapping fails, every arena is emptied of
 * what it holds unused and the allocation is tried once more. */
#include "reclaim.h"

#include "arena.h"
#include "decay.h"
#include "init.h"

/* Refusals counted when the last reclaim began; under the global lock. */
static uint64_t reclaimed_at;

uint64_t tai_reclaim_mark(void) { return tai_os_map_refusals(); }

/* Purging first turns every free run clean, so the runs of a segment
 * with nothing left in it merge into one and the segment can go. */
static void reclaim_arena(arena_t *a)
{
    tai_decay_run(a, true);
    mutex_lock(&a->lock);
    tai_extent_unmap_empty_segments(a);
    mutex_unlock(&a->lock);
}

/* Under the global lock, which keeps arenas from being destroyed while
 * they are emptied and serialises reclaims: threads failing together find
 * the work done by the first and just retry. Lock order as elsewhere:
 * global, then an arena's bins, then the arena; the caller holds none, so
 * other arenas are reached without inversion. */
bool tai_reclaim_retry(uint64_t mark)
{
    uint64_t refused = tai_os_map_refusals();
    if (refused == mark)
        return false;
    mutex_lock(&tai_global_lock);
    if (reclaimed_at < refused) {
        reclaimed_at = tai_os_map_refusals();
        unsigned n = atomic_load_explicit(&tai_narenas_total, memory_order_acquire);
        for (unsigned i = 0; i < n; i++) {
            arena_t *a = atomic_load_explicit(&tai_arenas[i], memory_order_acquire);
            if (a)
                reclaim_arena(a);
        }
    }
    mutex_unlock(&tai_global_lock);
    return true;
}
