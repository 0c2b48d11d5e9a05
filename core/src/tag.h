/* Page tags: one byte per page of a mapping (map_head_t.page_bin) that
 * says what a block starting in that page is, so a free finds its class
 * with one load and no lock. The only encoder and decoder of those bytes.
 *
 * Values, and who may see them:
 *   [0, NCACHED_CLASSES)            every page of a slab, or the first page
 *                                   of a large run of a cached class, in an
 *                                   automatic arena: the tag IS the class
 *                                   index, so the thread-cache fast path
 *                                   indexes its bins with it unchanged
 *   [PB_MANUAL, PB_MANUAL + NCACHED_CLASSES)
 *                                   the same in a manual arena, offset so
 *                                   that fast path (tag < NCACHED_CLASSES)
 *                                   misses: destroyable arenas stay out of
 *                                   thread caches
 *   PB_LARGE                        first page of a large run above
 *                                   TCACHE_MAX, or of a huge block
 *   PB_NONE                         free, header, guard or interior page:
 *                                   no block starts there
 * A tag is written under the arena lock when a run changes hands and read
 * by anyone holding a pointer into the page, which owns it meanwhile. */
#ifndef TA_TAG_H
#define TA_TAG_H

#include "sizeclass.h"

#define PB_MANUAL 64
#define PB_LARGE 254
#define PB_NONE 255

_Static_assert(NCACHED_CLASSES <= PB_MANUAL, "automatic tags must stay below manual ones");
_Static_assert(PB_MANUAL + NCACHED_CLASSES <= PB_LARGE, "manual tags must not reach PB_LARGE");

/* The tag of a slab page, or of a large run's first page, of class cls. */
static inline uint8_t tag_encode(bool manual, unsigned cls)
{
    return (uint8_t)(manual ? PB_MANUAL + cls : cls);
}

/* The tag of a large run of usize bytes: its class while thread caches
 * may hold it, else PB_LARGE (always the slow path). */
static inline uint8_t tag_large(bool manual, size_t usize)
{
    return usize > TCACHE_MAX ? PB_LARGE : tag_encode(manual, size_class(usize));
}

static inline bool tag_is_manual(unsigned tag)
{
    return tag >= PB_MANUAL && tag < PB_MANUAL + NCACHED_CLASSES;
}

/* The class a tag stands for, manual arenas' offset removed; PB_LARGE and
 * PB_NONE come back unchanged (both >= NCACHED_CLASSES). */
static inline unsigned tag_class(unsigned tag)
{
    return tag_is_manual(tag) ? tag - PB_MANUAL : tag;
}

#endif
