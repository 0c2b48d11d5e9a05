/* Bump allocation from 2 MiB blocks, with a free list per power-of-two
 * size so per-thread caches recycle their memory when threads come and go.
 * Requests of a block or more get a mapping of their own. A freed block's
 * pages past its first go back to the kernel, so they read as zero when
 * it is handed out again and only the first needs clearing: the memset
 * of a whole recycled thread cache (128 KiB) made every page of it
 * resident, where a new thread writes two to five (tcache.c), and the
 * pages of a cache whose thread has gone stayed resident until then. */
#include "base.h"

#include <string.h>

#include "lock.h"
#include "os.h"

#define BASE_BLOCK ((size_t)2 << 20)
#define LG_MIN_BASE 6
#define NBASE_CLASSES 16

typedef struct free_block {
    struct free_block *next;
} free_block_t;

static mutex_t base_lock = MUTEX_INITIALIZER;
static char *bump, *bump_end;
static free_block_t *free_lists[NBASE_CLASSES];
static counter_t mapped;

static unsigned base_class(size_t size)
{
    unsigned lg = LG_MIN_BASE;
    while (((size_t)1 << lg) < size)
        lg++;
    return lg - LG_MIN_BASE;
}

void *tai_base_alloc(size_t size)
{
    unsigned cls = base_class(size);
    if (cls >= NBASE_CLASSES) {
        size_t bytes = align_up(size, tai_page);
        void *p = tai_os_map(bytes);
        if (p) {
            mutex_lock(&base_lock);
            ctr_add(&mapped, bytes);
            mutex_unlock(&base_lock);
        }
        return p;
    }
    size_t bytes = (size_t)1 << (cls + LG_MIN_BASE);
    mutex_lock(&base_lock);
    free_block_t *b = free_lists[cls];
    if (b) {
        free_lists[cls] = b->next;
        mutex_unlock(&base_lock);
        memset(b, 0, bytes < tai_page ? bytes : tai_page);
        return b;
    }
    /* power-of-two sizes stay naturally aligned up to a page */
    size_t align = bytes < tai_page ? bytes : tai_page;
    char *p = bump ? (char *)align_up((uintptr_t)bump, align) : NULL;
    if (!p || p + bytes > bump_end) {
        char *block = tai_os_map(BASE_BLOCK);
        if (!block) {
            mutex_unlock(&base_lock);
            return NULL;
        }
        ctr_add(&mapped, BASE_BLOCK);
        p = block;
        bump_end = block + BASE_BLOCK;
    }
    bump = p + bytes;
    mutex_unlock(&base_lock);
    return p;
}

void tai_base_free(void *p, size_t size)
{
    unsigned cls = base_class(size);
    if (cls >= NBASE_CLASSES) {
        size_t bytes = align_up(size, tai_page);
        tai_os_unmap(p, bytes);
        mutex_lock(&base_lock);
        ctr_sub(&mapped, bytes);
        mutex_unlock(&base_lock);
        return;
    }
    size_t bytes = (size_t)1 << (cls + LG_MIN_BASE);
    if (bytes > tai_page)
        tai_os_purge_forced((char *)p + tai_page, bytes - tai_page);
    mutex_lock(&base_lock);
    free_block_t *b = p;
    b->next = free_lists[cls];
    free_lists[cls] = b;
    mutex_unlock(&base_lock);
}

uint64_t tai_base_mapped(void) { return ctr_get(&mapped); }

void tai_base_prefork(void) { mutex_lock(&base_lock); }

void tai_base_postfork(bool child)
{
    if (child)
        mutex_init(&base_lock);
    else
        mutex_unlock(&base_lock);
}
