/* Size classes: four per doubling above 128 bytes, so internal
 * fragmentation stays under 25%, with a lookup table for the sizes the
 * thread cache serves so the fast path does no arithmetic beyond a shift. */
#ifndef TA_SIZECLASS_H
#define TA_SIZECLASS_H

#include "common.h"

#define QUANTUM 16
#define LG_QUANTUM 4
#define SMALL_MAX 16384          /* largest size served from slabs */
#define NBINS 36                 /* small size classes */
#define TCACHE_MAX 32768         /* largest size kept in thread caches */
#define NLCACHED 4               /* large classes in (SMALL_MAX, TCACHE_MAX] */
#define NCACHED_CLASSES (NBINS + NLCACHED)
#define LARGE_MAX ((size_t)2 << 20) /* above this: a mapping of its own */
#define LG_HUGE_LIMIT 47            /* no request reaches 2^47 bytes */
#define NLEXTENTS (4 * (LG_HUGE_LIMIT - 14))

typedef struct bin_info {
    uint32_t size;       /* region size */
    uint32_t nregs;      /* regions per slab */
    uint32_t slab_pages; /* pages per slab */
    uint32_t recip;      /* ceil(2^32 / size): region index by multiply */
} bin_info_t;

/* The index of the region at byte offset off (a multiple of its size) in
 * a slab: a multiply and a shift, exact for the slab sizes in use. */
static inline unsigned region_index(const bin_info_t *bi, size_t off)
{
    return (unsigned)(((uint64_t)off * bi->recip) >> 32);
}

/* A slab's unused tail is at most 1/2^slab_lg_tail(size) of it: 1/32 up
 * to 1 KiB, where most blocks of small-block heaps are, 1/16 above
 * (sizeclass.c, pick_slab_pages, says why). */
static inline unsigned slab_lg_tail(uint32_t size) { return size <= 1024 ? 5 : 4; }

extern HIDDEN bin_info_t tai_bin_info[NBINS];
/* class index for (size + 15) >> 4, sizes 0..TCACHE_MAX; indexes >= NBINS
 * are the cached large classes. The fast path reads it before it knows
 * whether start-up has run (a thread's first call meets the empty cache),
 * possibly while another thread fills it in: atomic, so that read is
 * defined. Whatever it reads (0 before start-up) is a class the empty
 * cache misses on, and the slow path then waits for start-up; relaxed
 * byte loads cost what plain ones do. */
extern HIDDEN _Atomic uint8_t tai_size2class[(TCACHE_MAX >> LG_QUANTUM) + 1];
extern HIDDEN uint32_t tai_class_size[NCACHED_CLASSES];

HIDDEN void tai_sizeclass_init(size_t page);

static ALWAYS_INLINE unsigned size_class(size_t size)
{
    return atomic_load_explicit(&tai_size2class[(size + QUANTUM - 1) >> LG_QUANTUM],
                                memory_order_relaxed);
}

/* Index of the large class holding size (> SMALL_MAX); class j has size
 * lextent_size(j). */
static inline unsigned lextent_index(size_t size)
{
    size_t x = size - 1;
    unsigned lg = 63u - (unsigned)__builtin_clzll((unsigned long long)x);
    unsigned lg_delta = lg - 2;
    unsigned mod = (unsigned)((x >> lg_delta) & 3);
    return (lg - 14) * 4 + mod;
}

static inline size_t lextent_size(unsigned j)
{
    unsigned lg = j / 4 + 14;
    return ((size_t)1 << lg) + ((size_t)((j % 4) + 1) << (lg - 2));
}

/* Usable size of a large (page-run) allocation of size bytes. */
static inline size_t large_usize(size_t size) { return lextent_size(lextent_index(size)); }

#endif
