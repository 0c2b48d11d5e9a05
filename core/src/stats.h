/* The statistics snapshot behind stats.*: taken on an epoch write by
 * reading counters without arena locks, then read by any thread. */
#ifndef TA_STATS_H
#define TA_STATS_H

#include "common.h"
#include "sizeclass.h"

/* The statistics, one line each; these lists alone declare a counter's
 * snapshot slot (the AS_/BS_/LS_/GS_ enums), its stats.* control row
 * with its doc (ctl_tree.c, then docs/ctl.md) and, for counters kept
 * under the same name, the snapshot copy (stats.c). The reports and the
 * sums over classes (stats.c, stats_print.c) name the ones they use.
 *
 * Per arena, stats.arenas.<i>.<name>: X(name, type, source, field, doc);
 * source "ctr" copies arena_stats_t.field, "derived" is computed in
 * stats.c:snap_arena (field unused). */
#define TA_ARENA_STATS(X)                                                                  \
    X(nthreads, UNSIGNED, derived, _, "threads and caches bound to the arena")              \
    X(uptime, UINT64, derived, _, "nanoseconds since creation (ms resolution)")             \
    X(pactive, SIZE, ctr, pactive, "pages in use")                                          \
    X(pdirty, SIZE, ctr, pdirty, "unused pages not yet purged")                             \
    X(pmuzzy, SIZE, ctr, pmuzzy, "unused pages purged lazily")                              \
    X(mapped, SIZE, ctr, mapped, "bytes mapped")                                            \
    X(retained, SIZE, ctr, retained, "bytes kept mapped but purged")                        \
    X(metadata, SIZE, ctr, metadata, "bytes of segment headers")                            \
    X(resident, SIZE, derived, _, "approximate resident bytes")                             \
    X(peak, SIZE, ctr, peak_active, "high-water mark of active bytes (not merged)")         \
    X(dirty_npurge, UINT64, ctr, dirty_npurge, "dirty purge sweeps")                        \
    X(dirty_nmadvise, UINT64, ctr, dirty_nmadvise, "madvise calls for dirty pages")         \
    X(dirty_purged, UINT64, ctr, dirty_purged, "dirty pages purged")                        \
    X(muzzy_npurge, UINT64, ctr, muzzy_npurge, "muzzy purge sweeps")                        \
    X(muzzy_nmadvise, UINT64, ctr, muzzy_nmadvise, "madvise calls for muzzy pages")         \
    X(muzzy_purged, UINT64, ctr, muzzy_purged, "muzzy pages purged")

/* stats.arenas.<i>.small.<name> and .large.<name>: X(name, type, doc);
 * sums over the classes (stats.c). */
#define TA_SMALL_STATS(X)                                                     \
    X(allocated, SIZE, "bytes in live small blocks")                         \
    X(nmalloc, UINT64, "small regions taken from slabs")                     \
    X(ndalloc, UINT64, "small regions returned to slabs")                    \
    X(nrequests, UINT64, "small requests, cache hits included")              \
    X(nfills, UINT64, "thread cache fills")                                  \
    X(nflushes, UINT64, "thread cache flushes")
#define TA_LARGE_STATS(X)                                                     \
    X(allocated, SIZE, "bytes in live large blocks")                         \
    X(nmalloc, UINT64, "large allocations")                                  \
    X(ndalloc, UINT64, "large deallocations")                                \
    X(nrequests, UINT64, "large requests, cache hits included")              \
    X(nfills, UINT64, "thread cache fills of cached large classes")          \
    X(nflushes, UINT64, "thread cache flushes of cached large classes")

/* stats.arenas.<i>.bins.<j>.<name>: X(name, type, doc), each a copy of
 * bin_stats_t.name. */
#define TA_BIN_STATS(X)                                                       \
    X(nmalloc, UINT64, "regions taken from slabs")                           \
    X(ndalloc, UINT64, "regions returned to slabs")                          \
    X(nrequests, UINT64, "requests, cache hits included")                    \
    X(curregs, SIZE, "regions in use (including cached ones)")               \
    X(curslabs, SIZE, "slabs in use")                                        \
    X(nfills, UINT64, "thread cache fills")                                  \
    X(nflushes, UINT64, "thread cache flushes")                              \
    X(nslabs, UINT64, "slabs ever created")

/* stats.arenas.<i>.lextents.<j>.<name>: X(name, type, doc), each a copy
 * of large_stats_t.name. */
#define TA_LEXTENT_STATS(X)                                                   \
    X(nmalloc, UINT64, "allocations of the class")                           \
    X(ndalloc, UINT64, "deallocations of the class")                         \
    X(nrequests, UINT64, "requests, cache hits included")                    \
    X(curlextents, SIZE, "live blocks of the class")                         \
    X(nfills, UINT64, "thread cache fills of the class")                     \
    X(nflushes, UINT64, "thread cache flushes of the class")

/* stats.<name>, process-wide (all sizes in bytes): X(name, doc). */
#define TA_GLOBAL_STATS(X)                                                    \
    X(allocated, "bytes in live blocks")                                     \
    X(active, "bytes in pages in use")                                       \
    X(metadata, "bytes of allocator metadata")                               \
    X(resident, "approximate resident bytes")                                \
    X(mapped, "bytes mapped")                                                \
    X(retained, "bytes kept mapped but purged")

/* Enum builders for the lists above. */
#define TA_STATS_AS(n, t, src, f, d) AS_##n,
#define TA_STATS_SMALL(n, t, d) AS_small_##n,
#define TA_STATS_LARGE(n, t, d) AS_large_##n,
#define TA_STATS_BS(n, t, d) BS_##n,
#define TA_STATS_LS(n, t, d) LS_##n,
#define TA_STATS_GS(n, d) GS_##n,
enum { TA_ARENA_STATS(TA_STATS_AS) TA_SMALL_STATS(TA_STATS_SMALL)
           TA_LARGE_STATS(TA_STATS_LARGE) AS_NFIELDS };
enum { TA_BIN_STATS(TA_STATS_BS) BS_NFIELDS };
enum { TA_LEXTENT_STATS(TA_STATS_LS) LS_NFIELDS };
enum { TA_GLOBAL_STATS(TA_STATS_GS) GS_NFIELDS };

typedef struct stats_arena {
    bool present;
    uint64_t a[AS_NFIELDS];
    uint64_t bins[NBINS][BS_NFIELDS];
    uint64_t lext[NLEXTENTS][LS_NFIELDS];
} stats_arena_t;

/* Takes a new snapshot; 0 or ENOMEM. */
HIDDEN int tai_stats_refresh(void);
/* Snapshots taken so far (the epoch value). */
HIDDEN uint64_t tai_stats_epoch(void);
/* Readers: 0, or ENOENT when the arena was not in the snapshot; the
 * first read ever takes a snapshot so values are never all zero. The
 * merged arena is index MAX_ARENAS. */
HIDDEN int tai_stats_global(unsigned field, uint64_t *out);
HIDDEN int tai_stats_arena(size_t i, unsigned field, uint64_t *out);
HIDDEN int tai_stats_bin(size_t i, size_t j, unsigned field, uint64_t *out);
HIDDEN int tai_stats_lextent(size_t i, size_t j, unsigned field, uint64_t *out);
/* Whether arena i (MAX_ARENAS: merged) is in the snapshot. */
HIDDEN bool tai_stats_present(size_t i);
/* Whether any counter of class j (a bin, or a large class if large) of
 * arena i is nonzero in the snapshot. */
HIDDEN bool tai_stats_class_used(size_t i, bool large, size_t j);
/* Copies one arena's snapshot, for printing without holding the lock. */
HIDDEN int tai_stats_arena_copy(size_t i, stats_arena_t *out);
/* Arena slots the current snapshot covers. */
HIDDEN unsigned tai_stats_narenas(void);
HIDDEN void tai_stats_prefork(void);
HIDDEN void tai_stats_postfork(bool child);

#endif
