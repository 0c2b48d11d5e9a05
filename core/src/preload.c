/* The drop-in build: the standard allocation functions, so that
 * LD_PRELOAD=libtunalloc.so puts any program on tunalloc. Linked with
 * -Bsymbolic-functions, each is a direct jump into the ta_ function;
 * malloc, calloc, realloc, free and free_sized are the ta_ functions
 * themselves (aliases at the end of alloc.c). */
#include <errno.h>
#include <stdlib.h>

#include "common.h"
#include "os.h"
#include "init.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT void cfree(void *p) { ta_free(p); }
EXPORT void free_aligned_sized(void *p, size_t align, size_t size)
{
    (void)align;
    (void)size;
    ta_free(p);
}
EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    return ta_posix_memalign(out, align, size);
}
EXPORT void *aligned_alloc(size_t align, size_t size) { return ta_aligned_alloc(align, size); }
EXPORT void *memalign(size_t align, size_t size) { return ta_memalign(align, size); }
EXPORT size_t malloc_usable_size(void *p) { return ta_malloc_usable_size(p); }

EXPORT void *valloc(size_t size)
{
    if (!tai_ensure_init()) {
        errno = ENOMEM;
        return NULL;
    }
    return ta_aligned_alloc(tai_page, size);
}

EXPORT void *pvalloc(size_t size)
{
    if (!tai_ensure_init()) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = align_up(size ? size : 1, tai_page);
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return ta_aligned_alloc(tai_page, rounded);
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return ta_realloc(p, total);
}
