/* Validation of pointers handed back to the allocator. It reads metadata
 * only behind the owner map and under the lock that guards it, so a
 * foreign or stale pointer yields EINVAL rather than a crash. */
#include <errno.h>

#include <stdlib.h>

#include "arena.h"
#include "check.h"
#include "huge.h"
#include "opts.h"
#include "owner_map.h"
#include "secure.h"
#include "thread.h"

/* Region idx of slab e is handed out unless its bit in the slab's free
 * map is set (check_slab also rules out the calling thread's cache). */
static bool region_live(segment_t *seg, const extent_t *e, size_t idx)
{
    return !(slab_map(seg, e)[idx / 64] >> (idx % 64) & 1);
}

static bool in_thread_cache(const void *p, unsigned cls)
{
    const cache_bin_t *cb = &tai_tls_tcache->bins[cls];
    for (unsigned i = 0; i < cb->ncached; i++)
        if (cb->stack[i] == p)
            return true;
    return false;
}

static int check_slab(const block_ref_t *b, unsigned cls)
{
    segment_t *seg = head_segment(b->head);
    const void *p = b->p;
    const bin_info_t *bi = &tai_bin_info[cls];
    bin_t *bin = &seg->head.arena->bins[cls];
    int err = EINVAL;
    mutex_lock(&bin->lock);
    extent_t *e = extent_at(seg, b->page);
    if (e->state == EXT_SLAB && e->cls == cls) {
        const char *base = extent_addr(seg, e);
        size_t off = (size_t)((const char *)p - base);
        if (off % bi->size == 0 && off / bi->size < bi->nregs &&
            region_live(seg, e, off / bi->size))
            err = 0;
    }
    mutex_unlock(&bin->lock);
    if (!err && in_thread_cache(p, cls))
        err = EINVAL;
    return err;
}

/* A huge block is live if its header is on the arena's live list (the
 * list, not the header's live flag: the owner map vouches only that p - 1
 * is in a header unit of ours). */
static int check_huge(const block_ref_t *b)
{
    huge_t *h = head_huge(b->head);
    arena_t *a = h->head.arena;
    int err = EINVAL;
    mutex_lock(&a->lock);
    for (huge_t *s = a->huge_live; s; s = s->next)
        if (s == h && (const char *)b->p == h->data)
            err = 0;
    mutex_unlock(&a->lock);
    return err;
}

static int check_large(const block_ref_t *b)
{
    if (b->head->kind == SEG_HUGE)
        return check_huge(b);
    segment_t *seg = head_segment(b->head);
    arena_t *a = seg->head.arena;
    const void *p = b->p;
    size_t idx = b->page;
    int err = EINVAL;
    mutex_lock(&a->lock);
    if (idx >= seg->hdr_pages && idx < seg->npages) {
        extent_t *e = &seg->ext[idx];
        if (seg->page_head[idx] == idx && e->state == EXT_LARGE &&
            (const char *)p == extent_addr(seg, e))
            err = 0;
    }
    mutex_unlock(&a->lock);
    size_t usize = err ? 0 : extent_at(seg, idx)->u.l.usize;
    if (usize && usize <= TCACHE_MAX && in_thread_cache(p, size_class(usize)))
        err = EINVAL;
    return err;
}

/* ta_check_ptr, leaving p resolved in *b when it is live. */
static int check_resolve(const void *p, block_ref_t *b)
{
    /* head_of(p) reads the unit holding p - 1: it must hold a header */
    if (!p || ((uintptr_t)p & (QUANTUM - 1)) || !tai_owner_map_get(p) ||
        tai_owner_map_unit((const char *)p - 1) != OWNER_HEAD)
        return EINVAL;
    map_head_t *h = head_of(p);
    if (h->kind != SEG_NORMAL && h->kind != SEG_HUGE)
        return EINVAL;
    if (page_index(h, p) > MAX_SEGMENT_PAGES)
        return EINVAL;
    *b = block_resolve(p);
    /* secure mode's live marks are exact, and its thread caches are not
     * the fast paths' (which in_thread_cache looks at) */
    if (tai_opt.secure && h->kind == SEG_NORMAL)
        return tai_secure_is_live(head_segment(h), p) ? 0 : EINVAL;
    unsigned cls = tag_class(b->tag);
    if (cls < NBINS)
        return check_slab(b, cls);
    if (cls < NCACHED_CLASSES || b->tag == PB_LARGE)
        return check_large(b);
    return EINVAL;
}

int ta_check_ptr(const void *p)
{
    block_ref_t b;
    return check_resolve(p, &b);
}

bool tai_check_size(const void *p, size_t size)
{
    block_ref_t b;
    if (check_resolve(p, &b))
        return false;
    return size > TCACHE_MAX || size_class(size) <= tag_class(b.tag);
}

bool tai_check_free(void *p, bool release)
{
    if (tai_opt.secure)
        return tai_secure_check(p, release);
    if (!ta_check_ptr(p))
        return true;
    tai_heap_error(TA_ERR_INVALID, p, NULL);
    return false;
}

void tai_heap_error(tai_heap_error_t err, const void *p, const char *block)
{
    const char *then = tai_opt.abort_on_error ? "; aborting (opt.abort_on_error)"
                     : err == TA_ERR_OVERFLOW ? "; the block is freed"
                                              : "; ignored";
    switch (err) {
    case TA_ERR_INVALID:
        tai_warn("tunalloc: invalid pointer %p passed to free/realloc (not allocated by "
                "tunalloc, not a block start, or already freed)%s",
                p, then);
        break;
    case TA_ERR_DOUBLE:
        tai_warn("tunalloc: double free of %p (%s block)%s", p, block, then);
        break;
    case TA_ERR_INTERIOR:
        tai_warn("tunalloc: invalid free of %p (inside a %s block, not at its start)%s", p,
                block, then);
        break;
    case TA_ERR_OVERFLOW:
        tai_warn("tunalloc: heap overflow past the requested size of %p (%s block): its "
                "canary was overwritten%s",
                p, block, then);
        break;
    }
    if (tai_opt.abort_on_error)
        abort();
}
