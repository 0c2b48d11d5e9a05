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

/* The marks one step of mapping, moving or unmapping changes, undone
 * together if the step fails: a range claimed for a mapping (its units
 * marked before anything can point into it) and a range released while
 * its pages move away (a unit that left may be mapped by someone else at
 * once). Rollback clears the claim and puts the released marks back; on
 * success the marks simply stay. Zero-initialised: nothing held. The one
 * way segment.c and huge.c change marks, besides clearing a range they
 * unmap for good. */
typedef struct owner_marks {
    char *claimed, *released;
    size_t claimed_size, released_size;
    uint8_t released_first;
} owner_marks_t;

/* Marks [p, p+size): its first unit first, the rest OWNER_TAIL. False,
 * with nothing marked, if the range lies outside the map. */
HIDDEN bool tai_owner_marks_claim(owner_marks_t *m, void *p, size_t size, uint8_t first);
/* Unmarks [p, p+size), whose first unit was marked first. */
HIDDEN void tai_owner_marks_release(owner_marks_t *m, void *p, size_t size, uint8_t first);
HIDDEN void tai_owner_marks_rollback(const owner_marks_t *m);

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
