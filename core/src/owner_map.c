/* Two levels indexed by segment number: a static root of leaf pointers and
 * leaves of one byte per segment, mapped on first use. Readers do two
 * acquire/relaxed loads; writers install leaves with a CAS, so no lock. */
#include "owner_map.h"

#include "os.h"

#define LG_ADDR 47
#define LG_UNITS (LG_ADDR - LG_SEGMENT)
#define LG_LEAF 13
#define LG_ROOT (LG_UNITS - LG_LEAF)

typedef struct leaf {
    _Atomic uint8_t owned[1u << LG_LEAF];
} leaf_t;

static _Atomic(leaf_t *) root[1u << LG_ROOT];

static leaf_t *leaf_for(uintptr_t unit, bool create)
{
    _Atomic(leaf_t *) *slot = &root[unit >> LG_LEAF];
    leaf_t *leaf = atomic_load_explicit(slot, memory_order_acquire);
    if (leaf || !create)
        return leaf;
    leaf_t *fresh = ta_os_map(sizeof(leaf_t));
    if (!fresh)
        return NULL;
    if (atomic_compare_exchange_strong_explicit(slot, &leaf, fresh, memory_order_acq_rel,
                                                memory_order_acquire))
        return fresh;
    ta_os_unmap(fresh, sizeof(leaf_t));
    return leaf;
}

bool ta_owner_map_set(void *p, size_t size, bool owned)
{
    uintptr_t first = (uintptr_t)p >> LG_SEGMENT;
    uintptr_t last = ((uintptr_t)p + size - 1) >> LG_SEGMENT;
    if (((uintptr_t)p + size - 1) >> LG_ADDR)
        return false;
    for (uintptr_t u = first; u <= last; u++) {
        leaf_t *leaf = leaf_for(u, owned);
        if (!leaf) {
            if (owned)
                return false;
            continue;
        }
        atomic_store_explicit(&leaf->owned[u & ((1u << LG_LEAF) - 1)], owned,
                              memory_order_release);
    }
    return true;
}

bool ta_owner_map_get(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (a >> LG_ADDR)
        return false;
    leaf_t *leaf = leaf_for(a >> LG_SEGMENT, false);
    if (!leaf)
        return false;
    return atomic_load_explicit(&leaf->owned[(a >> LG_SEGMENT) & ((1u << LG_LEAF) - 1)],
                                memory_order_acquire) != 0;
}
