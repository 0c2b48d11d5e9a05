/* The malloc family, free, realloc and the aligned calls: inline fast
 * paths of tcache_fast.h, and the slow paths behind them, which the
 * arena and explicit-cache calls (alloc_arena.c, alloc_tcache.c) share. */
#include <string.h>

#include "alloc.h"
#include "arena_blocks.h"
#include "background.h"
#include "check.h"
#include "init.h"
#include "large.h"
#include "owner_map.h"
#include "prof.h"
#include "thread.h"

/* ---- shared slow paths ---------------------------------------------- */

void *tai_alloc_arena(arena_t *a, size_t size, bool zero)
{
    if (!a)
        return NULL;
    if (size <= SMALL_MAX)
        return handed_out(tai_arena_alloc_small(a, size_class(size), zero), size);
    return handed_out(tai_arena_alloc_large(a, size, 0, zero), size);
}

void *tai_alloc_tcache(tcache_t *tc, size_t size, bool zero)
{
    if (size <= TCACHE_MAX) {
        void *p;
        if (!cache_pop(tc, size, &p))
            return handed_out(tai_tcache_alloc_slow(tc, size_class(size), zero), size);
        return handed_out(zero ? memset(p, 0, size) : p, size);
    }
    if (prof_touches(tc))
        return handed_out(tai_prof_large_alloc(tc, size, zero), size);
    void *p = tai_arena_alloc_large(tc->arena, size, 0, zero);
    if (p) {
        block_ref_t b = block_resolve(p);
        tc->uncached_allocated += tai_large_usize(&b);
    }
    return handed_out(p, size);
}

NOINLINE void *tai_malloc_slow(size_t size, bool zero)
{
    if (!tai_ensure_init())
        return set_enomem(NULL);
    if (unlikely(atomic_load_explicit(&tai_background_pending, memory_order_relaxed)))
        tai_background_maybe_start();
    tcache_t *tc = tai_thread_tcache_slow();
    void *p = tc ? tai_alloc_tcache(tc, size, zero)
                 : tai_alloc_arena(tai_thread_arena(), size, zero);
    return set_enomem(p);
}

/* A block that no cache may keep goes back to its bin or run. */
static void dalloc_direct(const block_ref_t *b, unsigned cls)
{
    if (cls < NBINS)
        tai_arena_dalloc_small(b->head->arena, cls, b->p);
    else
        tai_arena_dalloc_large(b);
}

/* Frees a resolved block by its tag through cache tc (NULL: none), when
 * the fast path did not try (secure mode, a thread's first call) or
 * missed: a block of tc's arena is pushed, others go back to theirs. */
static void dalloc_ref(tcache_t *tc, const block_ref_t *b)
{
    unsigned tag = tag_auto_class(b->tag);
    if (unlikely(atomic_load_explicit(&tai_prof_engaged, memory_order_relaxed)) &&
        tai_prof_dalloc(tc, b->p, tag))
        return;
    if (tag < NCACHED_CLASSES) {
        if (!tc || !tc->bins[tag].cap)
            dalloc_direct(b, tag);
        else if (b->head->arena != tc->arena)
            tai_tcache_dalloc_remote(tc, b, tag);
        else if (!cache_push(tc, b->p, tag))
            tai_tcache_dalloc_slow(tc, b->p, tag);
    } else if (tag_is_manual(tag)) {
        if (tc)
            tc->uncached_deallocated += tai_class_size[tag_class(tag)];
        dalloc_direct(b, tag_class(tag));
    } else if (tag == PB_LARGE) {
        size_t freed = tai_arena_dalloc_large(b);
        if (tc)
            tc->uncached_deallocated += freed;
    } else {
        tai_heap_error(TA_ERR_INVALID, b->p, NULL);
    }
}

/* An explicit cache may keep blocks of its own manual arena: their tag
 * is read as the plain class for it. */
void tai_tcache_dalloc_ref(tcache_t *tc, block_ref_t b)
{
    if (tag_is_manual(b.tag) && b.head->arena == tc->arena)
        b.tag = tag_class(b.tag);
    dalloc_ref(tc, &b);
}

NOINLINE static void free_general(void *p)
{
    if (!p)
        return;
    if (unlikely(tai_opt.check) && !tai_check_free(p, true))
        return;
    block_ref_t b = block_resolve(p);
    dalloc_ref(tai_thread_tcache_slow(), &b);
}

/* The thread's free fast paths push onto tai_tls_free, which is brought
 * up to date here (prof_free_cache); a free that missed only because it
 * was behind goes onto the free side (prof_free), looked at first, where
 * no frame is set up yet. */
NOINLINE void tai_free_slow(void *p)
{
    tcache_t *tc = tai_tls_tcache;
    tai_tls_free = prof_free_cache(tc);
    if (unlikely(tc->prof != NULL) && p && !tai_opt.check && prof_free(tc, p))
        return;
    free_general(p);
}

/* ta_free's miss (tc, h and off, the bin offset of the block's free_map
 * entry, which names its class as the tag map's m, are the fast path's,
 * in the registers it left them in):
 * a block of another arena is pushed on the cache's remote batch for its
 * class without a stack frame, as in a producer / consumer program this
 * miss comes at the rate of frees; the cache's own (a full stack, a
 * whole-line class this thread does not allocate, large) take the slow
 * path. A sampling cache's prof_free takes only its own arena's blocks,
 * so it need not look. The thread's free side (tc not the thread's
 * cache) keeps no batches: its cache's take the block. */
NOINLINE static void free_miss(void *p, tcache_t *tc, const map_head_t *h, size_t off)
{
    unsigned m = (unsigned)(off % FREE_OFF_MOD / sizeof(cache_bin_t));
    if (unlikely(h->arena == tc->arena)) {
        tai_free_slow(p);
        return;
    }
    /* Another arena's whole-line block this thread keeps, onto a full
     * stack: the stack makes room (a first stack grows) as for its own
     * blocks, or a consumer that allocates the class would send each one
     * home once its first stack is full. Not while the cache samples: its
     * stacks are the profiler's windows then (prof.c), and the block goes
     * home as before. */
    if (m < NCACHED_CLASSES && tc == tai_tls_tcache && !tc->prof) {
        tai_tcache_dalloc_slow(tc, p, m);
        return;
    }
    unsigned cls = m % TAGMAP_FOREIGN;
    if (likely(cache_push_batch(tc, p, cls)))
        return;
    tcache_t *own = tai_tls_tcache;
    if (tc != own) {
        tai_tls_free = prof_free_cache(own);
        if (cache_push_remote(own, p, h, cls))
            return;
    }
    free_general(p);
}

/* ---- malloc family ---------------------------------------------------- */

HOT_ENTRY void *ta_malloc(size_t size)
{
    void *p;
    return likely(cache_pop(tai_tls_tcache, size, &p)) ? p : tai_malloc_slow(size, false);
}

HOT_ENTRY void *ta_calloc(size_t n, size_t size)
{
    size_t total;
    if (unlikely(__builtin_mul_overflow(n, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    void *p;
    return likely(cache_pop(tai_tls_tcache, total, &p)) ? memset(p, 0, total)
                                                       : tai_malloc_slow(total, true);
}

HOT_ENTRY void ta_free(void *p)
{
    if (likely(p && !tai_opt.check)) {
        tcache_t *tc = tai_tls_free;
        const map_head_t *h = head_of(p);
        size_t off = tc->free_map[page_tag(h, p)] * sizeof(cache_bin_t);
        if (likely(cache_push_last(tc, p, &off)))
            return;
        free_miss(p, tc, h, off);
        return;
    }
    tai_free_slow(p);
}

/* Checked mode validates the size against the block; every other path
 * that misses the sized fast path frees as an unsized free would. tc is
 * an explicit cache, or NULL for the calling thread's; the arguments keep
 * the fast paths' registers, so a miss is a plain jump. */
COLD NOINLINE void tai_free_sized_slow(void *p, size_t size, tcache_t *tc)
{
    tcache_t *own = tc ? tc : tai_tls_tcache;
    if (!tc)
        tai_tls_free = prof_free_cache(own);
    if (unlikely(own->prof != NULL) && p && !tai_opt.check && prof_free(own, p))
        return;
    /* secure mode frees by the block's own class, once its mark is checked */
    if (unlikely(tai_opt.check) && !tai_opt.secure && p && !tai_check_size(p, size)) {
        tai_heap_error(TA_ERR_INVALID, p, NULL);
        return;
    }
    if (tc)
        ta_tcache_free((ta_tcache_t *)tc, p);
    else
        ta_free(p);
}

/* The size names the bin to push onto; the page tag confirms it (see
 * cache_push_size). */
HOT_ENTRY void ta_free_sized(void *p, size_t size)
{
    if (likely(thread_push_size(p, size)))
        return;
    tai_free_sized_slow(p, size, NULL);
}

static size_t usable_size(const block_ref_t *b)
{
    unsigned cls = tag_class(b->tag);
    if (cls < NCACHED_CLASSES)
        return tai_class_size[cls];
    return b->tag == PB_LARGE ? tai_large_usize(b) : 0;
}

size_t ta_malloc_usable_size(const void *p)
{
    if (!p || (tai_opt.check && ta_check_ptr(p)))
        return 0;
    if (tai_opt.secure)
        return tai_secure_usable(p);
    block_ref_t b = block_resolve(p);
    return usable_size(&b);
}

int ta_owns(const void *p) { return tai_owner_map_get(p); }

int ta_free_if_owned(void *p)
{
    if (!p || !tai_owner_map_get(p))
        return 0;
    ta_free(p);
    return 1;
}

/* ---- realloc ---------------------------------------------------------- */

static void *src_alloc(alloc_src_t src, size_t size)
{
    if (src.tc)
        return set_enomem(tai_alloc_tcache(src.tc, size, false));
    if (src.arena)
        return set_enomem(tai_alloc_arena(src.arena, size, false));
    return ta_malloc(size);
}

static void src_free(alloc_src_t src, void *p)
{
    if (src.tc)
        ta_tcache_free((ta_tcache_t *)src.tc, p);
    else
        ta_free(p);
}

/* src_free of a block tai_realloc_src resolved and checked already. */
static void src_free_ref(alloc_src_t src, const block_ref_t *b)
{
    if (unlikely(tai_opt.check))
        src_free(src, b->p); /* releases the block's check state */
    else if (src.tc)
        tai_tcache_dalloc_ref(src.tc, *b);
    else
        dalloc_ref(tai_thread_tcache_slow(), b);
}

/* Whether a large run that cannot grow where it stands may move within
 * its own arena, as it would grow in place: when that is the arena the
 * new block would come from anyway (a thread without its cache yet, its
 * TLS one empty, takes the old path, which binds it), and neither checked
 * mode nor the profiler keeps state under its address. */
static bool move_within(alloc_src_t src, const block_ref_t *b)
{
    arena_t *to = src.arena ? src.arena : src.tc ? src.tc->arena : tai_tls_tcache->arena;
    return to == b->head->arena && !tai_opt.check &&
           !atomic_load_explicit(&tai_prof_engaged, memory_order_relaxed);
}

/* Same class for small blocks, or a large run resized where it stands or
 * a huge mapping moved without copying; else allocate, copy and free. A
 * shrink never fails: if no smaller block can be had (arena over its
 * limit, no memory), the block stays where it is, big enough already. */
void *tai_realloc_src(void *p, size_t size, alloc_src_t src)
{
    if (!p)
        return src_alloc(src, size);
    if (!size) {
        src_free(src, p);
        return NULL;
    }
    if (tai_opt.check && !tai_check_free(p, false)) {
        errno = EINVAL;
        return NULL;
    }
    block_ref_t b = block_resolve(p);
    unsigned cls = tag_class(b.tag);
    if (cls < NCACHED_CLASSES && size <= TCACHE_MAX && size_class(size) == cls)
        return handed_out(p, size);
    size_t old = usable_size(&b);
    if (cls >= NBINS && size > SMALL_MAX) {
        /* a run that already has the size's pages stays, without a call
         * down (a huge block is never that small) */
        if (size <= LARGE_MAX && align_up(large_usize(size), tai_page) == old)
            return handed_out(p, size);
        void *q = tai_arena_resize_large(&b, size);
        if (!q && size > old && move_within(src, &b))
            q = tai_arena_move_large(&b, size);
        if (q)
            return handed_out(q, size);
    }
    int saved = errno;
    void *q = src_alloc(src, size);
    if (!q) {
        if (size > old)
            return NULL;
        errno = saved;
        return handed_out(p, size);
    }
    memcpy(q, p, old < size ? old : size);
    src_free_ref(src, &b);
    return q;
}

/* A block whose class the new size keeps (a small one, or a large run
 * of a cached class) stays, without a frame; checked mode validates p
 * first. */
void *ta_realloc(void *p, size_t size)
{
    if (likely(p && size - 1 < TCACHE_MAX && !tai_opt.check) &&
        page_tag(head_of(p), p) == size_class(size))
        return p;
    return tai_realloc_src(p, size, (alloc_src_t){NULL, NULL});
}

/* ---- aligned ---------------------------------------------------------- */

/* Small classes whose size is a multiple of align give aligned regions
 * (slabs are page aligned); bigger alignments take an aligned page run. */
void *tai_aligned_src(size_t align, size_t size, alloc_src_t src)
{
    if (align <= QUANTUM)
        return src_alloc(src, size);
    if (size > SIZE_MAX - align) {
        errno = ENOMEM;
        return NULL;
    }
    if (!tai_ensure_init()) {
        errno = ENOMEM;
        return NULL;
    }
    if (align <= tai_page && size <= SMALL_MAX) {
        unsigned cls = size_class(align_up(size ? size : 1, align));
        while (cls < NBINS && tai_class_size[cls] % align)
            cls++;
        if (cls < NBINS)
            return src_alloc(src, tai_class_size[cls]);
    }
    arena_t *a = src.tc ? src.tc->arena : src.arena ? src.arena : tai_thread_arena();
    if (!a) {
        errno = ENOMEM;
        return NULL;
    }
    size_t big = size > SMALL_MAX ? size : SMALL_MAX + 1;
    return set_enomem(handed_out(tai_arena_alloc_large(a, big, align, false), size));
}

void *ta_aligned_alloc(size_t align, size_t size)
{
    if (!is_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return tai_aligned_src(align, size, (alloc_src_t){NULL, NULL});
}

void *ta_memalign(size_t align, size_t size) { return ta_aligned_alloc(align, size); }

int ta_posix_memalign(void **out, size_t align, size_t size)
{
    if (!out || !is_pow2(align) || align % sizeof(void *))
        return EINVAL;
    int saved = errno;
    void *p = tai_aligned_src(align, size, (alloc_src_t){NULL, NULL});
    if (!p) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    return 0;
}

#ifdef TA_PRELOAD
/* In the drop-in build the hottest standard names are these functions
 * under a second name, not jumps into them (preload.c has the others):
 * a program's call through its PLT lands on the fast path itself. */
#define PRELOAD_ALIAS(name, fn)                                                \
    extern __typeof(fn) name __attribute__((alias(#fn), visibility("default")))
PRELOAD_ALIAS(malloc, ta_malloc);
PRELOAD_ALIAS(calloc, ta_calloc);
PRELOAD_ALIAS(realloc, ta_realloc);
PRELOAD_ALIAS(free, ta_free);
PRELOAD_ALIAS(free_sized, ta_free_sized);
#endif
