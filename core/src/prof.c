/* Sampling. A cache that samples shows every bin empty and full (its real
 * stack levels move to its struct prof_tc), so each pop and push misses
 * into the paths below, which put one bin back, count the bytes, and hide
 * it again. The byte countdown is the cache's own: no lock, no atomic.
 *
 * Every allocation through a sampling cache is counted, hits of the real
 * stacks included, so the sampling is exactly the per-byte Poisson
 * process of jemalloc and tcmalloc: after each sample the countdown is
 * drawn afresh from an exponential distribution of mean sample_bytes,
 * which makes the chance that a block of u bytes is sampled
 * 1 - exp(-u / sample_bytes), whatever came before. Each sample carries
 * the inverse of that chance as its weight, so the estimates are
 * unbiased. Allocations made without a cache (arenas used directly,
 * tcache:false) are not sampled. */
#include <string.h>

#include "arena.h"
#include "arena_blocks.h"
#include "base.h"
#include "large.h"
#include "lock.h"
#include "opts.h"
#include "prof.h"
#include "prof_data.h"
#include "thread.h"

atomic_bool tai_prof_on;
atomic_bool tai_prof_engaged;

static mutex_t arena_lock = MUTEX_INITIALIZER;
_Atomic(arena_t *) tai_prof_arena;

/* ---- numbers without libm --------------------------------------------- */

/* e^x for x <= 0: x = k ln2 + r with |r| <= ln2 / 2, then a series. */
static double exp_neg(double x)
{
    if (x < -700)
        return 0;
    static const double ln2 = 0.69314718055994530942;
    int k = (int)(x / ln2 - 0.5);
    double r = x - k * ln2, term = 1, sum = 1;
    for (int i = 1; i < 20; i++) {
        term *= r / i;
        sum += term;
    }
    for (; k < 0; k++)
        sum *= 0.5;
    return sum;
}

/* 1 - e^-x for x >= 0, exact to rounding also for tiny x. */
static double one_minus_exp_neg(double x)
{
    if (x > 0.5)
        return 1 - exp_neg(-x);
    double term = x, sum = x;
    for (int i = 2; i < 20; i++) {
        term *= -x / i;
        sum += term;
    }
    return sum;
}

/* ln u for u in (0, 1]: u = m 2^e with m in [1, 2), ln m = 2 atanh z. */
static double log_unit(double u)
{
    int e = 0;
    while (u < 1) {
        u *= 2;
        e--;
    }
    double z = (u - 1) / (u + 1), z2 = z * z, term = z, sum = 0;
    for (int i = 1; i < 40; i += 2) {
        sum += term / i;
        term *= z2;
    }
    return 2 * sum + e * 0.69314718055994530942;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Bytes to the next sample: exponential with the configured mean. */
static int64_t draw_countdown(struct prof_tc *pt)
{
    double u = (double)((rng_next(&pt->rng) >> 11) + 1) / 9007199254740992.0; /* (0, 1] */
    double mean = (double)atomic_load_explicit(&tai_prof_sample_bytes, memory_order_relaxed);
    double d = -mean * log_unit(u);
    return d >= 9e18 ? INT64_MAX : (int64_t)d + 1;
}

/* ---- windows onto a cache's stacks ------------------------------------ */

/* Reads of the profile the calling thread is inside (ta_prof_read_begin):
 * its allocations meanwhile are neither sampled nor counted, so no window
 * opens for them (one would be paid from the countdown). */
static TA_TLS unsigned reading;

/* The real level of class c now: the blocks under the window, those the
 * window still shows and those freed onto the free side since. */
static uint32_t real_level(const tcache_t *tc, unsigned c)
{
    return tc->prof->below[c] + tc->bins[c].ncached + tc->side->bins[c].ncached;
}

/* Room on a free side: at most SIDE_MAX blocks, so a block freed is on
 * the window (and popped first) after at most that many more frees of
 * its class, as a cache that does not sample would pop it at once; a
 * block taken again while still in the first-level data cache costs
 * nothing, a cold one a miss (freed blocks left on the side until the
 * window ran out made Python's small_objects 1.5 times as many data-cache
 * misses). */
#define SIDE_MAX 32

/* The free side's room from slot `at` of class c's real stack up. */
static uint32_t side_room(const struct prof_tc *pt, unsigned c, uint32_t at)
{
    uint32_t room = pt->cap[c] - at;
    return room < SIDE_MAX ? room : SIDE_MAX;
}

/* Closes class c's window: the bytes of the blocks it did not hand out go
 * back to the countdown, and the blocks freed onto the free side since it
 * opened slide down onto them, closing the gap the pops left, so the real
 * stack is whole again. The bin then shows nothing, so the next pop of c
 * misses, and the free side takes pushes from the new real level up.
 * Between calls, a hidden bin's stack starts at base + level - window and
 * its free side's where the window's top was when it last grew. */
static void settle(tcache_t *tc, unsigned c)
{
    struct prof_tc *pt = tc->prof;
    cache_bin_t *cb = &tc->bins[c], *sb = &tc->side->bins[c];
    pt->bytes_left += (int64_t)cb->ncached * (int64_t)tai_class_size[c];
    pt->open &= ~((uint64_t)1 << c);
    uint32_t level = pt->below[c] + cb->ncached;
    if (sb->ncached) {
        if (sb->stack != pt->base[c] + level)
            memmove(pt->base[c] + level, sb->stack, sb->ncached * sizeof(void *));
        level += sb->ncached;
    }
    pt->below[c] = level;
    cb->stack = sb->stack = pt->base[c] + level;
    cb->ncached = sb->ncached = 0;
    sb->cap = side_room(pt, c, level);
}

/* The counting pops' budget back to the countdown. */
static void settle_budget(struct prof_tc *pt)
{
    pt->bytes_left += pt->budget;
    pt->budget = 0;
}

static void settle_all(tcache_t *tc)
{
    for (unsigned c = 0; c < NCACHED_CLASSES; c++)
        settle(tc, c);
    settle_budget(tc->prof);
}

/* Gives back every byte of the countdown paid in advance: the budget and
 * the windows with blocks, the only classes settled, so a countdown that
 * ran out finds out whether it really did without a look at the others. */
static void settle_open(tcache_t *tc)
{
    for (uint64_t o = tc->prof->open; o; o &= o - 1)
        settle(tc, (unsigned)__builtin_ctzll(o));
    settle_budget(tc->prof);
}

/* Opens a window onto the top of class c's settled real stack, paid for
 * now from an eighth of the countdown left (so other classes get windows
 * too): as the countdown always stays above the open windows' bytes, no
 * fast pop can be the allocation that reaches the sample. The free side
 * stays where settle put it, above the window. */
static void open_window(tcache_t *tc, unsigned c)
{
    struct prof_tc *pt = tc->prof;
    cache_bin_t *cb = &tc->bins[c];
    uint64_t size = tai_class_size[c];
    if (reading)
        return;
    if (pt->counted) {
        /* no window: the free side takes the whole real stack, for the
         * counting pops (prof_count_pop), and their budget is what the
         * window's blocks would have been, without the stack's bound */
        cache_bin_t *sb = &tc->side->bins[c];
        settle(tc, c);
        cb->stack = sb->stack = pt->base[c];
        sb->ncached = pt->below[c];
        sb->cap = pt->cap[c];
        pt->below[c] = 0;
        return;
    }
    uint64_t afford = pt->bytes_left > 8 ? (uint64_t)(pt->bytes_left - 1) / 8 / size : 0;
    uint32_t v = afford < pt->below[c] ? (uint32_t)afford : pt->below[c];
    pt->bytes_left -= (int64_t)(v * size);
    pt->below[c] -= v;
    cb->stack = pt->base[c] + pt->below[c];
    cb->ncached = v;
    pt->open |= (uint64_t)(v != 0) << c;
}


/* Shows settled class c's real stack, for the cache's own slow paths,
 * with its free side closed. */
static void show(tcache_t *tc, unsigned c)
{
    cache_bin_t *cb = &tc->bins[c];
    cb->stack = tc->prof->base[c];
    cb->ncached = tc->prof->below[c];
    cb->cap = tc->prof->cap[c];
    tc->side->bins[c].cap = 0;
}

static void hide(tcache_t *tc, unsigned c)
{
    struct prof_tc *pt = tc->prof;
    cache_bin_t *cb = &tc->bins[c], *sb = &tc->side->bins[c];
    pt->below[c] = cb->ncached;
    pt->cap[c] = cb->cap;
    cb->stack = sb->stack = pt->base[c] + cb->ncached;
    sb->cap = side_room(pt, c, cb->ncached);
    cb->ncached = 0;
    cb->cap = 0;
}

/* Class c's free side is full: its blocks join the top of the window,
 * paid for from the countdown as the window's own were (false when it
 * cannot pay), and the free side starts again above them. */
static bool side_to_window(tcache_t *tc, unsigned c)
{
    struct prof_tc *pt = tc->prof;
    cache_bin_t *cb = &tc->bins[c], *sb = &tc->side->bins[c];
    int64_t bytes = (int64_t)sb->ncached * (int64_t)tai_class_size[c];
    if (pt->bytes_left <= bytes)
        return false;
    void **top = cb->stack + cb->ncached;
    if (top != sb->stack)
        memmove(top, sb->stack, sb->ncached * sizeof(void *));
    cb->ncached += sb->ncached;
    pt->bytes_left -= bytes;
    pt->open |= (uint64_t)1 << c;
    sb->stack = top + sb->ncached;
    sb->ncached = 0;
    sb->cap = side_room(pt, c, (uint32_t)(sb->stack - pt->base[c]));
    return sb->cap > 0;
}

/* A change of prof.active or the rate is left to dalloc_cold (false), so
 * a cache whose windows its frees keep filling sees it too. */
COLD bool tai_prof_side_full(tcache_t *tc, void *p, unsigned c)
{
    return tc->side->bins[c].ncached && !tc->prof->counted && !reading &&
           tc->prof->gen == atomic_load_explicit(&tai_prof_gen, memory_order_relaxed) &&
           side_to_window(tc, c) && cache_push(tc->side, p, c);
}

void tai_prof_tcache_restore(tcache_t *tc)
{
    struct prof_tc *pt = tc->prof;
    if (!pt)
        return;
    settle_all(tc);
    for (unsigned c = 0; c < NCACHED_CLASSES; c++)
        show(tc, c);
    tc->prof = NULL;
}

/* The free side outlives sampling: pointers to it that free fast paths
 * keep are brought back to the cache only at their next miss. */
void tai_prof_tcache_delete(tcache_t *tc)
{
    if (tc->side)
        tai_base_free(prof_mem_of(tc->side), sizeof(struct prof_mem));
    tc->side = NULL;
}

uint32_t tai_prof_ncached(const tcache_t *tc, unsigned c)
{
    return tc->prof ? real_level(tc, c) : tc->bins[c].ncached;
}

/* Seeds differ per cache so threads do not sample in lockstep. */
static void reseed(struct prof_tc *pt, uint64_t gen)
{
    static _Atomic uint64_t ncaches;
    uint64_t n = atomic_fetch_add_explicit(&ncaches, 1, memory_order_relaxed);
    pt->rng = atomic_load_explicit(&tai_prof_seed, memory_order_relaxed) ^
              (n * 0x9E3779B97F4A7C15ULL);
    if (!pt->rng)
        pt->rng = 0x853C49E6748FEA9BULL;
    pt->gen = gen;
    pt->bytes_left = draw_countdown(pt);
}

/* Brings the cache in line with prof.active: its sampling state (its
 * stacks hidden), or NULL (shown) when off or out of memory. */
COLD static NOINLINE struct prof_tc *sync_slow(tcache_t *tc)
{
    uint64_t gen = atomic_load_explicit(&tai_prof_gen, memory_order_relaxed);
    if (!atomic_load_explicit(&tai_prof_on, memory_order_relaxed) || !tc->mem_size) {
        tai_prof_tcache_restore(tc);
        return NULL;
    }
    struct prof_tc *pt = tc->prof;
    if (!pt) {
        if (!tc->side) {
            /* zeroed: no room in any class, no remote batches */
            struct prof_mem *m = tai_base_alloc(sizeof(*m));
            if (!m)
                return NULL;
            m->side.side = tc;
            tc->side = &m->side;
        }
        tai_tcache_full_stacks(tc);
        pt = &prof_mem_of(tc->side)->pt;
        memset(pt, 0, sizeof(*pt));
        tc->prof = pt;
        tc->side->arena = tc->arena;
        memcpy(tc->side->tagmap, tc->tagmap, sizeof(tc->tagmap));
        memcpy(tc->side->free_map, tc->free_map, sizeof(tc->free_map));
        for (unsigned c = 0; c < NCACHED_CLASSES; c++) {
            pt->base[c] = tc->bins[c].stack;
            hide(tc, c);
        }
    } else {
        settle_all(tc); /* the new countdown owes the old windows nothing */
        /* The counting pops that handed the windows over may belong to a
         * profile that stopped (a Lua state's profile_stop, then another
         * state's profile_start): the plain pops would then find every
         * window empty. A counting entry point takes them back at its
         * next miss. */
        pt->counted = false;
    }
    reseed(pt, gen);
    return pt;
}

/* Every change of prof.active, the rate or the seed moves tai_prof_gen, so
 * one compare tells a sampling cache that nothing changed. Allocations
 * made while the profiler records a sample (the frames hook's) leave the
 * cache's state as the sample found it: the recording call goes on with
 * it afterwards. */
static inline struct prof_tc *sync_cache(tcache_t *tc)
{
    struct prof_tc *pt = tc->prof;
    if (likely(pt && pt->gen == atomic_load_explicit(&tai_prof_gen, memory_order_relaxed)))
        return pt;
    if (pt && tai_prof_busy())
        return pt;
    return sync_slow(tc);
}

/* A read settles the windows of the caches its thread allocates through,
 * giving their bytes back, so that none of its pops is paid from a
 * countdown; while it reads, each of its pops misses (open_window opens
 * nothing) and is served unsampled and uncounted. The caches open their
 * windows again at their next misses after it. Another thread may open
 * windows on a shared cache meanwhile (Python's GIL-guarded one, when the
 * reader lets the GIL go): pops from those are counted, never sampled. */
static void read_settle(tcache_t *tc)
{
    if (tc && tc->prof)
        settle_open(tc);
}

void ta_prof_read_begin(ta_tcache_t *cache)
{
    if (reading++)
        return;
    read_settle(tai_tls_tcache);
    if (cache)
        read_settle(&cache->t);
}

void ta_prof_read_end(void)
{
    if (reading)
        reading--;
}

/* ---- sampling ---------------------------------------------------------- */

COLD static arena_t *get_prof_arena(void)
{
    arena_t *a = atomic_load_explicit(&tai_prof_arena, memory_order_acquire);
    if (a)
        return a;
    mutex_lock(&arena_lock);
    a = atomic_load_explicit(&tai_prof_arena, memory_order_relaxed);
    if (!a) {
        a = tai_arena_new(true, NULL);
        if (a) {
            /* bound for good: reset and destroy refuse it (EBUSY) */
            atomic_fetch_add_explicit(&a->nthreads, 1, memory_order_relaxed);
            atomic_store_explicit(&tai_prof_arena, a, memory_order_release);
        }
    }
    mutex_unlock(&arena_lock);
    return a;
}

/* Counts usize bytes; true when this allocation is the sampled one. The
 * countdown is low by the open windows' bytes, so reaching zero is
 * checked again with them given back. A sample falling on the profiler's
 * own allocations or the frames hook's is dropped: the countdown restarts
 * as after any sample, so the chances of every other allocation stay as
 * they were. */
COLD static bool sample_due(tcache_t *tc, struct prof_tc *pt, size_t usize)
{
    if (likely((pt->bytes_left -= (int64_t)(usize > INT64_MAX ? INT64_MAX : usize)) > 0))
        return false;
    settle_open(tc);
    if (pt->bytes_left > 0)
        return false;
    pt->bytes_left = draw_countdown(pt);
    return !tai_prof_busy();
}

/* A sampled block: from the profiler's arena, recorded with its weight.
 * NULL (and nothing recorded) when that arena cannot serve it; the
 * caller then serves the request as usual, unsampled. Nor is a block
 * asked of an arena with a limit sampled: in the profiler's arena it
 * would escape that limit, and a hard limit outranks a profile. */
COLD static void *sample_alloc(tcache_t *tc, unsigned cls, size_t usize, bool zero)
{
    if (atomic_load_explicit(&tc->arena->limit, memory_order_relaxed))
        return NULL;
    arena_t *a = get_prof_arena();
    if (!a)
        return NULL;
    void *p = cls < NBINS ? tai_arena_alloc_small(a, cls, zero)
                          : tai_arena_alloc_large(a, usize, 0, zero);
    if (!p)
        return NULL;
    if (cls >= NBINS) {
        block_ref_t b = block_resolve(p);
        usize = tai_large_usize(&b);
    }
    double mean = (double)atomic_load_explicit(&tai_prof_sample_bytes, memory_order_relaxed);
    ta_tcache_t *cache = tc == tai_tls_tcache ? NULL : (ta_tcache_t *)tc;
    tai_prof_record(p, usize, 1 / one_minus_exp_neg((double)usize / mean), tc->arena, cache);
    tc->uncached_allocated += usize;
    return p;
}

/* A pop from a shown stack, which may hold blocks: the miss that finds
 * sampling stopped is the first look at the stack shown again. */
COLD static void *pop_shown(tcache_t *tc, unsigned cls, bool zero)
{
    cache_bin_t *cb = &tc->bins[cls];
    if (!cb->ncached)
        return tai_tcache_refill(tc, cls, zero);
    void *p = cb->stack[--cb->ncached];
    ctr_add(&cb->nalloc, 1);
    return zero ? memset(p, 0, tai_class_size[cls]) : p;
}

/* A sampling cache's pop from its shown stack, which first takes a batch
 * (nfill) more from the arena while it holds fewer: blocks freed and taken
 * again, as in a malloc/free loop, keep a class's real level at the few
 * blocks it uses, and a window no bigger would miss after as many pops. */
COLD static void *pop_growing(tcache_t *tc, unsigned cls, bool zero)
{
    cache_bin_t *cb = &tc->bins[cls];
    uint32_t level = cb->ncached;
    if (cls < NBINS && level && level < tc->nfill[cls]) {
        /* nfill is at most half the stack: the batch fits above it */
        cb->stack += level;
        cb->ncached = 0;
        cb->cap -= level;
        void *p = tai_tcache_refill(tc, cls, zero);
        cb->stack -= level;
        cb->ncached += level;
        cb->cap += level;
        if (p)
            return p;
    }
    return pop_shown(tc, cls, zero);
}

/* A pop the window did not cover: counted, maybe sampled, served from the
 * real stack (refilled if empty), and the window opened again. */
COLD void *tai_prof_tcache_alloc(tcache_t *tc, unsigned cls, bool zero)
{
    struct prof_tc *pt = sync_cache(tc);
    if (!pt)
        return pop_shown(tc, cls, zero);
    void *p = NULL;
    /* A plain pop (a realloc's class move, say) that missed the empty
     * window of a class the counting pops hold: one of their pops, paid
     * for, rather than settling their budget and opening a new one. */
    if (pt->counted && prof_count_pop(tc, tai_class_size[cls], &p))
        return zero ? memset(p, 0, tai_class_size[cls]) : p;
    settle(tc, cls);
    if (!reading && sample_due(tc, pt, tai_class_size[cls]))
        p = sample_alloc(tc, cls, tai_class_size[cls], zero);
    if (!p) {
        show(tc, cls);
        p = pop_growing(tc, cls, zero);
        hide(tc, cls);
    } else {
        settle(tc, cls); /* the frames hook may have allocated from it */
    }
    open_window(tc, cls);
    if (pt->counted && !reading) {
        /* the whole countdown but a byte: the pop that reaches the sample
         * misses, whatever class it is of */
        pt->budget += pt->bytes_left - 1;
        pt->bytes_left = 1;
    }
    return p;
}

COLD void *tai_prof_large_alloc(tcache_t *tc, size_t size, bool zero)
{
    struct prof_tc *pt = sync_cache(tc);
    size_t usize = size <= LARGE_MAX ? large_usize(size) : align_up(size, tai_page);
    if (pt && !reading && sample_due(tc, pt, usize)) {
        void *p = sample_alloc(tc, NCACHED_CLASSES, size, zero);
        if (p)
            return p;
    }
    void *p = tai_arena_alloc_large(tc->arena, size, 0, zero);
    if (p) {
        block_ref_t b = block_resolve(p);
        tc->uncached_allocated += tai_large_usize(&b);
    }
    return p;
}

/* A free that prof_free did not take (a full free side), or that came
 * another way, with its block resolved: a sampled block leaves the
 * profile; a block of a sampling cache's own arena goes onto its real
 * stack, settled, and a new window opens. */
COLD static NOINLINE bool dalloc_cold(tcache_t *tc, void *p, unsigned tag)
{
    const map_head_t *h = head_of(p);
    if (h->arena == atomic_load_explicit(&tai_prof_arena, memory_order_relaxed)) {
        tai_prof_forget(p);
        return false;
    }
    /* a class without slots (checked mode's) caches nothing: its
     * blocks go straight back, as dalloc_ref sends them */
    if (!tc || !tc->prof || tag >= NCACHED_CLASSES || h->arena != tc->arena ||
        !tc->prof->cap[tag])
        return false;
    struct prof_tc *pt = sync_cache(tc);
    if (!pt) {
        /* stacks just shown again, with room maybe: the usual slow path
         * would flush as if the stack were full */
        cache_bin_t *cb = &tc->bins[tag];
        if (cb->ncached >= cb->cap)
            return false;
        cb->stack[cb->ncached++] = p;
        return true;
    }
    settle(tc, tag);
    if (!cache_push(tc->side, p, tag)) {
        show(tc, tag);
        tai_tcache_dalloc_slow(tc, p, tag);
        hide(tc, tag);
    }
    open_window(tc, tag);
    return true;
}

COLD bool tai_prof_dalloc(tcache_t *tc, void *p, unsigned tag)
{
    if (likely(tc && tc->prof && tag < NCACHED_CLASSES && head_of(p)->arena == tc->arena) &&
        (cache_push(tc->side, p, tag) || tai_prof_side_full(tc, p, tag)))
        return true;
    return dalloc_cold(tc, p, tag);
}

/* A manual arena reset or destroyed: its sampled blocks (which live in
 * the profiler's arena) are freed with it (arena.h: tai_arena_discarded). */
COLD static void arena_discarded(arena_t *a)
{
    if (!atomic_load_explicit(&tai_prof_engaged, memory_order_relaxed))
        return;
    void *batch[64];
    size_t n;
    while ((n = tai_prof_take_origin(a, batch, 64)) > 0)
        for (size_t i = 0; i < n; i++)
            ta_free(batch[i]);
}

void tai_prof_arena_live(const arena_t *a, uint64_t *blocks, uint64_t *bytes)
{
    if (atomic_load_explicit(&tai_prof_engaged, memory_order_relaxed))
        tai_prof_origin_live(a, blocks, bytes);
}

void tai_prof_boot(void)
{
    tai_arena_discarded = arena_discarded;
    if (tai_opt.prof_sample_bytes)
        atomic_store(&tai_prof_sample_bytes, tai_opt.prof_sample_bytes);
    if (tai_opt.prof) {
        atomic_store(&tai_prof_engaged, true);
        atomic_store(&tai_prof_on, true);
    }
}

void tai_prof_prefork(void)
{
    mutex_lock(&arena_lock);
    tai_prof_data_prefork();
}

void tai_prof_postfork(bool child)
{
    tai_prof_data_postfork(child);
    if (child)
        mutex_init(&arena_lock);
    else
        mutex_unlock(&arena_lock);
}
