/* Decay: pages freed dirty_decay_ms ago are purged by then (lazily, when
 * a muzzy phase is configured), muzzy ones within muzzy_decay_ms.
 * Checked on arena slow paths every few events and by the background
 * thread, so purging costs nothing on the fast paths. The policy sits
 * above what it purges: bins, large runs and huge blocks only report
 * events (arena_report); the arena's block calls (arena_blocks.c) poll
 * for them after each call into those structures. */
#include "arena.h"
#include "bin.h"
#include "decay.h"
#include "huge.h"
#include "opts.h"
#include "verify.h"

/* The free time before which pages are due, for a decay time in ms.
 * Pages become due at 5/8 of the decay time: the background thread looks
 * every eighth of it and purging a big burst takes time too (512 MiB:
 * about 100 ms here), so none stays resident past the configured time. */
static uint64_t due_before(int64_t decay_ms, uint64_t now)
{
    if (decay_ms < 0)
        return 0;
    uint64_t age = (uint64_t)decay_ms / 2 + (uint64_t)decay_ms / 8;
    return now > age ? now - age : 0;
}

/* Dirty pages of runs (not of cached huge mappings) beyond
 * DIRTY_MAX_RATIO times the arena's active pages, plus DIRTY_FLOOR_PAGES,
 * are purged oldest first down to three quarters of that bound, whatever
 * their age. Age alone cannot bound them under churn: a run freed next
 * to a free neighbour merges with it and the merged run counts as freed
 * now, so it never ages; 8 threads replacing random blocks kept 0.6 GiB
 * of dirty runs (0.47 GiB of it resident) beside 0.3 GiB in use (issue 13
 * item 9). The bound is loose, so an arena that reuses its free runs
 * keeps them; the quarter makes purges come in batches. Cached huge
 * mappings keep their own age (nothing merges them) and go by decay. */
#define DIRTY_MAX_RATIO 8

static uint64_t dirty_run_pages(const arena_t *a)
{
    return ctr_get(&a->stats.pdirty) - tai_huge_cached_pages(a) - a->huge_tail_pages;
}

static void purge_excess(arena_t *a, bool lazy)
{
    uint64_t bound = ctr_get(&a->stats.pactive) * DIRTY_MAX_RATIO + DIRTY_FLOOR_PAGES;
    if (ctr_get(&a->stats.pdirty) <= bound || dirty_run_pages(a) <= bound)
        return;
    extent_t *lru = &a->lru[EXT_DIRTY];
    while (lru->u.f.lru_next != lru && dirty_run_pages(a) > bound / 4 * 3)
        tai_extent_purge(a, lru->u.f.lru_next->u.f.stamp + 1, 0, lazy);
}

/* Purges up to todo dirty pages, the ones least likely to be wanted
 * again first, and returns how many of todo are left. Dirty runs go
 * first, oldest first, each from its end (each serves only runs that fit
 * where it lies); then cached huge mappings, oldest first and from their
 * end (they serve huge blocks and new segments alike); then the pages
 * past live huge blocks' ends (their block's next reuse would fault them
 * in again). With MADV_DONTNEED even when a muzzy phase is set: the
 * kernel counts lazily freed pages as resident until it takes them.
 * Only todo pages go, however much the others free while the lock is
 * dropped around madvise: what they free now is what they take next. */
static uint64_t purge_pages(arena_t *a, uint64_t todo)
{
    size_t n;
    while (todo && (n = tai_extent_purge_oldest(a, todo)))
        todo = n < todo ? todo - n : 0;
    while (todo && (n = tai_huge_purge_oldest(a, todo)))
        todo = n < todo ? todo - n : 0;
    if (todo && a->huge_tail_pages) {
        n = a->huge_tail_pages;
        tai_huge_purge_tails(a);
        todo = n < todo ? todo - n : 0;
    }
    return todo;
}

/* When the arena took pages that are not resident (arena_report_fresh)
 * and its active and dirty pages together are then more than
 * opt.dirty_max_pct above the most it ever had active, plus
 * DIRTY_FLOOR_PAGES, its dirty pages go back to a quarter of that
 * allowance below it (dirty_purge_target), so the purges of a churn that
 * stays at the bound come in batches, not one per page it takes. The
 * resident set then grows past the peak of what is in use by that much
 * at most, while below the peak every dirty page is kept for reuse.
 * Spare slabs stay (bins release them on every decay run). */
static void purge_beyond_peak(arena_t *a)
{
    uint64_t kept = ctr_get(&a->stats.pactive) + ctr_get(&a->stats.pdirty);
    uint64_t peak = ctr_get(&a->stats.peak_active) >> tai_lg_page;
    if (kept > arena_resident_cap(a))
        purge_pages(a, kept - dirty_purge_target(peak, DIRTY_FLOOR_PAGES));
}

/* The automatic arenas' share of the bound (tai_arena_auto_excess), after
 * arena self answered its fresh pages with its own lock dropped: a
 * thread's blocks freed by another thread go back to the arena that
 * holds them, so when the live set moves from one arena to another the
 * one it left keeps its pages dirty (below its own peak) while the other
 * takes new ones (so only while self is at its peak). Only the other
 * arenas' dirty pages go, and only idle ones' (tai_arena_auto_idle).
 * Where threads of every arena allocate (8 threads sharing one table,
 * bench/soak.c), the pages each keeps dirty below its peak are the ones
 * it takes next: purging them was half of what the soak purged. */
static void purge_auto(arena_t *self)
{
    uint64_t todo = tai_arena_auto_excess(self, true);
    for (unsigned k = 1; todo && k < tai_narenas_auto; k++) {
        arena_t *a = atomic_load_explicit(&tai_arenas[(self->index + k) % tai_narenas_auto],
                                          memory_order_acquire);
        if (!a || atomic_load_explicit(&a->dirty_decay_ms, memory_order_relaxed) <= 0 ||
            !ctr_get(&a->stats.pdirty) || !tai_arena_auto_idle(a, tai_os_now_ms()))
            continue;
        mutex_lock(&a->lock);
        todo = purge_pages(a, todo);
        mutex_unlock(&a->lock);
    }
}

/* Arena lock held (dropped and retaken while purging). Returns whether
 * it answered pages taken fresh under the dirty bound. */
static bool decay_locked(arena_t *a, bool force_all)
{
    atomic_store_explicit(&a->decay_due, false, memory_order_relaxed);
    int64_t dirty = atomic_load_explicit(&a->dirty_decay_ms, memory_order_relaxed);
    int64_t muzzy = atomic_load_explicit(&a->muzzy_decay_ms, memory_order_relaxed);
    uint64_t now = tai_os_now_ms();
    uint64_t dirty_before = force_all ? UINT64_MAX : due_before(dirty, now);
    uint64_t muzzy_before = force_all ? UINT64_MAX : due_before(muzzy, now);
    /* dirty_decay_ms 0 means "at once": stamps equal to now count too */
    if (!force_all && dirty == 0)
        dirty_before = UINT64_MAX;
    if (!force_all && muzzy == 0)
        muzzy_before = UINT64_MAX;
    bool fresh = a->took_fresh;
    a->took_fresh = false;
    tai_extent_purge(a, dirty_before, muzzy_before, !force_all && muzzy != 0);
    tai_huge_purge(a, dirty_before);
    if (force_all && a->huge_tail_pages)
        tai_huge_purge_tails(a);
    if (force_all || dirty <= 0)
        return false;
    purge_excess(a, muzzy != 0);
    if (fresh)
        purge_beyond_peak(a);
    return fresh;
}

void tai_decay_answer(arena_t *a)
{
    mutex_lock(&a->lock);
    bool fresh = atomic_load_explicit(&a->decay_due, memory_order_relaxed) &&
                 decay_locked(a, false);
    mutex_unlock(&a->lock);
    if (fresh && !a->manual && arena_at_peak(a))
        purge_auto(a);
}

/* Spare slabs go back on every run (unless decay is off), so an idle
 * process with a background thread keeps none. */
void tai_decay_run(arena_t *a, bool force_all)
{
    if (force_all || atomic_load_explicit(&a->dirty_decay_ms, memory_order_relaxed) >= 0)
        tai_bin_release_empty(a);
    mutex_lock(&a->lock);
    decay_locked(a, force_all);
    mutex_unlock(&a->lock);
    TA_VERIFY_ARENA(a);
}
