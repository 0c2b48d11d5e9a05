/* Writers of the owner map: a unit's byte is set before any block in it
 * is handed out and cleared only after its last block is gone, so a
 * reader never needs more than a relaxed load. */
#include "owner_map.h"

_Atomic uint8_t tai_owner_map[OWNER_NUNITS];

bool tai_owner_map_set(void *p, size_t size, uint8_t first_value)
{
    uint8_t value = first_value;
    uintptr_t first = (uintptr_t)p >> LG_SEGMENT;
    uintptr_t last = ((uintptr_t)p + size - 1) >> LG_SEGMENT;
    if (last >= OWNER_NUNITS)
        return false;
    for (uintptr_t u = first; u <= last; u++) {
        atomic_store_explicit(&tai_owner_map[u], value, memory_order_release);
        if (value != OWNER_NONE)
            value = OWNER_TAIL;
    }
    return true;
}

bool tai_owner_marks_claim(owner_marks_t *m, void *p, size_t size, uint8_t first)
{
    if (!tai_owner_map_set(p, size, first))
        return false;
    m->claimed = p;
    m->claimed_size = size;
    return true;
}

void tai_owner_marks_release(owner_marks_t *m, void *p, size_t size, uint8_t first)
{
    tai_owner_map_set(p, size, OWNER_NONE);
    m->released = p;
    m->released_size = size;
    m->released_first = first;
}

void tai_owner_marks_rollback(const owner_marks_t *m)
{
    if (m->released)
        tai_owner_map_set(m->released, m->released_size, m->released_first);
    if (m->claimed)
        tai_owner_map_set(m->claimed, m->claimed_size, OWNER_NONE);
}
