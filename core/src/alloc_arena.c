/* The arena calls: manual arenas made and destroyed, the table read, and
 * blocks taken straight from a given arena, past every cache. */
#include "alloc.h"
#include "init.h"
#include "owner_map.h"
#include "prof.h"

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
arena_t *tai_arena_valid(const ta_arena_t *arena)
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
    arena_t *a = tai_arena_valid(arena);
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
    return (ta_arena_t *)((const map_head_t *)unit)->arena;
}

/* The same counters the stats snapshot sums, read without the epoch, and
 * the blocks the heap profiler sampled through the arena's caches:
 * curregs counts cached small blocks as handed out, and curlextents and
 * large_allocated move only when a large or huge block reaches its arena. */
int ta_arena_live(const ta_arena_t *arena, size_t *blocks, size_t *bytes)
{
    arena_t *a = tai_arena_valid(arena);
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

int ta_arena_huge_pages(ta_arena_t *arena)
{
    arena_t *a = tai_arena_valid(arena);
    if (!a)
        return EINVAL;
    int err = 0;
    mutex_lock(&a->lock);
    a->huge_pages = true;
    for (segment_t *s = a->segments; s && !err; s = s->next)
        err = tai_os_huge_pages(s, SEGMENT_SIZE);
    mutex_unlock(&a->lock);
    return err;
}

void *ta_arena_malloc(ta_arena_t *arena, size_t size)
{
    if (!arena) {
        errno = EINVAL;
        return NULL;
    }
    return set_enomem(tai_alloc_arena(&arena->a, size, false));
}

void *ta_arena_calloc(ta_arena_t *arena, size_t n, size_t size)
{
    size_t total;
    if (!arena || __builtin_mul_overflow(n, size, &total)) {
        errno = arena ? ENOMEM : EINVAL;
        return NULL;
    }
    return set_enomem(tai_alloc_arena(&arena->a, total, true));
}

void *ta_arena_realloc(ta_arena_t *arena, void *p, size_t size)
{
    if (!arena) {
        errno = EINVAL;
        return NULL;
    }
    return tai_realloc_src(p, size, (alloc_src_t){NULL, &arena->a});
}

void *ta_arena_aligned_alloc(ta_arena_t *arena, size_t align, size_t size)
{
    if (!arena || !is_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return tai_aligned_src(align, size, (alloc_src_t){NULL, &arena->a});
}
