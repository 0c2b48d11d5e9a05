/* The statistics snapshot behind stats.*: taken on an epoch write by
 * reading counters without arena locks, then read by any thread. */
#ifndef TA_STATS_H
#define TA_STATS_H

#include "common.h"
#include "sizeclass.h"

/* The statistics, one line each; these lists alone declare a counter's
 * snapshot slot (the AS_/BS_/LS_/GS_ enums), its stats.* control row
 * with its doc (ctl_tree.def, then docs/ctl.md), its snapshot copy or sum
 * (stats.c) and its place in the text report (stats_print.c). The JSON
 * report follows the control rows.
 *
 * Per arena, stats.arenas.<i>.<name>:
 * X(name, type, source, field, before, after, doc); source "ctr" copies
 * arena_stats_t.field, "derived" is computed in stats.c:snap_arena (field
 * unused). The text report prints before, the value, after, in list
 * order; a "\n" in before starts a new line. */
#define TA_ARENA_STATS(X)                                                                  \
    X(nthreads, UNSIGNED, derived, _, "assigned threads: ", "",                             \
      "threads and caches bound to the arena")                                             \
    X(uptime, UINT64, derived, _, "\nuptime: ", " ns",                                      \
      "nanoseconds since creation (ms resolution)")                                        \
    X(pactive, SIZE, ctr, pactive, "\npages: active ", "", "pages in use")                  \
    X(pdirty, SIZE, ctr, pdirty, ", dirty ", "", "unused pages not yet purged")             \
    X(pmuzzy, SIZE, ctr, pmuzzy, ", muzzy ", "", "unused pages purged lazily")              \
    X(mapped, SIZE, ctr, mapped, "\nmapped: ", "", "bytes mapped")                          \
    X(retained, SIZE, ctr, retained, ", retained: ", "", "bytes kept mapped but purged")    \
    X(metadata, SIZE, ctr, metadata, ", metadata: ", "", "bytes of segment headers")        \
    X(resident, SIZE, derived, _, ", resident: ", "", "approximate resident bytes")         \
    X(peak, SIZE, ctr, peak_active, ", peak active: ", "",                                  \
      "high-water mark of active bytes (not merged)")                                      \
    X(dirty_npurge, UINT64, ctr, dirty_npurge, "\npurging: dirty ", " sweeps",              \
      "dirty purge sweeps")                                                                \
    X(dirty_nmadvise, UINT64, ctr, dirty_nmadvise, ", ", " madvise",                        \
      "madvise calls for dirty pages")                                                     \
    X(dirty_purged, UINT64, ctr, dirty_purged, ", ", " pages", "dirty pages purged")        \
    X(muzzy_npurge, UINT64, ctr, muzzy_npurge, "; muzzy ", " sweeps", "muzzy purge sweeps") \
    X(muzzy_nmadvise, UINT64, ctr, muzzy_nmadvise, ", ", " madvise",                        \
      "madvise calls for muzzy pages")                                                     \
    X(muzzy_purged, UINT64, ctr, muzzy_purged, ", ", " pages", "muzzy pages purged")

/* stats.arenas.<i>.small.<name> and .large.<name>: X(name, type, source,
 * doc); source "sum" adds up the counter of the same name over the
 * classes (TA_BIN_STATS, TA_LEXTENT_STATS), "derived" is computed in
 * stats.c. The text report's small: and large: rows. */
#define TA_SMALL_STATS(X)                                                     \
    X(allocated, SIZE, derived, "bytes in live small blocks")                \
    X(nmalloc, UINT64, sum, "small regions taken from slabs")                \
    X(ndalloc, UINT64, sum, "small regions returned to slabs")               \
    X(nrequests, UINT64, sum, "small requests, cache hits included")         \
    X(nfills, UINT64, sum, "thread cache fills")                             \
    X(nflushes, UINT64, sum, "thread cache flushes")
#define TA_LARGE_STATS(X)                                                     \
    X(allocated, SIZE, derived, "bytes in live large blocks")                \
    X(nmalloc, UINT64, sum, "large allocations")                             \
    X(ndalloc, UINT64, sum, "large deallocations")                           \
    X(nrequests, UINT64, sum, "large requests, cache hits included")         \
    X(nfills, UINT64, sum, "thread cache fills of cached large classes")     \
    X(nflushes, UINT64, sum, "thread cache flushes of cached large classes")

/* stats.arenas.<i>.bins.<j>.<name>: X(name, type, doc), each a copy of
 * bin_stats_t.name; a column of the text report's bins table. */
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
 * of large_stats_t.name; a column of the text report's large table. */
#define TA_LEXTENT_STATS(X)                                                   \
    X(nmalloc, UINT64, "allocations of the class")                           \
    X(ndalloc, UINT64, "deallocations of the class")                         \
    X(nrequests, UINT64, "requests, cache hits included")                    \
    X(curlextents, SIZE, "live blocks of the class")                         \
    X(nfills, UINT64, "thread cache fills of the class")                     \
    X(nflushes, UINT64, "thread cache flushes of the class")

/* stats.<name>, process-wide (all sizes in bytes): X(name, doc); the
 * text report's totals line. */
#define TA_GLOBAL_STATS(X)                                                    \
    X(allocated, "bytes in live blocks")                                     \
    X(active, "bytes in pages in use")                                       \
    X(metadata, "bytes of allocator metadata")                               \
    X(resident, "approximate resident bytes")                                \
    X(mapped, "bytes mapped")                                                \
    X(retained, "bytes kept mapped but purged")

/* Enum builders for the lists above. */
#define TA_STATS_AS(n, t, src, f, pre, post, d) AS_##n,
#define TA_STATS_SMALL(n, t, src, d) AS_small_##n,
#define TA_STATS_LARGE(n, t, src, d) AS_large_##n,
#define TA_STATS_BS(n, t, d) BS_##n,
#define TA_STATS_LS(n, t, d) LS_##n,
#define TA_STATS_GS(n, d) GS_##n,
enum { TA_ARENA_STATS(TA_STATS_AS) TA_SMALL_STATS(TA_STATS_SMALL)
           TA_LARGE_STATS(TA_STATS_LARGE) AS_NFIELDS };
/* Where the small. and large. slots start among them. */
#define TA_STATS_ONE(...) +1
enum { AS_SMALL = 0 TA_ARENA_STATS(TA_STATS_ONE),
       AS_LARGE = AS_SMALL TA_SMALL_STATS(TA_STATS_ONE) };
enum { TA_BIN_STATS(TA_STATS_BS) BS_NFIELDS };
enum { TA_LEXTENT_STATS(TA_STATS_LS) LS_NFIELDS };
enum { TA_GLOBAL_STATS(TA_STATS_GS) GS_NFIELDS };

typedef struct stats_arena {
    bool present;
    uint64_t a[AS_NFIELDS];
    uint64_t bins[NBINS][BS_NFIELDS];
    uint64_t lext[NLEXTENTS][LS_NFIELDS];
} stats_arena_t;

/* Whether a class's row has a nonzero counter: walks, JSON and the text
 * report list only the classes ever used. */
static inline bool stats_row_used(const uint64_t *row, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        if (row[k])
            return true;
    return false;
}

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
/* Whether arena i (MAX_ARENAS: merged) has field k at all: a peak of
 * the sum is not the sum of peaks, so the merged peak does not exist. */
static inline bool tai_stats_arena_has(size_t i, unsigned k)
{
    return !(i == MAX_ARENAS && k == AS_peak);
}
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
