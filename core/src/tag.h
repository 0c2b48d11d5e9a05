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
 *   [PB_COLOUR, PB_COLOUR + (NCOLOURS - 1) * NSHARED_CLASSES)
 *                                   a slab page of a class whose blocks share
 *                                   cache lines (not a multiple of 64 bytes)
 *                                   in an automatic arena of colour 1 and
 *                                   up; colour 0's are the plain class
 *   PB_LARGE                        first page of a large run above
 *                                   TCACHE_MAX, or of a huge block
 *   PB_NONE                         free, header, guard or interior page:
 *                                   no block starts there
 * A tag is written under the arena lock when a run changes hands and read
 * by anyone holding a pointer into the page, which owns it meanwhile.
 *
 * Colours: a thread cache may reuse a block another thread freed only if
 * that block shares no cache line with blocks its owner hands out (else
 * the two threads write one line: cache-scratch's false sharing). Whole
 * line classes (64 B multiples, cached large runs) have one tag in every
 * automatic arena, so any cache takes them; the others carry their
 * arena's colour, and a cache's tag map (tcache.h: tagmap) takes only its
 * own colour's. So the free fast path decides with one table load, and
 * never compares arenas. Arenas whose indexes differ by a multiple of
 * NCOLOURS share a colour: their caches take each other's blocks, which
 * is correct (flushes send every block to its own arena), only not free
 * of sharing lines. */
#ifndef TA_TAG_H
#define TA_TAG_H

#include "sizeclass.h"

#define PB_MANUAL 64
#define PB_COLOUR 104
#define PB_LARGE 254
#define PB_NONE 255

/* The classes whose blocks share cache lines (16-224 B but 64, 128 and
 * 192: sizeclass.c's class sizes, checked by test_tag), as a mask of
 * class indexes and in order. */
#define SHARED_CLASS_MASK 0x577u
#define NSHARED_CLASSES 8
#define NCOLOURS (1 + (PB_LARGE - PB_COLOUR) / NSHARED_CLASSES)
static const uint8_t tag_shared_class[NSHARED_CLASSES] = {0, 1, 2, 4, 5, 6, 8, 10};

_Static_assert(NCACHED_CLASSES <= PB_MANUAL, "automatic tags must stay below manual ones");
_Static_assert(PB_MANUAL + NCACHED_CLASSES <= PB_COLOUR, "manual tags must not reach colours");
_Static_assert(__builtin_popcount(SHARED_CLASS_MASK) == NSHARED_CLASSES, "one slot per shared class");

/* The colour of automatic arena `index`'s shared-line pages. */
static inline unsigned tag_arena_colour(unsigned index) { return index % NCOLOURS; }

static inline bool tag_class_shared(unsigned cls) { return cls < 32 && (SHARED_CLASS_MASK >> cls & 1); }

/* The tag of a slab page, or of a large run's first page, of class cls,
 * in an arena of that colour (manual ones have none). */
static inline uint8_t tag_encode(bool manual, unsigned colour, unsigned cls)
{
    if (manual)
        return (uint8_t)(PB_MANUAL + cls);
    if (colour == 0 || !tag_class_shared(cls))
        return (uint8_t)cls;
    unsigned slot = (unsigned)__builtin_popcount(SHARED_CLASS_MASK & ((1u << cls) - 1));
    return (uint8_t)(PB_COLOUR + (colour - 1) * NSHARED_CLASSES + slot);
}

/* The tag of a large run of usize bytes: its class while thread caches
 * may hold it, else PB_LARGE (always the slow path). */
static inline uint8_t tag_large(bool manual, size_t usize)
{
    return usize > TCACHE_MAX ? PB_LARGE : tag_encode(manual, 0, size_class(usize));
}

static inline bool tag_is_manual(unsigned tag)
{
    return tag >= PB_MANUAL && tag < PB_MANUAL + NCACHED_CLASSES;
}

static inline bool tag_is_coloured(unsigned tag) { return tag >= PB_COLOUR && tag < PB_LARGE; }

/* The colour of an automatic arena's tag (0 for a plain class). */
static inline unsigned tag_colour(unsigned tag)
{
    return tag_is_coloured(tag) ? 1 + (tag - PB_COLOUR) / NSHARED_CLASSES : 0;
}

/* The class an automatic arena's tag stands for, its colour removed;
 * every other tag comes back unchanged (>= NCACHED_CLASSES). Without a
 * branch: a remote free decodes tags of both kinds in any mix (prodcons's
 * consumer mispredicted a third of them), so the table is read for every
 * tag and the comparison only selects. */
static inline unsigned tag_auto_class(unsigned tag)
{
    unsigned k = tag - PB_COLOUR;
    unsigned shared = tag_shared_class[k % NSHARED_CLASSES];
    return k < PB_LARGE - PB_COLOUR ? shared : tag;
}

/* The class a tag stands for, manual arenas' offset and colours removed;
 * PB_LARGE and PB_NONE come back unchanged (both >= NCACHED_CLASSES). */
static inline unsigned tag_class(unsigned tag)
{
    return tag_is_manual(tag) ? tag - PB_MANUAL : tag_auto_class(tag);
}

#endif
