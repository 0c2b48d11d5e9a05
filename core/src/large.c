/* Large allocations: page runs from the arena for sizes up to LARGE_MAX;
 * bigger ones are huge.c's. */
#include <string.h>

#include "arena.h"
#include "check.h"
#include "huge.h"
#include "large.h"
#include "secure.h"

/* room: free pages wanted after the run (tai_extent_alloc_room). */
static void *run_alloc(arena_t *a, size_t usize, size_t align, size_t room, bool zero)
{
    size_t npages = usize >> tai_lg_page, guard = tai_guard_pages();
    size_t align_pages = align > tai_page ? align >> tai_lg_page : 1;
    bool zeroed;
    mutex_lock(&a->lock);
    extent_t *e = tai_extent_alloc_room(a, npages + guard, align_pages, room, &zeroed);
    if (!e) {
        mutex_unlock(&a->lock);
        return NULL;
    }
    segment_t *seg = extent_segment(e);
    if (guard)
        tai_secure_guard(e);
    e->state = EXT_LARGE;
    e->u.l.usize = usize;
    tai_extent_map(seg, e, tag_large(a->manual, usize), false);
    tai_arena_count_large(a, usize, true);
    arena_report(a, false);
    mutex_unlock(&a->lock);
    void *p = extent_addr(seg, e);
    if (zero && !zeroed)
        memset(p, 0, usize);
    return p;
}

void *tai_large_alloc(arena_t *a, size_t size, size_t align, bool zero)
{
    if (size <= LARGE_MAX && align < SEGMENT_SIZE / 4) {
        size_t usize = align_up(large_usize(size), tai_page);
        return run_alloc(a, usize, align, 0, zero);
    }
    return tai_huge_alloc(a, size, align, zero);
}

/* The run's state, read under the lock, tells a live run from one freed
 * already (a double free reaching here from a thread cache), and its
 * start from a pointer into it. */
size_t tai_large_dalloc(const block_ref_t *b)
{
    void *p = b->p;
    if (b->head->kind == SEG_HUGE)
        return tai_huge_dalloc(head_huge(b->head), p);
    segment_t *seg = head_segment(b->head);
    arena_t *a = seg->head.arena;
    mutex_lock(&a->lock);
    extent_t *e = extent_at(seg, b->page);
    if (e->state != EXT_LARGE || (char *)p != extent_addr(seg, e)) {
        bool live = e->state == EXT_LARGE;
        mutex_unlock(&a->lock);
        tai_heap_error(live ? TA_ERR_INTERIOR : TA_ERR_DOUBLE, p, "large");
        return 0;
    }
    size_t usize = e->u.l.usize;
    tai_arena_count_large(a, usize, false);
    tai_extent_free(a, e);
    arena_report(a, true);
    mutex_unlock(&a->lock);
    return usize;
}

size_t tai_large_usize(const block_ref_t *b)
{
    if (b->head->kind == SEG_HUGE)
        return head_huge(b->head)->usize;
    return extent_at(head_segment(b->head), b->page)->u.l.usize;
}

/* Resizes a large run within its segment, arena lock held. */
static bool run_resize(arena_t *a, segment_t *seg, extent_t *e, size_t usize)
{
    size_t old = e->u.l.usize, npages = usize >> tai_lg_page;
    bool zeroed;
    if (usize < old)
        tai_extent_shrink(a, e, npages);
    else if (!tai_extent_grow(a, e, npages, &zeroed))
        return false;
    tai_arena_count_large(a, old, false);
    tai_arena_count_large(a, usize, true);
    e->u.l.usize = usize;
    tai_extent_map(seg, e, tag_large(a->manual, usize), false);
    return true;
}

void *tai_large_resize(const block_ref_t *b, size_t size)
{
    void *p = b->p;
    if (b->head->kind == SEG_HUGE)
        return tai_huge_resize(head_huge(b->head), p, size);
    segment_t *seg = head_segment(b->head);
    arena_t *a = seg->head.arena;
    if (size <= SMALL_MAX || size > LARGE_MAX)
        return NULL;
    size_t usize = align_up(large_usize(size), tai_page);
    extent_t *e = extent_at(seg, b->page);
    if (usize == e->u.l.usize)
        return p;
    /* secure mode: the guard page after the run would have to move */
    if (tai_opt.secure)
        return NULL;
    mutex_lock(&a->lock);
    bool ok = run_resize(a, seg, e, usize);
    if (ok)
        arena_report(a, false);
    mutex_unlock(&a->lock);
    return ok ? p : NULL;
}

/* A run that must move to grow goes where it has half as much room
 * again after it, so the next growths stay in place (a list growing an
 * eighth at a time crosses a large class every second or third time);
 * the copy is made with the lock dropped, the old run still the
 * caller's. */
void *tai_large_move(const block_ref_t *b, size_t size)
{
    if (b->head->kind == SEG_HUGE || size <= SMALL_MAX || size > LARGE_MAX || tai_opt.secure)
        return NULL;
    segment_t *seg = head_segment(b->head);
    arena_t *a = seg->head.arena;
    extent_t *old = extent_at(seg, b->page);
    size_t usize = align_up(large_usize(size), tai_page);
    void *q = run_alloc(a, usize, 0, (usize >> tai_lg_page) / 2, false);
    if (!q)
        return NULL;
    size_t used = old->u.l.usize;
    memcpy(q, b->p, used);
    mutex_lock(&a->lock);
    tai_arena_count_large(a, used, false);
    tai_extent_free(a, old);
    arena_report(a, true);
    mutex_unlock(&a->lock);
    return q;
}
