/* Writers of the owner map: leaves are installed with a CAS, so no lock;
 * a unit's byte is set before any block in it is handed out and cleared
 * only after its last block is gone. */
#include "owner_map.h"

#include "os.h"

_Atomic(owner_leaf_t *) ta_owner_root[1u << OWNER_LG_ROOT];

static owner_leaf_t *leaf_for(uintptr_t unit, bool create)
{
    _Atomic(owner_leaf_t *) *slot = &ta_owner_root[unit >> OWNER_LG_LEAF];
    owner_leaf_t *leaf = atomic_load_explicit(slot, memory_order_acquire);
    if (leaf || !create)
        return leaf;
    owner_leaf_t *fresh = ta_os_map(sizeof(owner_leaf_t));
    if (!fresh)
        return NULL;
    if (atomic_compare_exchange_strong_explicit(slot, &leaf, fresh, memory_order_acq_rel,
                                                memory_order_acquire))
        return fresh;
    ta_os_unmap(fresh, sizeof(owner_leaf_t));
    return leaf;
}

bool ta_owner_map_set(void *p, size_t size, uint8_t first_value)
{
    bool owned = first_value != OWNER_NONE;
    uint8_t value = first_value;
    uintptr_t first = (uintptr_t)p >> LG_SEGMENT;
    uintptr_t last = ((uintptr_t)p + size - 1) >> LG_SEGMENT;
    if (((uintptr_t)p + size - 1) >> OWNER_LG_ADDR)
        return false;
    for (uintptr_t u = first; u <= last; u++) {
        owner_leaf_t *leaf = leaf_for(u, owned);
        if (!leaf) {
            if (owned)
                return false;
            continue;
        }
        atomic_store_explicit(&leaf->owned[u & ((1u << OWNER_LG_LEAF) - 1)], value,
                              memory_order_release);
        if (owned)
            value = OWNER_TAIL;
    }
    return true;
}
