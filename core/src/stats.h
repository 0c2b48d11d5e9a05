/* The statistics snapshot behind stats.*: taken on an epoch write by
 * reading counters without arena locks, then read by any thread. */
#ifndef TA_STATS_H
#define TA_STATS_H

#include "common.h"
#include "sizeclass.h"

/* Per-arena fields, in stats.arenas.<i> order. */
enum {
    AS_NTHREADS,
    AS_UPTIME,
    AS_PACTIVE,
    AS_PDIRTY,
    AS_PMUZZY,
    AS_MAPPED,
    AS_RETAINED,
    AS_METADATA,
    AS_RESIDENT,
    AS_PEAK,
    AS_DIRTY_NPURGE,
    AS_DIRTY_NMADVISE,
    AS_DIRTY_PURGED,
    AS_MUZZY_NPURGE,
    AS_MUZZY_NMADVISE,
    AS_MUZZY_PURGED,
    AS_SMALL_ALLOCATED,
    AS_SMALL_NMALLOC,
    AS_SMALL_NDALLOC,
    AS_SMALL_NREQUESTS,
    AS_SMALL_NFILLS,
    AS_SMALL_NFLUSHES,
    AS_LARGE_ALLOCATED,
    AS_LARGE_NMALLOC,
    AS_LARGE_NDALLOC,
    AS_LARGE_NREQUESTS,
    AS_LARGE_NFILLS,
    AS_LARGE_NFLUSHES,
    AS_NFIELDS
};

enum {
    BS_NMALLOC,
    BS_NDALLOC,
    BS_NREQUESTS,
    BS_CURREGS,
    BS_CURSLABS,
    BS_NFILLS,
    BS_NFLUSHES,
    BS_NSLABS,
    BS_NFIELDS
};

enum { LS_NMALLOC, LS_NDALLOC, LS_NREQUESTS, LS_CURLEXTENTS, LS_NFILLS, LS_NFLUSHES, LS_NFIELDS };

enum { GS_ALLOCATED, GS_ACTIVE, GS_METADATA, GS_RESIDENT, GS_MAPPED, GS_RETAINED, GS_NFIELDS };

typedef struct stats_arena {
    bool present;
    uint64_t a[AS_NFIELDS];
    uint64_t bins[NBINS][BS_NFIELDS];
    uint64_t lext[NLEXTENTS][LS_NFIELDS];
} stats_arena_t;

/* Takes a new snapshot; 0 or ENOMEM. */
HIDDEN int ta_stats_refresh(void);
/* Snapshots taken so far (the epoch value). */
HIDDEN uint64_t ta_stats_epoch(void);
/* Readers: 0, or ENOENT when the arena was not in the snapshot; the
 * first read ever takes a snapshot so values are never all zero. The
 * merged arena is index MAX_ARENAS. */
HIDDEN int ta_stats_global(unsigned field, uint64_t *out);
HIDDEN int ta_stats_arena(size_t i, unsigned field, uint64_t *out);
HIDDEN int ta_stats_bin(size_t i, size_t j, unsigned field, uint64_t *out);
HIDDEN int ta_stats_lextent(size_t i, size_t j, unsigned field, uint64_t *out);
/* Copies one arena's snapshot, for printing without holding the lock. */
HIDDEN int ta_stats_arena_copy(size_t i, stats_arena_t *out);
/* Arena slots the current snapshot covers. */
HIDDEN unsigned ta_stats_narenas(void);
HIDDEN void ta_stats_prefork(void);
HIDDEN void ta_stats_postfork(bool child);

/* Where ta_stats_print output goes. */
typedef struct stats_out {
    ta_write_cb *cb;
    void *opaque;
} stats_out_t;

/* Formats one piece of output on the stack and hands it to the callback. */
HIDDEN void ta_stats_emit(stats_out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The JSON form: every readable name of the namespace, nested as the
 * names are, minus the sections the option letters omit. */
HIDDEN void ta_stats_json(stats_out_t *o, const char *opts);

#endif
