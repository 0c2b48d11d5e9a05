/* Epoch snapshots of every arena's counters. Counters are relaxed atomics
 * written under their own locks, so a snapshot reads them without any
 * arena lock: it costs a few thousand loads per arena, not a stop of the
 * world, and readers see one consistent epoch until the next refresh. */
#include "stats.h"

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "base.h"
#include "init.h"
#include "lock.h"
#include "os.h"
#include "tcache.h"

static mutex_t stats_lock = MUTEX_INITIALIZER;
static stats_arena_t *snap; /* one entry per arena slot, from base memory */
static size_t snap_cap;
static unsigned snap_n;
static stats_arena_t merged;
static uint64_t global[GS_NFIELDS];
static _Atomic uint64_t epoch;

/* Slots grow by doubling so arena churn does not reallocate each epoch. */
static bool grow(size_t n)
{
    size_t cap = snap_cap ? snap_cap : 8;
    while (cap < n)
        cap *= 2;
    stats_arena_t *p = tai_base_alloc(cap * sizeof(*p));
    if (p == NULL)
        return false;
    if (snap)
        tai_base_free(snap, snap_cap * sizeof(*snap));
    snap = p;
    snap_cap = cap;
    return true;
}

/* The "sum" rows of TA_SMALL_STATS and TA_LARGE_STATS: v (the arena's
 * fields) gains o (one class's) of the same name. */
#define SUM_sum(total, class, n) v[total##n] += o[class##n];
#define SUM_derived(total, class, n)
#define SUM_SMALL(n, t, src, d) SUM_##src(AS_small_, BS_, n)
#define SUM_LARGE(n, t, src, d) SUM_##src(AS_large_, LS_, n)

/* Small totals are sums over bins, so they add up by construction and
 * allocated counts cached blocks as the bins see them (handed out). */
static void snap_bins(const arena_t *a, stats_arena_t *s)
{
    uint64_t *v = s->a;
    for (unsigned j = 0; j < NBINS; j++) {
        const bin_stats_t *b = &a->bins[j].stats;
        uint64_t *o = s->bins[j];
#define COPY(n, t, d) o[BS_##n] = ctr_get(&b->n);
        TA_BIN_STATS(COPY)
#undef COPY
        TA_SMALL_STATS(SUM_SMALL)
        v[AS_small_allocated] += o[BS_curregs] * tai_bin_info[j].size;
    }
}

/* Large totals likewise sum the per-class counters. */
static void snap_lextents(const arena_t *a, stats_arena_t *s)
{
    uint64_t *v = s->a;
    for (unsigned j = 0; j < NLEXTENTS; j++) {
        const large_stats_t *l = &a->stats.lstats[j];
        uint64_t *o = s->lext[j];
#define COPY(n, t, d) o[LS_##n] = ctr_get(&l->n);
        TA_LEXTENT_STATS(COPY)
#undef COPY
        TA_LARGE_STATS(SUM_LARGE)
    }
    v[AS_large_allocated] = ctr_get(&a->stats.large_allocated);
}

/* Uptime is in nanoseconds, as jemalloc reports it. */
static void snap_arena(const arena_t *a, stats_arena_t *s, uint64_t now)
{
    const arena_stats_t *st = &a->stats;
    uint64_t *v = s->a;
    memset(v, 0, sizeof(s->a)); /* bins and classes are overwritten whole */
    s->present = true;
    v[AS_nthreads] = atomic_load_explicit(&a->nthreads, memory_order_relaxed);
    v[AS_uptime] = now > a->created_ms ? (now - a->created_ms) * 1000000u : 0;
#define COPY_ctr(n, f) v[AS_##n] = ctr_get(&st->f);
#define COPY_derived(n, f)
#define COPY(n, t, src, f, pre, post, d) COPY_##src(n, f)
    TA_ARENA_STATS(COPY)
#undef COPY
#undef COPY_derived
#undef COPY_ctr
    v[AS_resident] = (v[AS_pactive] + v[AS_pdirty] + v[AS_pmuzzy]) * tai_page + v[AS_metadata];
    snap_bins(a, s);
    snap_lextents(a, s);
}

/* The merged entry is a plain sum; a peak of the sum is not the sum of
 * peaks, so the merged peak is left out (readers get ENOENT). Only the
 * arena-level fields are summed per epoch; per-class sums wait until
 * someone reads them (merge_classes), which keeps the epoch cheap. */
static void merge(const stats_arena_t *s)
{
    for (unsigned k = 0; k < AS_NFIELDS; k++)
        merged.a[k] += s->a[k];
}

static bool merged_classes_done; /* merged.bins/lext match this epoch */

static void merge_classes(void)
{
    if (merged_classes_done)
        return;
    memset(merged.bins, 0, sizeof(merged.bins));
    memset(merged.lext, 0, sizeof(merged.lext));
    for (unsigned i = 0; i < snap_n; i++) {
        const stats_arena_t *s = &snap[i];
        if (!s->present)
            continue;
        for (unsigned j = 0; j < NBINS; j++)
            for (unsigned k = 0; k < BS_NFIELDS; k++)
                merged.bins[j][k] += s->bins[j][k];
        for (unsigned j = 0; j < NLEXTENTS; j++)
            for (unsigned k = 0; k < LS_NFIELDS; k++)
                merged.lext[j][k] += s->lext[j][k];
    }
    merged_classes_done = true;
}

/* Process-wide totals follow jemalloc: metadata includes base memory,
 * resident approximates with every non-clean page plus metadata. */
static void compute_global(uint64_t now)
{
    const uint64_t *m = merged.a;
    uint64_t base = tai_base_mapped();
    merged.a[AS_uptime] = now > tai_start_ms ? (now - tai_start_ms) * 1000000u : 0;
    merged.a[AS_peak] = 0;
    global[GS_allocated] = m[AS_small_allocated] + m[AS_large_allocated];
    global[GS_active] = m[AS_pactive] * tai_page;
    global[GS_metadata] = base + m[AS_metadata];
    global[GS_resident] = (m[AS_pactive] + m[AS_pdirty] + m[AS_pmuzzy]) * tai_page +
                          global[GS_metadata];
    global[GS_mapped] = m[AS_mapped] + base;
    global[GS_retained] = m[AS_retained];
}

/* The global lock keeps arenas from being destroyed mid-read. */
static int refresh_locked(void)
{
    tai_tcache_merge_all_stats();
    unsigned n = atomic_load_explicit(&tai_narenas_total, memory_order_acquire);
    if (n > snap_cap && !grow(n))
        return ENOMEM;
    uint64_t now = tai_os_now_ms();
    memset(merged.a, 0, sizeof(merged.a));
    merged.present = true;
    merged_classes_done = false;
    mutex_lock(&tai_global_lock);
    for (unsigned i = 0; i < n; i++) {
        arena_t *a = atomic_load_explicit(&tai_arenas[i], memory_order_acquire);
        snap[i].present = false;
        if (a == NULL)
            continue;
        snap_arena(a, &snap[i], now);
        merge(&snap[i]);
    }
    mutex_unlock(&tai_global_lock);
    snap_n = n;
    compute_global(now);
    atomic_fetch_add_explicit(&epoch, 1, memory_order_relaxed);
    return 0;
}

/* Serialised by the stats lock, so concurrent epoch writes do not mix. */
int tai_stats_refresh(void)
{
    mutex_lock(&stats_lock);
    int rc = refresh_locked();
    mutex_unlock(&stats_lock);
    return rc;
}

/* Lock-free: the count only grows and needs no consistency with data. */
uint64_t tai_stats_epoch(void) { return atomic_load_explicit(&epoch, memory_order_relaxed); }

/* Readers before the first epoch write still see true numbers. */
static int ensure_locked(void)
{
    return atomic_load_explicit(&epoch, memory_order_relaxed) ? 0 : refresh_locked();
}

/* The snapshot entry for arena i, or NULL; stats lock held. */
static const stats_arena_t *entry(size_t i, bool classes)
{
    if (i == MAX_ARENAS) {
        if (classes)
            merge_classes();
        return &merged;
    }
    if (i < snap_n && snap[i].present)
        return &snap[i];
    return NULL;
}

/* Process-wide totals of the current snapshot. */
int tai_stats_global(unsigned field, uint64_t *out)
{
    mutex_lock(&stats_lock);
    int rc = ensure_locked();
    if (rc == 0)
        *out = global[field];
    mutex_unlock(&stats_lock);
    return rc;
}

/* kind 0: arena field, 1: bin field, 2: large class field. */
static int read_field(size_t i, int kind, size_t j, unsigned field, uint64_t *out)
{
    mutex_lock(&stats_lock);
    int rc = ensure_locked();
    const stats_arena_t *s = rc ? NULL : entry(i, kind != 0);
    if (rc == 0 && s == NULL)
        rc = ENOENT;
    if (s != NULL)
        *out = kind == 0 ? s->a[field] : kind == 1 ? s->bins[j][field] : s->lext[j][field];
    mutex_unlock(&stats_lock);
    return rc;
}

int tai_stats_arena(size_t i, unsigned field, uint64_t *out)
{
    if (!tai_stats_arena_has(i, field))
        return ENOENT;
    return read_field(i, 0, 0, field, out);
}

/* Per-bin values; merged ones are summed on first use in an epoch. */
int tai_stats_bin(size_t i, size_t j, unsigned field, uint64_t *out)
{
    return read_field(i, 1, j, field, out);
}

/* Per-large-class values; merged ones likewise summed on demand. */
int tai_stats_lextent(size_t i, size_t j, unsigned field, uint64_t *out)
{
    return read_field(i, 2, j, field, out);
}

bool tai_stats_present(size_t i)
{
    mutex_lock(&stats_lock);
    bool present = ensure_locked() == 0 && entry(i, false) != NULL;
    mutex_unlock(&stats_lock);
    return present;
}

bool tai_stats_class_used(size_t i, bool large, size_t j)
{
    bool used = false;
    mutex_lock(&stats_lock);
    const stats_arena_t *s = ensure_locked() ? NULL : entry(i, true);
    if (s != NULL && !large && j < NBINS)
        used = stats_row_used(s->bins[j], BS_NFIELDS);
    if (s != NULL && large && j < NLEXTENTS)
        used = stats_row_used(s->lext[j], LS_NFIELDS);
    mutex_unlock(&stats_lock);
    return used;
}

/* A whole entry, so printing runs without the stats lock held. */
int tai_stats_arena_copy(size_t i, stats_arena_t *out)
{
    mutex_lock(&stats_lock);
    int rc = ensure_locked();
    const stats_arena_t *s = rc ? NULL : entry(i, true);
    if (rc == 0 && s == NULL)
        rc = ENOENT;
    if (s != NULL)
        *out = *s;
    mutex_unlock(&stats_lock);
    return rc;
}

/* Bounds the per-arena loop of the text report. */
unsigned tai_stats_narenas(void)
{
    mutex_lock(&stats_lock);
    unsigned n = ensure_locked() ? 0 : snap_n;
    mutex_unlock(&stats_lock);
    return n;
}

/* A fork during an epoch write must not leave the child's lock held. */
FORK_HANDLER void tai_stats_prefork(void) { mutex_lock(&stats_lock); }

/* The child reinitialises the lock; the parent releases it. */
FORK_HANDLER void tai_stats_postfork(bool child)
{
    if (child)
        mutex_init(&stats_lock);
    else
        mutex_unlock(&stats_lock);
}
