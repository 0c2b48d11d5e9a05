/* Which address ranges tunalloc mapped, at segment granularity: the
 * answer behind ta_owns, exact and lock-free. Two levels indexed by
 * segment number: a static root of leaf pointers and leaves of one byte
 * per segment, mapped on first use. Readers do two loads. */
#ifndef TA_OWNER_MAP_H
#define TA_OWNER_MAP_H

#include "common.h"

#define OWNER_LG_ADDR 47
#define OWNER_LG_LEAF 13
#define OWNER_LG_ROOT (OWNER_LG_ADDR - LG_SEGMENT - OWNER_LG_LEAF)

typedef struct owner_leaf {
    _Atomic uint8_t owned[1u << OWNER_LG_LEAF];
} owner_leaf_t;

extern HIDDEN _Atomic(owner_leaf_t *) ta_owner_root[1u << OWNER_LG_ROOT];

/* What a unit holds: nothing of ours, the start of a mapping (where its
 * header is), or the rest of a multi-unit huge mapping. */
enum { OWNER_NONE = 0, OWNER_HEAD = 1, OWNER_TAIL = 2 };

/* Marks [p, p+size) (segment-aligned start): the first unit as
 * first_value,
 * the others as OWNER_TAIL, or all as OWNER_NONE. */
HIDDEN bool ta_owner_map_set(void *p, size_t size, uint8_t first_value);

static ALWAYS_INLINE uint8_t ta_owner_map_unit(const void *p)
{
    uintptr_t a = (uintptr_t)p, unit = a >> LG_SEGMENT;
    if (unlikely(a >> OWNER_LG_ADDR))
        return OWNER_NONE;
    owner_leaf_t *leaf = atomic_load_explicit(&ta_owner_root[unit >> OWNER_LG_LEAF],
                                              memory_order_acquire);
    return leaf ? atomic_load_explicit(&leaf->owned[unit & ((1u << OWNER_LG_LEAF) - 1)],
                                       memory_order_relaxed)
                : OWNER_NONE;
}

static ALWAYS_INLINE bool ta_owner_map_get(const void *p)
{
    return ta_owner_map_unit(p) != OWNER_NONE;
}

#endif
