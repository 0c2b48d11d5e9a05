/* The arena table: creation on demand, the choice of arena for a new
 * thread, reset/destroy of manual arenas, and fork handling of their
 * locks. */
#include <errno.h>
#include <string.h>

#include "arena.h"
#include "base.h"
#include "huge.h"
#include "init.h"
#include "opts.h"
#include "secure.h"
#include "verify.h"

_Atomic(arena_t *) tai_arenas[MAX_ARENAS];
_Atomic unsigned tai_narenas_total;
unsigned tai_narenas_auto;
_Atomic int64_t tai_default_dirty_decay_ms = 10000;
_Atomic int64_t tai_default_muzzy_decay_ms = 0;
void (*tai_arena_discarded)(arena_t *a);

static void arena_init(arena_t *a, unsigned index, bool manual, const ta_arena_opts *opts)
{
    mutex_init(&a->lock);
    a->index = index;
    a->manual = manual;
    a->huge_pages = false;
    int64_t dirty = atomic_load(&tai_default_dirty_decay_ms);
    int64_t muzzy = atomic_load(&tai_default_muzzy_decay_ms);
    size_t limit = tai_opt.arena_limit;
    if (opts) {
        if (opts->dirty_decay_ms != TA_DECAY_DEFAULT)
            dirty = opts->dirty_decay_ms;
        if (opts->muzzy_decay_ms != TA_DECAY_DEFAULT)
            muzzy = opts->muzzy_decay_ms;
        limit = opts->limit;
    }
    atomic_store(&a->dirty_decay_ms, dirty);
    atomic_store(&a->muzzy_decay_ms, muzzy);
    atomic_store(&a->limit, limit);
    a->created_ms = tai_os_now_ms();
    for (int k = 0; k < 2; k++)
        extent_lru_init(&a->lru[k]);
    for (unsigned c = 0; c < NBINS; c++)
        mutex_init(&a->bins[c].lock);
}

/* Takes a table slot and publishes a new arena in it; global lock held. */
static arena_t *arena_create_locked(unsigned index, bool manual, const ta_arena_opts *opts)
{
    arena_t *a = tai_base_alloc(sizeof(arena_t));
    if (!a)
        return NULL;
    arena_init(a, index, manual, opts);
    ctr_set(&a->stats.metadata, 0);
    atomic_store_explicit(&tai_arenas[index], a, memory_order_release);
    if (index >= atomic_load(&tai_narenas_total))
        atomic_store_explicit(&tai_narenas_total, index + 1, memory_order_release);
    return a;
}

arena_t *tai_arena_get_or_create(unsigned index)
{
    arena_t *a = atomic_load_explicit(&tai_arenas[index], memory_order_acquire);
    if (a || index >= tai_narenas_auto)
        return a;
    mutex_lock(&tai_global_lock);
    a = atomic_load_explicit(&tai_arenas[index], memory_order_acquire);
    if (!a)
        a = arena_create_locked(index, false, NULL);
    mutex_unlock(&tai_global_lock);
    return a;
}

/* Fewest bound threads wins; unused slots count as empty arenas. The
 * winner comes back with one more thread counted on it, taken by a
 * compare-and-swap against the count the scan saw (the caller drops it
 * once its own binding counts): threads that start together would
 * otherwise all see the same least-loaded arena before any of them is
 * bound, and get neighbouring blocks of one slab, the same cache lines. */
arena_t *tai_arena_choose(void)
{
    for (;;) {
        unsigned best = 0, best_load = UINT32_MAX;
        for (unsigned i = 0; i < tai_narenas_auto; i++) {
            arena_t *a = atomic_load_explicit(&tai_arenas[i], memory_order_acquire);
            unsigned load = a ? atomic_load_explicit(&a->nthreads, memory_order_relaxed) : 0;
            if (load < best_load) {
                best = i;
                best_load = load;
                if (!load)
                    break;
            }
        }
        arena_t *a = tai_arena_get_or_create(best);
        if (!a) {
            a = tai_arena_get_or_create(0);
            if (a)
                atomic_fetch_add_explicit(&a->nthreads, 1, memory_order_relaxed);
            return a;
        }
        if (atomic_compare_exchange_weak_explicit(&a->nthreads, &best_load, best_load + 1,
                                                  memory_order_relaxed, memory_order_relaxed))
            return a;
    }
}

arena_t *tai_arena_new(bool manual, const ta_arena_opts *opts)
{
    mutex_lock(&tai_global_lock);
    arena_t *a = NULL;
    for (unsigned i = tai_narenas_auto; i < MAX_ARENAS; i++) {
        if (!atomic_load_explicit(&tai_arenas[i], memory_order_acquire)) {
            a = arena_create_locked(i, manual, opts);
            break;
        }
    }
    mutex_unlock(&tai_global_lock);
    return a;
}

/* The most active pages of the automatic arenas together. */
static _Atomic uint64_t auto_peak;

bool tai_arena_auto_idle(arena_t *a, uint64_t now)
{
    if (!atomic_load_explicit(&a->nthreads, memory_order_relaxed))
        return true;
    if (atomic_load_explicit(&a->allocating, memory_order_relaxed)) {
        atomic_store_explicit(&a->allocating, false, memory_order_relaxed);
        atomic_store_explicit(&a->quiet_ms, now, memory_order_relaxed);
        return false;
    }
    /* not now - quiet_ms: another caller may have stored a later now */
    return now >= atomic_load_explicit(&a->quiet_ms, memory_order_relaxed) + AUTO_IDLE_MS;
}

uint64_t tai_arena_auto_excess(const arena_t *self, bool batch)
{
    uint64_t active = 0, dirty = 0, others = 0, now = tai_os_now_ms();
    for (unsigned i = 0; i < tai_narenas_auto; i++) {
        arena_t *a = atomic_load_explicit(&tai_arenas[i], memory_order_acquire);
        if (!a || atomic_load_explicit(&a->dirty_decay_ms, memory_order_relaxed) < 0)
            continue;
        active += ctr_get(&a->stats.pactive);
        dirty += ctr_get(&a->stats.pdirty);
        if (a != self && atomic_load_explicit(&a->dirty_decay_ms, memory_order_relaxed) > 0 &&
            tai_arena_auto_idle(a, now))
            others += ctr_get(&a->stats.pdirty);
    }
    uint64_t peak = atomic_load_explicit(&auto_peak, memory_order_relaxed);
    while (active > peak && !atomic_compare_exchange_weak_explicit(
                                &auto_peak, &peak, active, memory_order_relaxed,
                                memory_order_relaxed))
        ;
    peak = active > peak ? active : peak;
    uint64_t kept = active + dirty, cap = peak + dirty_allowance(peak, AUTO_DIRTY_FLOOR_PAGES);
    if (kept <= cap)
        return 0;
    uint64_t excess = kept - (batch ? dirty_purge_target(peak, AUTO_DIRTY_FLOOR_PAGES) : cap);
    return excess < others ? excess : others;
}

void tai_arena_note_active(arena_t *a)
{
    uint64_t active = ctr_get(&a->stats.pactive) << tai_lg_page;
    if (active > ctr_get(&a->stats.peak_active))
        ctr_set(&a->stats.peak_active, active);
}

void tai_arena_count_large(arena_t *a, size_t usize, bool alloc)
{
    large_stats_t *ls = &a->stats.lstats[lextent_index(usize)];
    if (alloc) {
        ctr_add(&ls->nmalloc, 1);
        ctr_add(&ls->nrequests, 1);
        ctr_add(&ls->curlextents, 1);
        ctr_add(&a->stats.large_allocated, usize);
    } else {
        ctr_add(&ls->ndalloc, 1);
        ctr_sub(&ls->curlextents, 1);
        ctr_sub(&a->stats.large_allocated, usize);
    }
}

COLD static void lock_all(arena_t *a)
{
    for (unsigned c = 0; c < NBINS; c++)
        mutex_lock(&a->bins[c].lock);
    mutex_lock(&a->lock);
}

COLD static void unlock_all(arena_t *a)
{
    mutex_unlock(&a->lock);
    for (unsigned c = 0; c < NBINS; c++)
        mutex_unlock(&a->bins[c].lock);
}

/* Unmaps every segment and huge mapping, counting what was live as
 * freed so nmalloc - ndalloc stays equal to the current counts. */
COLD static void discard_all(arena_t *a)
{
    for (unsigned c = 0; c < NBINS; c++) {
        bin_t *bin = &a->bins[c];
        ctr_add(&bin->stats.ndalloc, ctr_get(&bin->stats.curregs));
        ctr_set(&bin->stats.curregs, 0);
        ctr_set(&bin->stats.curslabs, 0);
        bin->cur = bin->nonfull = bin->spare = NULL;
        bin->nspare = 0;
    }
    for (unsigned j = 0; j < NLEXTENTS; j++) {
        large_stats_t *ls = &a->stats.lstats[j];
        ctr_add(&ls->ndalloc, ctr_get(&ls->curlextents));
        ctr_set(&ls->curlextents, 0);
    }
    for (segment_t *s = a->segments, *next; s; s = next) {
        next = s->next;
        if (tai_opt.secure)
            tai_secure_forget_guards(s);
        tai_segment_unmap(s);
    }
    a->segments = NULL;
    tai_huge_discard(a);
    memset(a->avail, 0, sizeof(a->avail));
    memset(a->avail_mask, 0, sizeof(a->avail_mask));
    for (int k = 0; k < 2; k++)
        extent_lru_init(&a->lru[k]);
    counter_t *zero[] = {&a->stats.pactive, &a->stats.pdirty, &a->stats.pmuzzy,
                         &a->stats.mapped, &a->stats.retained, &a->stats.metadata,
                         &a->stats.large_allocated};
    for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
        ctr_set(zero[i], 0);
}

COLD static int check_resettable(arena_t *a)
{
    if (!a->manual)
        return EPERM;
    /* acquire: pairs with the release of the last unbinding, so what
     * that thread did in the arena happens before the arena is freed */
    if (atomic_load_explicit(&a->nthreads, memory_order_acquire))
        return EBUSY;
    return 0;
}

/* Under the global lock, like destroy, so no ctl or background purge is
 * inside the arena with its lock dropped while the segments go away. */
COLD int tai_arena_reset(arena_t *a)
{
    mutex_lock(&tai_global_lock);
    int err = check_resettable(a);
    if (!err) {
        lock_all(a);
        discard_all(a);
        unlock_all(a);
        TA_VERIFY_ARENA(a);
    }
    mutex_unlock(&tai_global_lock);
    if (!err && tai_arena_discarded)
        tai_arena_discarded(a);
    return err;
}

COLD int tai_arena_destroy_internal(arena_t *a)
{
    mutex_lock(&tai_global_lock);
    int err = check_resettable(a);
    if (!err) {
        atomic_store_explicit(&tai_arenas[a->index], NULL, memory_order_release);
        lock_all(a);
        discard_all(a);
        unlock_all(a);
    }
    mutex_unlock(&tai_global_lock);
    if (!err) {
        if (tai_arena_discarded)
            tai_arena_discarded(a);
        tai_base_free(a, sizeof(arena_t));
    }
    return err;
}

void tai_arena_prefork(void)
{
    unsigned n = atomic_load(&tai_narenas_total);
    for (unsigned i = 0; i < n; i++) {
        arena_t *a = atomic_load(&tai_arenas[i]);
        if (a)
            lock_all(a);
    }
}

void tai_arena_postfork(bool child)
{
    unsigned n = atomic_load(&tai_narenas_total);
    for (unsigned i = 0; i < n; i++) {
        arena_t *a = atomic_load(&tai_arenas[i]);
        if (!a)
            continue;
        if (!child) {
            unlock_all(a);
            continue;
        }
        mutex_init(&a->lock);
        for (unsigned c = 0; c < NBINS; c++)
            mutex_init(&a->bins[c].lock);
    }
}
