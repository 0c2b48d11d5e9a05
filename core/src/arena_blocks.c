/* An arena's blocks: the one door through which caches, entry points and
 * the profiler reach the structures blocks live in (bins of slabs,
 * large runs, huge blocks), and the place where the policies that span
 * those structures run, so that they only report and never call up:
 *  - reclaim (reclaim.c): an allocation that fails after the kernel
 *    refused a mapping gives back every arena's unused memory and is
 *    tried once more;
 *  - decay (decay.c): after each call, the decay the structures' reports
 *    made due (arena_report, arena.h) runs, the structure's locks
 *    dropped by then; a call that asked for blocks marks the arena in
 *    use for the automatic arenas' joint bound (arena_note_alloc). */
#include "arena_blocks.h"

#include "bin.h"
#include "decay.h"
#include "large.h"
#include "reclaim.h"

unsigned tai_arena_fill(arena_t *a, unsigned cls, void **out, unsigned n)
{
    uint64_t mark = tai_reclaim_mark();
    unsigned got = tai_bin_fill(a, cls, out, n);
    if (!got && tai_reclaim_retry(mark))
        got = tai_bin_fill(a, cls, out, n);
    arena_note_alloc(a);
    tai_decay_poll(a);
    return got;
}

void *tai_arena_alloc_small(arena_t *a, unsigned cls, bool zero)
{
    uint64_t mark = tai_reclaim_mark();
    void *p = tai_bin_alloc(a, cls, zero);
    if (!p && tai_reclaim_retry(mark))
        p = tai_bin_alloc(a, cls, zero);
    arena_note_alloc(a);
    tai_decay_poll(a);
    return p;
}

unsigned tai_arena_flush(arena_t *a, unsigned cls, void **items, unsigned n)
{
    unsigned keep = tai_bin_flush(a, cls, items, n);
    tai_decay_poll(a);
    return keep;
}

void tai_arena_dalloc_small(arena_t *a, unsigned cls, void *p)
{
    tai_bin_dalloc(a, cls, p);
    tai_decay_poll(a);
}

void *tai_arena_alloc_large(arena_t *a, size_t size, size_t align, bool zero)
{
    uint64_t mark = tai_reclaim_mark();
    void *p = tai_large_alloc(a, size, align, zero);
    if (!p && tai_reclaim_retry(mark))
        p = tai_large_alloc(a, size, align, zero);
    arena_note_alloc(a);
    tai_decay_poll(a);
    return p;
}

/* The arena is read first: a huge block's header goes with its mapping. */
size_t tai_arena_dalloc_large(const block_ref_t *b)
{
    arena_t *a = b->head->arena;
    size_t usize = tai_large_dalloc(b);
    tai_decay_poll(a);
    return usize;
}

void *tai_arena_resize_large(const block_ref_t *b, size_t size)
{
    arena_t *a = b->head->arena;
    void *p = tai_large_resize(b, size);
    arena_note_alloc(a);
    tai_decay_poll(a);
    return p;
}

void *tai_arena_move_large(const block_ref_t *b, size_t size)
{
    arena_t *a = b->head->arena;
    void *p = tai_large_move(b, size);
    tai_decay_poll(a);
    return p;
}
