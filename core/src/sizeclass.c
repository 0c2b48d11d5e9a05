/* Builds the size-class tables once, at start-up, from the run-time page
 * size: slab geometry depends on it, the class sizes do not. */
#include "sizeclass.h"

bin_info_t tai_bin_info[NBINS];
_Atomic uint8_t tai_size2class[(TCACHE_MAX >> LG_QUANTUM) + 1];
uint32_t tai_class_size[NCACHED_CLASSES];

/* Class k's size: quantum steps to 128, then four steps per doubling. */
static uint32_t small_class_size(unsigned k)
{
    if (k < 8)
        return (k + 1) * QUANTUM;
    unsigned group = (k - 8) / 4, step = (k - 8) % 4;
    uint32_t base = 128u << group;
    return base + (step + 1) * (base / 4);
}

/* The fewest pages whose slab wastes at most the share slab_lg_tail
 * allows (or the best of the first 16 candidates), so small classes do
 * not bloat memory. At 1/16, the one-page slabs of 320, 384, 640 and
 * 768 bytes left 1/16 of themselves unused; in a heap of random blocks
 * up to 1 KiB those classes hold about 40% of the bytes (churn-2t: 1.4
 * MiB of its peak RSS, the gap to jemalloc's and mimalloc's). They take
 * 2 or 3 pages now. 1/64 would also give 160-byte slabs two pages for
 * 2.3% of waste, and more regions per slab means one survivor pins more
 * of them (frag: +0.9 MiB at its peak). Above 1 KiB the slabs would take
 * 3 to 5 pages, pinning as much (frag: 1280 and 2560 bytes each +1 MiB),
 * while few blocks of those classes live at once. */
static uint32_t pick_slab_pages(uint32_t size, size_t page)
{
    const unsigned lg_tail = slab_lg_tail(size);
    uint32_t best = 16;
    size_t best_waste = (16 * page) % size;
    for (uint32_t n = 1; n <= 16; n++) {
        size_t bytes = n * page;
        if (bytes / size < 2)
            continue;
        size_t waste = bytes % size;
        if (waste << lg_tail <= bytes)
            return n;
        /* compare waste fractions without division */
        if (waste * best * page < best_waste * bytes) {
            best = n;
            best_waste = waste;
        }
    }
    return best;
}

void tai_sizeclass_init(size_t page)
{
    for (unsigned k = 0; k < NBINS; k++) {
        uint32_t size = small_class_size(k);
        uint32_t pages = pick_slab_pages(size, page);
        uint32_t nregs = (uint32_t)(pages * page / size);
        if (nregs > 65535)
            nregs = 65535;
        uint32_t recip = (uint32_t)((((uint64_t)1 << 32) + size - 1) / size);
        tai_bin_info[k] = (bin_info_t){size, nregs, pages, recip};
        tai_class_size[k] = size;
    }
    for (unsigned j = 0; j < NLCACHED; j++)
        tai_class_size[NBINS + j] = (uint32_t)align_up(lextent_size(j), page);
    unsigned cls = 0;
    for (size_t i = 0; i <= (TCACHE_MAX >> LG_QUANTUM); i++) {
        size_t size = i << LG_QUANTUM;
        while (tai_class_size[cls] < size)
            cls++;
        atomic_store_explicit(&tai_size2class[i], (uint8_t)cls, memory_order_relaxed);
    }
}
