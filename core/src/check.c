/* Validation of pointers handed back to the allocator. It reads metadata
 * only behind the owner map and under the lock that guards it, so a
 * foreign or stale pointer yields EINVAL rather than a crash. */
#include <errno.h>

#include <stdlib.h>

#include "arena.h"
#include "check.h"
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
    const cache_bin_t *cb = &ta_tls_tcache->bins[cls];
    for (unsigned i = 0; i < cb->ncached; i++)
        if (cb->stack[i] == p)
            return true;
    return false;
}

static int check_slab(arena_t *a, segment_t *seg, const void *p, unsigned cls)
{
    const bin_info_t *bi = &ta_bin_info[cls];
    bin_t *bin = &a->bins[cls];
    int err = EINVAL;
    mutex_lock(&bin->lock);
    extent_t *e = extent_of(seg, p);
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

static int check_large(arena_t *a, segment_t *seg, const void *p)
{
    size_t idx = page_index(seg, p);
    int err = EINVAL;
    mutex_lock(&a->lock);
    if (seg->kind == SEG_HUGE) {
        for (segment_t *s = a->huge_live; s; s = s->next)
            if (s == seg && (const char *)p == seg->data)
                err = 0;
    } else if (idx >= seg->hdr_pages && idx < seg->npages) {
        extent_t *e = &seg->ext[idx];
        if (seg->page_head[idx] == idx && e->state == EXT_LARGE &&
            (const char *)p == extent_addr(seg, e))
            err = 0;
    }
    mutex_unlock(&a->lock);
    size_t usize = err || seg->kind == SEG_HUGE ? 0 : extent_at(seg, idx)->u.l.usize;
    if (usize && usize <= TCACHE_MAX && in_thread_cache(p, size_class(usize)))
        err = EINVAL;
    return err;
}

int ta_check_ptr(const void *p)
{
    /* segment_of(p) reads the unit holding p - 1: it must hold a header */
    if (!p || ((uintptr_t)p & (QUANTUM - 1)) || !ta_owner_map_get(p) ||
        ta_owner_map_unit((const char *)p - 1) != OWNER_HEAD)
        return EINVAL;
    segment_t *seg = segment_of(p);
    if (seg->kind != SEG_NORMAL && seg->kind != SEG_HUGE)
        return EINVAL;
    /* secure mode's live marks are exact, and its thread caches are not
     * the fast paths' (which in_thread_cache looks at) */
    if (ta_opt.secure && seg->kind == SEG_NORMAL)
        return ta_secure_is_live(seg, p) ? 0 : EINVAL;
    size_t idx = page_index(seg, p);
    if (idx > MAX_SEGMENT_PAGES)
        return EINVAL;
    unsigned tag = seg->page_bin[idx];
    unsigned cls = tag_class(tag);
    if (cls < NBINS)
        return check_slab(seg->arena, seg, p, cls);
    if (cls < NCACHED_CLASSES || tag == PB_LARGE)
        return check_large(seg->arena, seg, p);
    return EINVAL;
}

bool ta_check_size(const void *p, size_t size)
{
    if (ta_check_ptr(p))
        return false;
    if (size > TCACHE_MAX)
        return true;
    const segment_t *seg = segment_of(p);
    return tag_class(page_tag(seg, p)) == size_class(size);
}

bool ta_check_free(void *p, bool release)
{
    if (ta_opt.secure)
        return ta_secure_check(p, release);
    if (!ta_check_ptr(p))
        return true;
    ta_heap_error(TA_ERR_INVALID, p, NULL);
    return false;
}

void ta_heap_error(ta_heap_error_t err, const void *p, const char *block)
{
    const char *then = ta_opt.abort_on_error ? "; aborting (opt.abort_on_error)"
                     : err == TA_ERR_OVERFLOW ? "; the block is freed"
                                              : "; ignored";
    switch (err) {
    case TA_ERR_INVALID:
        ta_warn("tunalloc: invalid pointer %p passed to free/realloc (not allocated by "
                "tunalloc, not a block start, or already freed)%s",
                p, then);
        break;
    case TA_ERR_DOUBLE:
        ta_warn("tunalloc: double free of %p (%s block)%s", p, block, then);
        break;
    case TA_ERR_INTERIOR:
        ta_warn("tunalloc: invalid free of %p (inside a %s block, not at its start)%s", p,
                block, then);
        break;
    case TA_ERR_OVERFLOW:
        ta_warn("tunalloc: heap overflow past the requested size of %p (%s block): its "
                "canary was overwritten%s",
                p, block, then);
        break;
    }
    if (ta_opt.abort_on_error)
        abort();
}
