/* Which address ranges tunalloc mapped, at segment granularity: the
 * answer behind ta_owns, exact and lock-free. One byte per segment of the
 * 47-bit user address space, in one flat zero-initialised array: 32 MiB
 * of address space, of which the kernel backs only the pages a process
 * touches (one 4 KiB page covers 16 GiB of addresses). Readers do one
 * load: the free paths that must tell tunalloc's blocks from foreign ones
 * (the Python and Lua hooks) pay it on every call. */
#ifndef TA_OWNER_MAP_H
#define TA_OWNER_MAP_H

#include "common.h"

#define OWNER_LG_ADDR 47
#define OWNER_NUNITS ((uintptr_t)1 << (OWNER_LG_ADDR - LG_SEGMENT))

extern HIDDEN _Atomic uint8_t tai_owner_map[OWNER_NUNITS];

/* What a unit holds: nothing of ours, the start of a mapping (where its
 * header is), or the rest of a multi-unit huge mapping. */
enum { OWNER_NONE = 0, OWNER_HEAD = 1, OWNER_TAIL = 2 };

/* Marks [p, p+size) (segment-aligned start): the first unit as
 * first_value, the others as OWNER_TAIL, or all as OWNER_NONE. False if
 * the range lies outside the map. */
HIDDEN bool tai_owner_map_set(void *p, size_t size, uint8_t first_value);

static ALWAYS_INLINE uint8_t tai_owner_map_unit(const void *p)
{
    uintptr_t unit = (uintptr_t)p >> LG_SEGMENT;
    if (unlikely(unit >= OWNER_NUNITS))
        return OWNER_NONE;
    return atomic_load_explicit(&tai_owner_map[unit], memory_order_relaxed);
}

static ALWAYS_INLINE bool tai_owner_map_get(const void *p)
{
    return tai_owner_map_unit(p) != OWNER_NONE;
}

#endif
