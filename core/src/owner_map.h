/* Which address ranges tunalloc mapped, at segment granularity: the
 * answer behind ta_owns, exact and lock-free. */
#ifndef TA_OWNER_MAP_H
#define TA_OWNER_MAP_H

#include "common.h"

/* Marks [p, p+size) (segment-aligned start) as owned or not. */
HIDDEN bool ta_owner_map_set(void *p, size_t size, bool owned);
HIDDEN bool ta_owner_map_get(const void *p);

#endif
