/* Thread caches: batched fill from bins, batched flush back to the
 * owning arenas, and an incremental GC that returns what a cache holds in
 * classes its owner stopped using. */
#include <string.h>

#include "arena_blocks.h"
#include "base.h"
#include "list.h"
#include "opts.h"
#include "prof.h"
#include "tcache_fast.h"
#include "verify.h"

#define GC_INTERVAL 128 /* slow-path events between GC steps */
/* A class's first fill is small, so a thread that touches a class once
 * does not pin a slab's worth of it; each miss doubles the batch
 * (next_fill). */
#define INITIAL_FILL 4
#define MAX_FILL 512 /* blocks per fill, whatever the stack size */
/* ... and at most this many bytes (but 4 blocks): a producer whose blocks
 * other threads free refills at every batch, and what its fills bring
 * ahead is most of the memory in flight, so fills of 64 KiB of 512-byte
 * blocks cost a third of prodcons' resident memory; one lock per 16 KiB
 * filled is still nothing. Leaves classes up to 64 bytes as they were. */
#define MAX_FILL_BYTES (16u << 10)
/* thread.peak is brought up to date on a miss once this many bytes were
 * filled since it last was (and on the first miss after a reset, and on
 * every read): the update sums every class, which on each miss was
 * a tenth of the slow path when a thread churns the few-slot classes of
 * large blocks. Hits never updated it, so the mark was sampled already. */
#define PEAK_FILL_BYTES (64u << 10)

#define TAGMAP_NONE4 TAGMAP_NONE, TAGMAP_NONE, TAGMAP_NONE, TAGMAP_NONE
#define TAGMAP_NONE16 TAGMAP_NONE4, TAGMAP_NONE4, TAGMAP_NONE4, TAGMAP_NONE4
#define TAGMAP_NONE64 TAGMAP_NONE16, TAGMAP_NONE16, TAGMAP_NONE16, TAGMAP_NONE16
/* Its map refuses every tag, so free_miss never takes one of its
 * class-0 misses for a block of its own to cache (all zeros would). */
tcache_t tai_tcache_empty = {
    .tagmap = {TAGMAP_NONE64, TAGMAP_NONE64, TAGMAP_NONE64, TAGMAP_NONE64},
    .free_map = {TAGMAP_NONE64, TAGMAP_NONE64, TAGMAP_NONE64, TAGMAP_NONE64},
};
_Static_assert(sizeof(tai_tcache_empty.tagmap) == 256, "the initialiser fills the map");

/* Live caches, so an epoch refresh can merge what other threads' caches
 * served; also guards each cache's arena pointer against rebinding. */
static mutex_t registry_lock = MUTEX_INITIALIZER;
static tcache_t *registry;
LIST_DEFINE(tcache_list, tcache_t, next, prev)

static void registry_add(tcache_t *tc)
{
    mutex_lock(&registry_lock);
    tcache_list_push(&registry, tc);
    mutex_unlock(&registry_lock);
}

static void registry_remove(tcache_t *tc)
{
    mutex_lock(&registry_lock);
    tcache_list_remove(&registry, tc);
    mutex_unlock(&registry_lock);
}

/* Slots per class: 128 KiB worth (at most 512), so a batch of a few
 * hundred small blocks stays in the cache; for the small classes above
 * 1 KiB (big_class) the most a busy one grows to (start_cap), at least 16
 * (jemalloc keeps at least 20 of any small class) and at most a first
 * stack's 64; 2 for cached large classes, since big blocks held idle in a
 * cache are what a thread cache costs in resident memory.
 * Explicit caches get `scale` times that: one serves a whole runtime
 * (a Lua state, an interpreter), whose collector frees and reallocates
 * in bursts of thousands, and there are few of them. Checked mode gives
 * no slots, so every free takes the validating slow path and the fast
 * paths need no test of their own. Secure mode (which implies check)
 * keeps the thread cache (scale 1), which only its slow paths see, and
 * gives explicit caches none: their inline pops would hand blocks out
 * unmarked. */
#define BIG_LEAST_SLOTS 16
#define BIG_MOST_SLOTS 64

static unsigned class_cap(unsigned cls, unsigned scale)
{
    if (tai_opt.check && !(tai_opt.secure && scale == 1))
        return 0;
    if (cls >= NBINS)
        return 2 * scale;
    unsigned size = tai_class_size[cls];
    unsigned cap = 131072u * scale / size;
    if (size <= 1024)
        return cap > 512 * scale ? 512 * scale : cap;
    if (cap < BIG_LEAST_SLOTS)
        return BIG_LEAST_SLOTS;
    return cap > BIG_MOST_SLOTS * scale ? BIG_MOST_SLOTS * scale : cap;
}

static bool big_class(unsigned cls) { return cls < NBINS && tai_class_size[cls] > 1024; }

/* The most a fill brings: half the stack. A big class's few slots, one
 * more, so with the fill's own block out the stack is left half full, as
 * an overflow leaves it (tai_tcache_dalloc_slow): the 4 slots of a 10 KiB
 * class held 1 block after a fill of 2, and were full again after an
 * overflow's flush of 1 and its push, so the next free overflowed again. */
static unsigned fill_room(unsigned cls, unsigned cap)
{
    return big_class(cls) ? cap / 2 + 1 : cap / 2;
}

/* Slots left unused after each class's stack. Stacks of 512 slots are
 * 4 KiB apart, so without them the tops of busy classes sit at one
 * offset in their pages, and a pop's load of one class's top waits on
 * the last push of another class's as if they were the same address
 * (4K aliasing): a cache line apart, they never match (fast-sized CPU
 * 0.88, fast-imm 0.94 of without). */
#define STACK_PAD 8

/* Slots a thread cache's class starts with, in an area of their own: a
 * class the thread only allocates from (a producer whose blocks other
 * threads free) needs no more, and its stack and fills (at most half of
 * it) stay within 576 bytes instead of a page of its own: prodcons'
 * producer touched 20 pages of its cache, 4 now, and its fills of the
 * rare small classes had held 16 KiB each for thousands of messages. The
 * class moves to its full stack (class_cap, laid out after this area) at
 * its first overflow, as a thread that frees into it wants the room, or
 * when it takes most of the thread's fills (next_fill); after that it
 * fills and flushes as before. Explicit caches start full: they serve
 * runtimes that free in bursts. */
#define SMALL_STACK 64
_Static_assert(BIG_MOST_SLOTS <= SMALL_STACK, "a big class's stack is its first one");

static unsigned first_cap(unsigned cls, unsigned scale)
{
    unsigned cap = class_cap(cls, scale);
    return scale == 1 && cap > SMALL_STACK ? SMALL_STACK : cap;
}

/* The slots a class's stack starts with: a big class's 32 KiB worth (at
 * least 4), since its blocks held idle cost resident memory and a program
 * that passes a few buffers through the classes (realloc's growth) has no
 * use for more; one that keeps missing and overflowing grows to class_cap
 * (grow_cap). At 4 slots a 10 KiB class filled 2 blocks a miss and
 * flushed 1 an overflow, so a thread churning 1-16 KiB blocks took a bin
 * lock (and the cold lines of the bin and its slabs) every 2.7 requests
 * (passing with min=4096: tcmalloc 0.67 of tunalloc's CPU;
 * bench/results/issue14.md, pass18). */
static unsigned start_cap(unsigned cls, unsigned scale)
{
    if (!big_class(cls) || !class_cap(cls, scale))
        return first_cap(cls, scale);
    unsigned cap = 32768u * scale / tai_class_size[cls];
    return cap < 4 ? 4 : cap;
}

/* Remote frees wait in batches of up to 32 per class. */
static unsigned remote_cap(unsigned cls)
{
    unsigned cap = start_cap(cls, 1);
    return cap < 32 ? cap : 32;
}

/* Class cls's full stack in a thread cache: after the remote batches and
 * every class's first stack, then the full stacks of the classes below
 * cls that have one. */
static void **full_stack(tcache_t *tc, unsigned cls)
{
    void **slot = tc->remote[NBINS - 1].stack + tc->remote[NBINS - 1].cap;
    for (unsigned c = 0; c < NCACHED_CLASSES; c++)
        slot += first_cap(c, 1) + STACK_PAD;
    for (unsigned c = 0; c < cls; c++) {
        unsigned cap = class_cap(c, 1);
        if (first_cap(c, 1) < cap)
            slot += cap + STACK_PAD;
    }
    return slot;
}

/* Whole-line classes of any automatic arena, and the shared-line ones of
 * the arena's colour. Manual arenas' tags are alike for all of them:
 * only an explicit cache of a manual arena maps them, for
 * cache_push_sized, which tests the arena first; thread caches never take
 * a manual arena's block (dalloc_ref), and a thread's cache on a manual
 * arena takes no shared-line block, all automatic arenas' being foreign.
 * A class without slots (checked mode) is never mapped as the cache's:
 * nothing to push onto.
 * A thread's cache maps a whole-line class only while it allocates it
 * (set_whole_line): a thread that only frees a class (a consumer) would
 * otherwise pile up its producers' blocks to the stack's cap and flush
 * them from there, where their remote batches send them home at once. */
static uint8_t foreign_entry(unsigned tag)
{
    unsigned cls = tag_auto_class(tag);
    return (uint8_t)(cls < NCACHED_CLASSES ? TAGMAP_FOREIGN + cls : TAGMAP_NONE);
}

/* free_map's entry for tag t: the tag map's, a class's moved past the
 * bins while the cache does not predict (tai_tcache_free_look). */
static void set_free_entry(tcache_t *tc, unsigned t)
{
    unsigned m = tc->tagmap[t];
    tc->free_map[t] = (uint8_t)(m < NCACHED_CLASSES && tc->unpredicted ? m + FREE_UNPREDICTED : m);
}

static void build_tagmap(tcache_t *tc, bool explicit)
{
    arena_t *a = tc->arena;
    unsigned colour = a->manual ? NCOLOURS : tag_arena_colour(a->index);
    tc->gated = !explicit;
    for (unsigned t = 0; t < sizeof(tc->tagmap); t++) {
        unsigned cls = tag_class(t);
        bool mine = cls < NCACHED_CLASSES && tc->bins[cls].cap &&
                    (tag_is_manual(t) ? explicit && a->manual
                     : tag_class_shared(cls) ? tag_colour(t) == colour
                                             : explicit);
        tc->tagmap[t] = mine ? (uint8_t)cls : foreign_entry(t);
        set_free_entry(tc, t);
    }
}

/* Whole-line class cls (its tag is the class in every automatic arena)
 * in or out of a thread cache's map, and its free side's (prof.h), which
 * the free fast paths push onto while the cache samples: in at each
 * fill, out when the GC finds the class idle. */
static void set_whole_line(tcache_t *tc, unsigned cls, bool in)
{
    if (tc->gated && !tag_class_shared(cls) && tc->bins[cls].cap) {
        tc->tagmap[cls] = in ? (uint8_t)cls : foreign_entry(cls);
        set_free_entry(tc, cls);
        if (tc->side) {
            tc->side->tagmap[cls] = tc->tagmap[cls];
            tc->side->free_map[cls] = tc->free_map[cls];
        }
    }
}

/* ta_free pushes a block onto the bin of the last pop when that is the
 * block's class (cache_push_last): then the next pop's loads wait for no
 * address read from the block's page, which halves the time of a loop of
 * malloc and free. But the branch that decides it is a coin toss where
 * the sizes freed and allocated are unrelated: larson's frees (random
 * 16-1024 B) were of the last pop's class 9 % of the time, each one
 * mispredicted, 0.1 a free and 15 % of its CPU. So every FREE_WINDOW
 * pushes past the prediction the cache looks at its pops since: if fewer
 * than a quarter of them were followed by a predicted free, it stops
 * predicting (free_map's classes past the bins: the comparison never
 * holds, the branch always falls through; not a field ta_free would load
 * on a hit, which cost fast-imm 4 % of its time), and while it does not,
 * it predicts again for a window at every FREE_RETRY looks (about 130 k
 * frees: 1 % of larson's mispredictions come back), to see whether that
 * changed. A free side (prof.h) pops nothing, so only counts. */
void tai_tcache_free_look(tcache_t *tc)
{
    tc->free_ticks = FREE_WINDOW;
    if (!tc->mem_size)
        return;
    uint64_t pops = 0;
    for (unsigned c = 0; c < NCACHED_CLASSES; c++)
        pops += ctr_get(&tc->bins[c].nalloc);
    uint64_t n = pops - tc->free_pops;
    tc->free_pops = pops;
    bool unpredicted = tc->unpredicted;
    if (!unpredicted) {
        if (3 * n < 4 * (uint64_t)FREE_WINDOW) {
            unpredicted = true;
            tc->free_looks = 0;
        }
    } else if (++tc->free_looks == FREE_RETRY) {
        unpredicted = false;
    }
    if (unpredicted != tc->unpredicted) {
        tc->unpredicted = unpredicted;
        for (unsigned t = 0; t < sizeof(tc->free_map); t++)
            set_free_entry(tc, t);
    }
}

tcache_t *tai_tcache_new(arena_t *a, unsigned scale)
{
    size_t nslots = 0;
    for (unsigned c = 0; c < NCACHED_CLASSES; c++) {
        unsigned cap = class_cap(c, scale), first = first_cap(c, scale);
        nslots += first + STACK_PAD + (first < cap ? cap + STACK_PAD : 0);
    }
    for (unsigned c = 0; c < NBINS; c++)
        nslots += remote_cap(c);
    size_t size = sizeof(tcache_t) + nslots * sizeof(void *);
    tcache_t *tc = tai_base_alloc(size);
    if (!tc)
        return NULL;
    tc->mem_size = size;
    tc->small_first = scale == 1;
    /* The remote batches first, beside the header: a thread that only
     * frees other threads' blocks (a consumer) writes the header's page
     * and the next one, prodcons's consumer 2 pages of its cache where
     * it wrote 4 with them after the full stacks; the first stacks'
     * users touch as many pages either way. */
    void **slot = tc->slots;
    for (unsigned c = 0; c < NBINS; c++) {
        remote_batch_t *rb = &tc->remote[c];
        rb->cap = remote_cap(c);
        rb->stack = slot;
        slot += rb->cap;
    }
    for (unsigned c = 0; c < NCACHED_CLASSES; c++) {
        cache_bin_t *cb = &tc->bins[c];
        cb->cap = start_cap(c, scale);
        tc->nfill[c] = (uint16_t)(cb->cap < INITIAL_FILL * 2 ? cb->cap / 2 : INITIAL_FILL);
        cb->stack = slot;
        slot += first_cap(c, scale) + STACK_PAD;
    }
    tc->arena = a;
    tc->last_bin = &tc->bins[0];
    tc->free_ticks = FREE_WINDOW;
    tc->peak_fill = PEAK_FILL_BYTES;
    atomic_fetch_add_explicit(&a->nthreads, 1, memory_order_relaxed);
    build_tagmap(tc, scale != 1);
    registry_add(tc);
    return tc;
}

/* Moves a thread cache's full class to its full stack, if it is still on
 * its first one; false otherwise. Not while the profiler shows windows of
 * the stacks: it keeps their bases and sizes (a cache that starts to
 * sample moves all its classes first, tai_tcache_full_stacks). */
static bool grow_stack(tcache_t *tc, unsigned cls)
{
    cache_bin_t *cb = &tc->bins[cls];
    if (!tc->small_first || tc->prof || cb->cap != SMALL_STACK)
        return false;
    unsigned cap = class_cap(cls, 1);
    if (cap <= SMALL_STACK)
        return false;
    void **full = full_stack(tc, cls);
    memcpy(full, cb->stack, cb->ncached * sizeof(void *));
    cb->stack = full;
    cb->cap = cap;
    return true;
}

/* A big class that missed or overflowed GROW_CHURN times its stack's
 * slots since its stack last grew takes half as many again, up to
 * class_cap: the realloc case's classes, a few requests each per buffer,
 * stay near their start (peak RSS: 10.6 MiB, 12.1 at class_cap from the
 * start; jemalloc 11.7), passing's reach it in a few thousand requests.
 * Not while the profiler shows windows of the stacks (grow_stack). */
#define GROW_CHURN 16

static unsigned cache_scale(const tcache_t *tc)
{
    return tc->small_first ? 1 : EXPLICIT_CACHE_SCALE;
}

static void grow_cap(tcache_t *tc, unsigned cls)
{
    cache_bin_t *cb = &tc->bins[cls];
    if (!big_class(cls) || tc->prof || ++tc->churn[cls] < cb->cap * GROW_CHURN)
        return;
    tc->churn[cls] = 0;
    unsigned most = class_cap(cls, cache_scale(tc));
    unsigned cap = cb->cap + cb->cap / 2;
    cb->cap = cap < most ? cap : most;
}

/* A sampling cache's classes could not move later, and a class stuck on
 * its first stack would overflow at every batch larger than it (the
 * fast path's batch100-256 under prof:true: 88 -> 176 instructions a
 * pair). */
void tai_tcache_full_stacks(tcache_t *tc)
{
    for (unsigned c = 0; c < NCACHED_CLASSES; c++)
        grow_stack(tc, c);
}

/* Adds one class's cache hits to the request count of the cache's arena.
 * Nothing to add writes nothing: every cache merges every class when it
 * goes (flush_all), and adding 0 to the large classes' counters wrote
 * the arena's third page at each thread's exit (arena.h: arena_t). */
static void merge_class(tcache_t *tc, unsigned c, bool filled)
{
    arena_t *a = tc->arena;
    mutex_t *lock = c < NBINS ? &a->bins[c].lock : &a->lock;
    mutex_lock(lock);
    uint64_t now = ctr_get(&tc->bins[c].nalloc), d = now - tc->merged_nalloc[c];
    tc->merged_nalloc[c] = now;
    if (c < NBINS) {
        if (d)
            ctr_add(&a->bins[c].stats.nrequests, d);
    } else if (d || filled) {
        large_stats_t *ls = &a->stats.lstats[lextent_index(tai_class_size[c])];
        ctr_add(&ls->nrequests, d);
        ctr_add(&ls->nfills, filled);
    }
    mutex_unlock(lock);
}

void tai_tcache_merge_stats(tcache_t *tc)
{
    for (unsigned c = 0; c < NCACHED_CLASSES; c++)
        merge_class(tc, c, false);
}

void tai_tcache_merge_all_stats(void)
{
    mutex_lock(&registry_lock);
    for (tcache_t *tc = registry; tc; tc = tc->next)
        tai_tcache_merge_stats(tc);
    mutex_unlock(&registry_lock);
}

void tai_tcache_rebind(tcache_t *tc, arena_t *a)
{
    tai_tcache_flush_all(tc);
    mutex_lock(&registry_lock);
    /* release: a manual arena may be destroyed once its count is 0 */
    atomic_fetch_sub_explicit(&tc->arena->nthreads, 1, memory_order_release);
    atomic_fetch_add_explicit(&a->nthreads, 1, memory_order_relaxed);
    tc->arena = a;
    build_tagmap(tc, false);
    mutex_unlock(&registry_lock);
}

void tai_tcache_prefork(void) { mutex_lock(&registry_lock); }

void tai_tcache_postfork(bool child)
{
    if (child)
        mutex_init(&registry_lock);
    else
        mutex_unlock(&registry_lock);
}

/* Returns the n blocks of class cls at items to their arenas, one
 * arena's bin lock at a time. */
static void return_items(unsigned cls, void **items, unsigned n)
{
    unsigned left = n;
    while (left) {
        arena_t *a = head_of(items[0])->arena;
        unsigned keep = 0;
        if (cls < NBINS) {
            keep = tai_arena_flush(a, cls, items, left);
        } else {
            for (unsigned i = 0; i < left; i++) {
                block_ref_t b = block_resolve(items[i]);
                if (b.head->arena == a)
                    tai_arena_dalloc_large(&b);
                else
                    items[keep++] = items[i];
            }
            mutex_lock(&a->lock);
            ctr_add(&a->stats.lstats[lextent_index(tai_class_size[cls])].nflushes, 1);
            mutex_unlock(&a->lock);
        }
        left = keep;
    }
}

/* Returns the n blocks at items (the bottom or the top of the stack) to
 * their arenas; the caller closes the gap a bottom flush leaves. */
static void flush_items(cache_bin_t *cb, unsigned cls, void **items, unsigned n)
{
    TA_ASSERT(n <= cb->ncached && cb->ncached <= cb->cap);
    if (!n)
        return;
    return_items(cls, items, n);
    cb->ncached -= n;
    ctr_sub(&cb->nrefill, n);
}

/* The bottom n, the blocks longest in the cache, then the rest slides down. */
static void flush_bin(cache_bin_t *cb, unsigned cls, unsigned n)
{
    flush_items(cb, cls, cb->stack, n);
    memmove(cb->stack, cb->stack + n, cb->ncached * sizeof(void *));
}

void tai_tcache_flush_remote(tcache_t *tc, unsigned cls)
{
    remote_batch_t *rb = &tc->remote[cls];
    TA_ASSERT(rb->ncached <= rb->cap);
    tc->uncached_deallocated += (uint64_t)rb->ncached * tai_class_size[cls];
    return_items(cls, rb->stack, rb->ncached);
    rb->ncached = 0;
}

/* A block of another arena is not cached: the freeing thread would reuse
 * it next to the owner's live blocks and the two would share cache lines
 * (cache-scratch). Small ones are batched per class (cache_push_remote)
 * so a consumer thread freeing a producer's blocks takes a bin lock per
 * batch, not per block. */
void tai_tcache_dalloc_remote(tcache_t *tc, const block_ref_t *b, unsigned cls)
{
    if (cls < NBINS && cache_push_remote(tc, b->p, b->head, cls))
        return;
    tc->uncached_deallocated += tai_class_size[cls];
    if (cls < NBINS)
        tai_arena_dalloc_small(b->head->arena, cls, b->p);
    else
        tai_arena_dalloc_large(b);
}

void tai_tcache_flush_all(tcache_t *tc)
{
    tai_prof_tcache_restore(tc);
    for (unsigned c = 0; c < NCACHED_CLASSES; c++)
        flush_bin(&tc->bins[c], c, tc->bins[c].ncached);
    for (unsigned c = 0; c < NBINS; c++)
        tai_tcache_flush_remote(tc, c);
    tai_tcache_merge_stats(tc);
    TA_VERIFY_ARENA(tc->arena);
}

void tai_tcache_delete(tcache_t *tc)
{
    tai_tcache_flush_all(tc);
    tai_prof_tcache_delete(tc);
    registry_remove(tc);
    atomic_fetch_sub_explicit(&tc->arena->nthreads, 1, memory_order_release);
    tai_base_free(tc, tc->mem_size);
}

/* One GC step: a class whose blocks sat unused since the last visit gives
 * back three quarters of them, and fills it less from now on. */
static void gc_step(tcache_t *tc)
{
    if (++tc->gc_ticks < GC_INTERVAL)
        return;
    tc->gc_ticks = 0;
    unsigned c = tc->gc_next;
    tc->gc_next = (c + 1) % NCACHED_CLASSES;
    cache_bin_t *cb = &tc->bins[c];
    uint64_t nalloc = ctr_get(&cb->nalloc);
    if (nalloc == tc->gc_seen[c])
        set_whole_line(tc, c, false);
    if (nalloc == tc->gc_seen[c] && cb->ncached) {
        flush_bin(cb, c, cb->ncached - cb->ncached / 4);
        if (tc->nfill[c] > 1)
            tc->nfill[c] = (uint16_t)(tc->nfill[c] / 2);
        /* a quarter of class_cap is at most start_cap */
        if (big_class(c) && !tc->prof) {
            cb->cap = start_cap(c, cache_scale(tc));
            tc->churn[c] = 0;
        }
    }
    tc->gc_seen[c] = nalloc;
}

/* Bytes freed into the remote batches, which count in uncached_deallocated
 * only once flushed: the remote free's push does not count them. */
static uint64_t remote_pending(const tcache_t *tc)
{
    uint64_t total = 0;
    for (unsigned c = 0; c < NBINS; c++)
        total += (uint64_t)tc->remote[c].ncached * tai_class_size[c];
    return total;
}

/* Allocated minus deallocated bytes in one pass: a class's requests
 * served count on both sides and cancel, what is left is its blocks
 * filled in minus those flushed out and those still cached. A miss runs
 * this every PEAK_FILL_BYTES, so it reads each class once. */
static uint64_t net_bytes(const tcache_t *tc)
{
    uint64_t net = tc->uncached_allocated - tc->uncached_deallocated - remote_pending(tc);
    for (unsigned c = 0; c < NCACHED_CLASSES; c++) {
        uint32_t held = tc->prof ? tai_prof_ncached(tc, c) : tc->bins[c].ncached;
        net += (ctr_get(&tc->bins[c].nrefill) - held) * tai_class_size[c];
    }
    return net;
}

void tai_tcache_update_peak(tcache_t *tc)
{
    uint64_t net = net_bytes(tc);
    tc->peak_fill = 0;
    if (net >= tc->peak_base && net - tc->peak_base > tc->peak)
        tc->peak = net - tc->peak_base;
}

void tai_tcache_reset_peak(tcache_t *tc)
{
    tc->peak_base = net_bytes(tc);
    tc->peak = 0;
    tc->peak_fill = PEAK_FILL_BYTES;
}

/* Counts a miss's filled bytes towards the next peak update and the
 * fill sizes' shares. */
static void note_fill(tcache_t *tc, uint64_t bytes)
{
    tc->fill_bytes += bytes;
    tc->peak_fill += bytes;
    if (tc->peak_fill >= PEAK_FILL_BYTES)
        tai_tcache_update_peak(tc);
}

/* After a fill of class cls: the next one doubles, up to half the stack
 * (grow_stack moves the class to its full stack at the next fill when
 * that is more than its first one holds), MAX_FILL blocks and
 * MAX_FILL_BYTES. A class on its first stack stays within it unless,
 * filling all it holds, it takes most of what the thread fills: more
 * than three quarters of the bytes filled since its previous fill, this
 * one included, at DOMINANT_FILLS fills in a row. Not sooner: every
 * class a thread starts with looks like that, and at one fill the lumps
 * of the other classes' fills let it through now and then (at one fill
 * over half, prodcons moved 3 of its 16 classes to full stacks, 20 KiB
 * more). So a producer of many classes fills each with at most 32
 * blocks, and one of a single class (prodcons-64) as before. */
#define DOMINANT_FILLS 4

static void next_fill(tcache_t *tc, unsigned cls)
{
    cache_bin_t *cb = &tc->bins[cls];
    unsigned size = tai_class_size[cls], n = tc->nfill[cls];
    uint64_t span = tc->fill_bytes - tc->fill_mark[cls];
    tc->fill_mark[cls] = tc->fill_bytes;
    unsigned room = cb->cap;
    if (tc->small_first && room == SMALL_STACK && n == SMALL_STACK / 2) {
        if (4 * (uint64_t)n * size <= 3 * span)
            tc->fill_streak[cls] = 0;
        else if (++tc->fill_streak[cls] >= DOMINANT_FILLS)
            room = class_cap(cls, 1);
    }
    unsigned most = fill_room(cls, room) < MAX_FILL ? fill_room(cls, room) : MAX_FILL;
    unsigned by_bytes = MAX_FILL_BYTES / size;
    if (by_bytes < 4)
        by_bytes = 4;
    if (most > by_bytes)
        most = by_bytes;
    if (n < most)
        tc->nfill[cls] = (uint16_t)(n * 2 > most ? most : n * 2);
}

/* Cache miss: fill nfill slots (next_fill sizes them; GC halves them for
 * idle classes); lowest address on top so the next pops walk the slab
 * upward. */
void *tai_tcache_refill(tcache_t *tc, unsigned cls, bool zero)
{
    cache_bin_t *cb = &tc->bins[cls];
    unsigned got = 1;
    void *p;
    if (cls < NBINS) {
        /* A bin with no slots (checked mode) takes its one block through
         * a slot of its own: its stack aliases the next bin's. */
        void *one;
        unsigned n = tc->nfill[cls];
        /* a stack the profiler shows, or none (checked mode), stays */
        if (n > fill_room(cls, cb->cap) && !grow_stack(tc, cls))
            n = fill_room(cls, cb->cap);
        if (!n)
            n = 1;
        void **out = cb->cap ? cb->stack : &one;
        got = tai_arena_fill(tc->arena, cls, out, n);
        if (!got)
            return NULL;
        p = out[n - 1];
        if (got < n)
            memmove(cb->stack, cb->stack + (n - got), (got - 1) * sizeof(void *));
        cb->ncached = got - 1;
        TA_ASSERT(cb->ncached <= cb->cap);
        ctr_add(&cb->nrefill, got);
        if (zero)
            memset(p, 0, tai_class_size[cls]);
    } else {
        p = tai_arena_alloc_large(tc->arena, tai_class_size[cls], 0, zero);
        if (!p)
            return NULL;
        ctr_add(&cb->nrefill, 1);
    }
    ctr_add(&cb->nalloc, 1);
    set_whole_line(tc, cls, true);
    note_fill(tc, (uint64_t)got * tai_class_size[cls]);
    if (cls < NBINS) {
        grow_cap(tc, cls);
        next_fill(tc, cls);
    }
    /* A small class's hits reach its bin's stats at the next refresh
     * (tai_tcache_merge_all_stats) or flush_all, not here: merging at
     * every fill took the bin lock a second time, a quarter of a fill's
     * fixed cost, and the fills of a thread on small stacks are many. */
    if (cls >= NBINS)
        merge_class(tc, cls, true);
    gc_step(tc);
    return p;
}

void *tai_tcache_alloc_slow(tcache_t *tc, unsigned cls, bool zero)
{
    if (prof_touches(tc))
        return tai_prof_tcache_alloc(tc, cls, zero);
    return tai_tcache_refill(tc, cls, zero);
}

/* Cache full: flush the top quarter, then keep the block. The top, not
 * the bottom: nothing slides (a cache of thousands of slots, the Python
 * hook's, moved three quarters of its stack at every overflow: json
 * 252 M of its 15 G instructions), and a full cache is being freed into,
 * so the blocks pushed last are not the next ones popped. Not half: a
 * program that allocates and frees batches of about the cap would then
 * drop below one batch at every overflow and refill at every next batch,
 * paying a fill and a flush per round instead of neither. A big class's
 * few slots are the exception (fill_room): whatever its batches, a
 * quarter of 4 slots is one block, and the push fills the stack again. A
 * big class that has churned enough may grow instead (grow_cap). */
void tai_tcache_dalloc_slow(tcache_t *tc, void *p, unsigned cls)
{
    cache_bin_t *cb = &tc->bins[cls];
    grow_cap(tc, cls);
    if (cb->ncached >= cb->cap && !grow_stack(tc, cls)) {
        unsigned n = big_class(cls) && !tc->prof ? cb->ncached - cb->cap / 2 + 1
                                                 : (cb->ncached + 3) / 4;
        flush_items(cb, cls, cb->stack + cb->ncached - n, n);
    }
    TA_ASSERT(cb->ncached < cb->cap);
    cb->stack[cb->ncached++] = p;
    gc_step(tc);
}

uint64_t tai_tcache_allocated(const tcache_t *tc)
{
    uint64_t total = tc->uncached_allocated;
    for (unsigned c = 0; c < NCACHED_CLASSES; c++)
        total += ctr_get(&tc->bins[c].nalloc) * tai_class_size[c];
    return total;
}

size_t tai_tcache_cached(const tcache_t *tc)
{
    size_t total = 0;
    for (unsigned c = 0; c < NCACHED_CLASSES; c++)
        total += (size_t)tai_prof_ncached(tc, c) * tai_class_size[c];
    return total + (size_t)remote_pending(tc);
}

uint64_t tai_tcache_deallocated(const tcache_t *tc)
{
    uint64_t total = tc->uncached_deallocated + remote_pending(tc);
    for (unsigned c = 0; c < NCACHED_CLASSES; c++)
        total += (tai_prof_ncached(tc, c) + ctr_get(&tc->bins[c].nalloc) -
                  ctr_get(&tc->bins[c].nrefill)) * tai_class_size[c];
    return total;
}
