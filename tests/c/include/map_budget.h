/* A mapping budget for the C tests: a test linked with --wrap=mmap,
 * --wrap=munmap and --wrap=mremap counts the bytes tunalloc has mapped
 * (only its own calls are wrapped, not libc's or a sanitizer's) and makes
 * the kernel's refusal happen past a budget it sets, in any build. */
#ifndef TA_TEST_MAP_BUDGET_H
#define TA_TEST_MAP_BUDGET_H

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/types.h>

static _Atomic size_t mapped_now; /* bytes tunalloc has mapped */
static _Atomic size_t budget;     /* refuse past this many; 0: no budget */

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
void *__real_mremap(void *old, size_t old_size, size_t new_size, int flags, ...);

/* Counts len in before mapping, so threads racing to the budget cannot
 * pass it together; false (and nothing counted) past the budget. */
static int budget_take(size_t len)
{
    size_t now = atomic_fetch_add(&mapped_now, len) + len, b = atomic_load(&budget);
    if (b && now > b) {
        atomic_fetch_sub(&mapped_now, len);
        errno = ENOMEM;
        return 0;
    }
    return 1;
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (!budget_take(len))
        return MAP_FAILED;
    void *p = __real_mmap(addr, len, prot, flags, fd, off);
    if (p == MAP_FAILED)
        atomic_fetch_sub(&mapped_now, len);
    return p;
}

int __wrap_munmap(void *addr, size_t len)
{
    int rc = __real_munmap(addr, len);
    if (rc == 0)
        atomic_fetch_sub(&mapped_now, len);
    return rc;
}

/* Growth in place is counted like a new mapping; a fixed move replaces
 * its target, so the source's bytes leave the count. */
void *__wrap_mremap(void *old, size_t old_size, size_t new_size, int flags, ...)
{
    void *target = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        target = va_arg(ap, void *);
        va_end(ap);
    }
    size_t more = !(flags & MREMAP_FIXED) && new_size > old_size ? new_size - old_size : 0;
    if (more && !budget_take(more))
        return MAP_FAILED;
    void *q = __real_mremap(old, old_size, new_size, flags, target);
    if (q == MAP_FAILED)
        atomic_fetch_sub(&mapped_now, more);
    else if (flags & MREMAP_FIXED)
        atomic_fetch_sub(&mapped_now, old_size);
    return q;
}

#endif
