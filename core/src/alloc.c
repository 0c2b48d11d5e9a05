/* The public allocation entry points: the inline fast paths of
 * tcache_fast.h, and everything else in out-of-line slow paths. */
#include <errno.h>
#include <string.h>

#include "background.h"
#include "bin.h"
#include "check.h"
#include "init.h"
#include "large.h"
#include "opts.h"
#include "owner_map.h"
#include "prof.h"
#include "secure.h"
#include "tcache_fast.h"
#include "thread.h"

/* ---- shared slow paths ---------------------------------------------- */

/* Every block leaves through here in secure mode (its fast paths always
 * miss), which marks it live and writes its canary. */
static void *handed_out(void *p, size_t size)
{
    return unlikely(tai_opt.secure) && p ? tai_secure_out(p, size) : p;
}

static void *arena_alloc(arena_t *a, size_t size, bool zero)
{
    if (!a)
        return NULL;
    if (size <= SMALL_MAX)
        return handed_out(tai_bin_alloc(a, size_class(size), zero), size);
    return handed_out(tai_large_alloc(a, size, 0, zero), size);
}

static void *tcache_alloc(tcache_t *tc, size_t size, bool zero)
{
    if (size <= TCACHE_MAX) {
        void *p;
        if (!cache_pop(tc, size, &p))
            return handed_out(tai_tcache_alloc_slow(tc, size_class(size), zero), size);
        return handed_out(zero ? memset(p, 0, size) : p, size);
    }
    if (prof_touches(tc))
        return handed_out(tai_prof_large_alloc(tc, size, zero), size);
    void *p = tai_large_alloc(tc->arena, size, 0, zero);
    if (p) {
        block_ref_t b = block_resolve(p);
        tc->uncached_allocated += tai_large_usize(&b);
    }
    return handed_out(p, size);
}

static void *set_enomem(void *p)
{
    if (unlikely(!p))
        errno = ENOMEM;
    return p;
}

NOINLINE static void *malloc_slow(size_t size, bool zero)
{
    if (!tai_ensure_init())
        return set_enomem(NULL);
    if (unlikely(atomic_load_explicit(&tai_background_pending, memory_order_relaxed)))
        tai_background_maybe_start();
    tcache_t *tc = tai_thread_tcache_slow();
    void *p = tc ? tcache_alloc(tc, size, zero) : arena_alloc(tai_thread_arena(), size, zero);
    return set_enomem(p);
}

/* A block that no cache may keep goes back to its bin or run. */
static void dalloc_direct(const block_ref_t *b, unsigned cls)
{
    if (cls < NBINS)
        tai_bin_dalloc(b->seg->arena, cls, b->p);
    else
        tai_large_dalloc(b);
}

/* Frees a resolved block by its tag through cache tc (NULL: none), when
 * the fast path did not try (secure mode, a thread's first call) or
 * missed: a block of tc's arena is pushed, others go back to theirs. */
static void dalloc_ref(tcache_t *tc, const block_ref_t *b)
{
    unsigned tag = b->tag;
    if (unlikely(atomic_load_explicit(&tai_prof_engaged, memory_order_relaxed)) &&
        tai_prof_dalloc(tc, b->p, tag))
        return;
    if (tag < NCACHED_CLASSES) {
        if (!tc || !tc->bins[tag].cap)
            dalloc_direct(b, tag);
        else if (b->seg->arena != tc->arena)
            tai_tcache_dalloc_remote(tc, b, tag);
        else if (!cache_push(tc, b->p, tag))
            tai_tcache_dalloc_slow(tc, b->p, tag);
    } else if (tag_is_manual(tag)) {
        if (tc)
            tc->uncached_deallocated += tai_class_size[tag_class(tag)];
        dalloc_direct(b, tag_class(tag));
    } else if (tag == PB_LARGE) {
        size_t freed = tai_large_dalloc(b);
        if (tc)
            tc->uncached_deallocated += freed;
    } else {
        tai_heap_error(TA_ERR_INVALID, b->p, NULL);
    }
}

/* An explicit cache may keep blocks of its own manual arena: their tag
 * is read as the plain class for it. */
static void tcache_dalloc_ref(tcache_t *tc, block_ref_t b)
{
    if (tag_is_manual(b.tag) && b.seg->arena == tc->arena)
        b.tag = tag_class(b.tag);
    dalloc_ref(tc, &b);
}

NOINLINE static void free_slow(void *p)
{
    if (!p)
        return;
    if (unlikely(tai_opt.check) && !tai_check_free(p, true))
        return;
    block_ref_t b = block_resolve(p);
    dalloc_ref(tai_thread_tcache_slow(), &b);
}

/* ---- malloc family ---------------------------------------------------- */

void *ta_malloc(size_t size)
{
    void *p;
    return likely(cache_pop(tai_tls_tcache, size, &p)) ? p : malloc_slow(size, false);
}

void *ta_calloc(size_t n, size_t size)
{
    size_t total;
    if (unlikely(__builtin_mul_overflow(n, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    void *p;
    return likely(cache_pop(tai_tls_tcache, total, &p)) ? memset(p, 0, total)
                                                       : malloc_slow(total, true);
}

/* The thread cache's push of a block of its own arena, by the block's
 * page tag. Checked mode takes the slow path before p is dereferenced: a
 * foreign pointer's segment header may not be mapped. */
static ALWAYS_INLINE bool thread_push(void *p)
{
    if (likely(p && !tai_opt.check)) {
        tcache_t *tc = tai_tls_tcache;
        const segment_t *seg = segment_of(p);
        return likely(seg->arena == tc->arena &&
                      cache_push(tc, p, page_tag(seg, p)));
    }
    return false;
}

void ta_free(void *p)
{
    if (likely(thread_push(p)))
        return;
    free_slow(p);
}

/* Checked mode validates the size against the block; every other path
 * that misses the sized fast path frees as an unsized free would. tc is
 * an explicit cache, or NULL for the calling thread's; the arguments keep
 * the fast paths' registers, so a miss is a plain jump. */
NOINLINE static void free_sized_slow(void *p, size_t size, tcache_t *tc)
{
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

/* The size names no class (see cache_push_sized): the push is ta_free's. */
void ta_free_sized(void *p, size_t size)
{
    if (likely(thread_push(p)))
        return;
    free_sized_slow(p, size, NULL);
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

/* Where a reallocation's new block comes from: a given cache, a given
 * arena, or the calling thread's default. */
typedef struct alloc_src {
    tcache_t *tc;
    arena_t *arena;
} alloc_src_t;

static void *src_alloc(alloc_src_t src, size_t size)
{
    if (src.tc)
        return set_enomem(tcache_alloc(src.tc, size, false));
    if (src.arena)
        return set_enomem(arena_alloc(src.arena, size, false));
    return ta_malloc(size);
}

static void src_free(alloc_src_t src, void *p)
{
    if (src.tc)
        ta_tcache_free((ta_tcache_t *)src.tc, p);
    else
        ta_free(p);
}

/* src_free of a block realloc_impl resolved and checked already. */
static void src_free_ref(alloc_src_t src, const block_ref_t *b)
{
    if (unlikely(tai_opt.check))
        src_free(src, b->p); /* releases the block's check state */
    else if (src.tc)
        tcache_dalloc_ref(src.tc, *b);
    else
        dalloc_ref(tai_thread_tcache_slow(), b);
}

/* Same class for small blocks, or a large run resized where it stands or
 * a huge mapping moved without copying; else allocate, copy and free. A
 * shrink never fails: if no smaller block can be had (arena over its
 * limit, no memory), the block stays where it is, big enough already. */
static void *realloc_impl(void *p, size_t size, alloc_src_t src)
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
    size_t old = usable_size(&b);
    if (cls < NBINS && size <= SMALL_MAX && size_class(size) == cls)
        return handed_out(p, size);
    if (cls >= NBINS && size > SMALL_MAX) {
        void *q = tai_large_resize(&b, size);
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

void *ta_realloc(void *p, size_t size)
{
    return realloc_impl(p, size, (alloc_src_t){NULL, NULL});
}

/* ---- aligned ---------------------------------------------------------- */

/* Small classes whose size is a multiple of align give aligned regions
 * (slabs are page aligned); bigger alignments take an aligned page run. */
static void *aligned_impl(size_t align, size_t size, alloc_src_t src)
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
    return set_enomem(handed_out(tai_large_alloc(a, size > SMALL_MAX ? size : SMALL_MAX + 1,
                                                align, false), size));
}

void *ta_aligned_alloc(size_t align, size_t size)
{
    if (!is_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_impl(align, size, (alloc_src_t){NULL, NULL});
}

void *ta_memalign(size_t align, size_t size) { return ta_aligned_alloc(align, size); }

int ta_posix_memalign(void **out, size_t align, size_t size)
{
    if (!out || !is_pow2(align) || align % sizeof(void *))
        return EINVAL;
    int saved = errno;
    void *p = aligned_impl(align, size, (alloc_src_t){NULL, NULL});
    if (!p) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    return 0;
}

/* ---- explicit arenas -------------------------------------------------- */

void ta_arena_opts_init(ta_arena_opts *opts)
{
    opts->dirty_decay_ms = TA_DECAY_DEFAULT;
    opts->muzzy_decay_ms = TA_DECAY_DEFAULT;
    opts->limit = 0;
}

static bool decay_valid(int64_t ms) { return ms == TA_DECAY_DEFAULT || tai_decay_ms_valid(ms); }

ta_arena_t *ta_arena_create(const ta_arena_opts *opts)
{
    if (opts && (!decay_valid(opts->dirty_decay_ms) || !decay_valid(opts->muzzy_decay_ms))) {
        errno = EINVAL;
        return NULL;
    }
    if (!tai_ensure_init()) {
        errno = ENOMEM;
        return NULL;
    }
    arena_t *a = tai_arena_new(true, opts);
    if (!a)
        errno = EAGAIN;
    return (ta_arena_t *)a;
}

/* Only pointers that are live entries of the arena table count. */
static arena_t *valid_arena(const ta_arena_t *arena)
{
    if (!arena || !atomic_load(&tai_initialized))
        return NULL;
    unsigned n = atomic_load_explicit(&tai_narenas_total, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (atomic_load_explicit(&tai_arenas[i], memory_order_acquire) == &arena->a)
            return (arena_t *)&arena->a;
    return NULL;
}

int ta_arena_destroy(ta_arena_t *arena)
{
    arena_t *a = valid_arena(arena);
    return a ? tai_arena_destroy_internal(a) : EINVAL;
}

unsigned ta_arena_index(const ta_arena_t *arena) { return arena->a.index; }

ta_arena_t *ta_arena_get(unsigned index)
{
    if (index >= MAX_ARENAS || !tai_ensure_init())
        return NULL;
    return (ta_arena_t *)tai_arena_get_or_create(index);
}

/* The header is in the mapping's first unit: past it, a huge block's
 * units hold the block itself. */
ta_arena_t *ta_arena_of(const void *p)
{
    if (!p || !ta_owns(p))
        return NULL;
    uintptr_t unit = (uintptr_t)p & ~(uintptr_t)SEGMENT_MASK;
    while (tai_owner_map_unit((const void *)unit) == OWNER_TAIL)
        unit -= SEGMENT_SIZE;
    if (tai_owner_map_unit((const void *)unit) != OWNER_HEAD)
        return NULL;
    return (ta_arena_t *)((const segment_t *)unit)->arena;
}

/* The same counters the stats snapshot sums, read without the epoch, and
 * the blocks the heap profiler sampled through the arena's caches:
 * curregs counts cached small blocks as handed out, and curlextents and
 * large_allocated move only when a large or huge block reaches its arena. */
int ta_arena_live(const ta_arena_t *arena, size_t *blocks, size_t *bytes)
{
    arena_t *a = valid_arena(arena);
    if (!a || !blocks || !bytes)
        return EINVAL;
    if (!a->manual)
        return EPERM;
    uint64_t n = 0, sum = ctr_get(&a->stats.large_allocated);
    for (unsigned j = 0; j < NBINS; j++) {
        uint64_t regs = ctr_get(&a->bins[j].stats.curregs);
        n += regs;
        sum += regs * tai_bin_info[j].size;
    }
    for (unsigned j = 0; j < NLEXTENTS; j++)
        n += ctr_get(&a->stats.lstats[j].curlextents);
    tai_prof_arena_live(a, &n, &sum);
    *blocks = (size_t)n;
    *bytes = (size_t)sum;
    return 0;
}

void *ta_arena_malloc(ta_arena_t *arena, size_t size)
{
    if (!arena) {
        errno = EINVAL;
        return NULL;
    }
    return set_enomem(arena_alloc(&arena->a, size, false));
}

void *ta_arena_calloc(ta_arena_t *arena, size_t n, size_t size)
{
    size_t total;
    if (!arena || __builtin_mul_overflow(n, size, &total)) {
        errno = arena ? ENOMEM : EINVAL;
        return NULL;
    }
    return set_enomem(arena_alloc(&arena->a, total, true));
}

void *ta_arena_realloc(ta_arena_t *arena, void *p, size_t size)
{
    if (!arena) {
        errno = EINVAL;
        return NULL;
    }
    return realloc_impl(p, size, (alloc_src_t){NULL, &arena->a});
}

void *ta_arena_aligned_alloc(ta_arena_t *arena, size_t align, size_t size)
{
    if (!arena || !is_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_impl(align, size, (alloc_src_t){NULL, &arena->a});
}

/* ---- explicit caches -------------------------------------------------- */

ta_tcache_t *ta_tcache_create(ta_arena_t *arena)
{
    if (!tai_ensure_init()) {
        errno = ENOMEM;
        return NULL;
    }
    if (arena && !valid_arena(arena)) {
        errno = EINVAL;
        return NULL;
    }
    arena_t *a = arena ? &arena->a : tai_thread_arena();
    tcache_t *tc = a ? tai_tcache_new(a, EXPLICIT_CACHE_SCALE) : NULL;
    if (!tc)
        errno = ENOMEM;
    return (ta_tcache_t *)tc;
}

void ta_tcache_destroy(ta_tcache_t *tc)
{
    if (tc)
        tai_tcache_delete(&tc->t);
}

void ta_tcache_flush(ta_tcache_t *tc)
{
    if (tc)
        tai_tcache_flush_all(&tc->t);
}

ta_arena_t *ta_tcache_arena(const ta_tcache_t *tc) { return (ta_arena_t *)tc->t.arena; }
size_t ta_tcache_cached_bytes(const ta_tcache_t *tc) { return tc ? tai_tcache_cached(&tc->t) : 0; }

/* Out of line, so the hit path saves no register for the miss. */
NOINLINE static void *tcache_malloc_slow(tcache_t *tc, size_t size)
{
    return set_enomem(tcache_alloc(tc, size, false));
}

void *ta_tcache_malloc(ta_tcache_t *tcache, size_t size)
{
    void *p;
    return likely(cache_pop(&tcache->t, size, &p)) ? p : tcache_malloc_slow(&tcache->t, size);
}

void *ta_tcache_calloc(ta_tcache_t *tcache, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return set_enomem(tcache_alloc(&tcache->t, total, true));
}

void *ta_tcache_realloc(ta_tcache_t *tcache, void *p, size_t size)
{
    return realloc_impl(p, size, (alloc_src_t){&tcache->t, NULL});
}

/* Checked mode validates first; blocks of the cache's own manual arena
 * may be cached here, other manual arenas' blocks go straight back so
 * those arenas stay destroyable. */
NOINLINE static void tcache_free_slow(tcache_t *tc, void *p)
{
    if (unlikely(tai_opt.check) && !tai_check_free(p, true))
        return;
    tcache_dalloc_ref(tc, block_resolve(p));
}

/* The body of every explicit-cache free; p is not NULL. Every miss is a
 * jump to the slow path, so callers keep no registers for it. */
static ALWAYS_INLINE void tcache_free_in(tcache_t *tc, void *p)
{
    if (likely(!tai_opt.check && cache_push(tc, p, page_tag(segment_of(p), p))))
        return;
    tcache_free_slow(tc, p);
}

void ta_tcache_free(ta_tcache_t *tcache, void *p)
{
    if (likely(p))
        tcache_free_in(&tcache->t, p);
}

/* Hooks that wrap another allocator free every block through here: one
 * call for the ownership test and the free. */
int ta_tcache_free_if_owned(ta_tcache_t *tcache, void *p)
{
    if (!p || !tai_owner_map_get(p))
        return 0;
    tcache_free_in(&tcache->t, p);
    return 1;
}

void ta_tcache_free_sized(ta_tcache_t *tcache, void *p, size_t size)
{
    if (likely(p && !tai_opt.check && cache_push_sized(&tcache->t, p)))
        return;
    free_sized_slow(p, size, &tcache->t);
}

/* ---- hook callbacks --------------------------------------------------- */

static ALWAYS_INLINE ta_tcache_t *hook_cache(ta_tcache_t *const *slot)
{
    return __atomic_load_n(slot, __ATOMIC_RELAXED);
}

NOINLINE static void *hook_malloc_slow(ta_hook_t *h, ta_tcache_t *tc, size_t size)
{
    return tc ? tcache_malloc_slow(&tc->t, size) : h->malloc_fallback(h, size);
}

void *ta_hook_malloc(void *hook, size_t size)
{
    ta_hook_t *h = hook;
    ta_tcache_t *tc = hook_cache(&h->alloc_cache);
    void *p;
    if (likely(tc != NULL) && likely(cache_pop(&tc->t, size, &p)))
        return p;
    return hook_malloc_slow(h, tc, size);
}

NOINLINE static void *hook_calloc_slow(ta_hook_t *h, ta_tcache_t *tc, size_t n, size_t size)
{
    return tc ? ta_tcache_calloc(tc, n, size) : h->calloc_fallback(h, n, size);
}

void *ta_hook_calloc(void *hook, size_t n, size_t size)
{
    ta_hook_t *h = hook;
    ta_tcache_t *tc = hook_cache(&h->alloc_cache);
    size_t total;
    void *p;
    if (likely(tc != NULL) && likely(!__builtin_mul_overflow(n, size, &total)) &&
        likely(cache_pop(&tc->t, total, &p)))
        return memset(p, 0, total);
    return hook_calloc_slow(h, tc, n, size);
}

/* NULL needs no test of its own: the owner map's first unit, the lowest
 * segment-sized stretch of addresses, is never ours (mappings there would
 * have to start at address 0), so NULL goes to the fallback. */
void ta_hook_free(void *hook, void *p)
{
    ta_hook_t *h = hook;
    ta_tcache_t *tc = hook_cache(&h->free_cache);
    if (likely(tc != NULL) && likely(tai_owner_map_get(p)))
        tcache_free_in(&tc->t, p);
    else
        h->free_fallback(h, p);
}
