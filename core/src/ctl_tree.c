/* The control namespace itself: every name, its type, mode and one-line
 * documentation, in one table so enumeration, docs and dumps agree. */
#include <stddef.h>

#include "ctl.h"
#include "opts.h"
#include "stats.h"

#define R TA_CTL_READ
#define W TA_CTL_WRITE
#define RW (TA_CTL_READ | TA_CTL_WRITE)

#define LEAF(n, t, m, f, a, d) {.name = n, .type = t, .mode = m, .fn = f, .arg = a, .doc = d}
#define LEAFX(n, t, m, f, a, d) \
    {.name = n, .type = t, .mode = m, .flags = CTL_NODUMP, .fn = f, .arg = a, .doc = d}
#define NODE(n, arr, d) {.name = n, .type = TA_CTL_NODE, CTL_KIDS(arr), .doc = d}
#define INODE(n, ik, v, d) {.name = n, .type = TA_CTL_NODE, .ikid = &(ik), .valid = v, .doc = d}
#define OPT(n, t, d) LEAF(#n, t, R, ta_ctl_opt, offsetof(ta_opts_t, n), d)

static const ctl_node_t opt_kids[] = {
    OPT(narenas, TA_CTL_UNSIGNED, "automatic arenas (0 = one per CPU)"),
    OPT(dirty_decay_ms, TA_CTL_SSIZE, "initial arenas.dirty_decay_ms"),
    OPT(muzzy_decay_ms, TA_CTL_SSIZE, "initial arenas.muzzy_decay_ms"),
    OPT(background_thread, TA_CTL_BOOL, "start the background decay thread"),
    OPT(tcache, TA_CTL_BOOL, "thread caches enabled"),
    OPT(check, TA_CTL_BOOL, "validate pointers given to free/realloc"),
    OPT(secure, TA_CTL_BOOL,
        "hardened mode: exact double/invalid free detection, guard pages, random slab "
        "order, canaries (implies check)"),
    OPT(abort_on_error, TA_CTL_BOOL,
        "abort after reporting a double or invalid free or an overwritten canary "
        "(default: false, true in secure mode)"),
    OPT(stats_print, TA_CTL_BOOL, "print statistics at exit"),
    OPT(stats_print_opts, TA_CTL_STRING, "option letters for the exit statistics"),
    OPT(arena_limit, TA_CTL_SIZE, "initial limit of new arenas, in bytes (0 = none)"),
    OPT(prof, TA_CTL_BOOL, "heap profiling sampled from start-up"),
    OPT(prof_sample_bytes, TA_CTL_SIZE, "initial prof.sample_bytes (0 = the default)"),
};

static const ctl_node_t arenas_bin_j_kids[] = {
    LEAF("size", TA_CTL_SIZE, R, ta_ctl_arenas_bin, CTL_BIN_SIZE, "region size of the class"),
    LEAF("nregs", TA_CTL_UNSIGNED, R, ta_ctl_arenas_bin, CTL_BIN_NREGS, "regions per slab"),
    LEAF("slab_size", TA_CTL_SIZE, R, ta_ctl_arenas_bin, CTL_BIN_SLAB_SIZE, "bytes per slab"),
};
static const ctl_node_t arenas_bin_j =
    NODE("<j>", arenas_bin_j_kids, "small size class j (below arenas.nbins)");

static const ctl_node_t arenas_lextent_j_kids[] = {
    LEAF("size", TA_CTL_SIZE, R, ta_ctl_arenas_lextent, 0, "usable size of the class"),
};
static const ctl_node_t arenas_lextent_j =
    NODE("<j>", arenas_lextent_j_kids, "large size class j (below arenas.nlextents)");

static const ctl_node_t arenas_kids[] = {
    LEAF("narenas", TA_CTL_UNSIGNED, R, ta_ctl_arenas_narenas, 0,
         "arena indexes in use: automatic arenas, then manual ones (destroyed included)"),
    LEAF("dirty_decay_ms", TA_CTL_SSIZE, RW, ta_ctl_arenas_decay, CTL_DIRTY,
         "dirty decay time of arenas created from now on (-1 never)"),
    LEAF("muzzy_decay_ms", TA_CTL_SSIZE, RW, ta_ctl_arenas_decay, CTL_MUZZY,
         "muzzy decay time of arenas created from now on (-1 never)"),
    LEAF("quantum", TA_CTL_SIZE, R, ta_ctl_arenas_const, CTL_CONST_QUANTUM,
         "allocation quantum"),
    LEAF("page", TA_CTL_SIZE, R, ta_ctl_arenas_const, CTL_CONST_PAGE, "page size"),
    LEAF("tcache_max", TA_CTL_SIZE, R, ta_ctl_arenas_const, CTL_CONST_TCACHE_MAX,
         "largest size thread caches keep"),
    LEAF("nbins", TA_CTL_UNSIGNED, R, ta_ctl_arenas_const, CTL_CONST_NBINS,
         "small size classes"),
    INODE("bin", arenas_bin_j, ta_ctl_valid_bin, "small size classes by index"),
    LEAF("nlextents", TA_CTL_UNSIGNED, R, ta_ctl_arenas_const, CTL_CONST_NLEXTENTS,
         "large size classes"),
    INODE("lextent", arenas_lextent_j, ta_ctl_valid_lextent, "large size classes by index"),
    LEAFX("create", TA_CTL_UNSIGNED, R, ta_ctl_arenas_create, 0,
          "creates a manual arena, reads its index"),
    LEAFX("lookup", TA_CTL_POINTER, RW, ta_ctl_arenas_lookup, 0,
          "write a pointer, read the index of its arena"),
};

static const ctl_node_t arena_i_kids[] = {
    LEAF("purge", TA_CTL_ACTION, W, ta_ctl_arena_decay_run, CTL_PURGE,
         "purges every unused dirty and muzzy page"),
    LEAF("decay", TA_CTL_ACTION, W, ta_ctl_arena_decay_run, CTL_DECAY,
         "purges the pages whose decay time has passed"),
    LEAF("reset", TA_CTL_ACTION, W, ta_ctl_arena_reset, 0,
         "frees every allocation of a manual arena"),
    LEAF("destroy", TA_CTL_ACTION, W, ta_ctl_arena_destroy, 0,
         "frees a manual arena and unmaps its memory"),
    LEAF("dirty_decay_ms", TA_CTL_SSIZE, RW, ta_ctl_arena_decay_ms, CTL_DIRTY,
         "ms before unused dirty pages are purged (-1 never, 0 at once)"),
    LEAF("muzzy_decay_ms", TA_CTL_SSIZE, RW, ta_ctl_arena_decay_ms, CTL_MUZZY,
         "ms before unused muzzy pages are purged (-1 never, 0 at once)"),
    LEAF("limit", TA_CTL_SIZE, RW, ta_ctl_arena_limit, 0,
         "cap on active bytes: allocations past it fail (0 = none)"),
};
static const ctl_node_t arena_i =
    NODE("<i>", arena_i_kids, "arena i (below arenas.narenas); 4096 = all arenas");

static const ctl_node_t thread_tcache_kids[] = {
    LEAF("enabled", TA_CTL_BOOL, RW, ta_ctl_thread_tcache_enabled, 0,
         "the calling thread's cache is used"),
    LEAF("flush", TA_CTL_ACTION, W, ta_ctl_thread_tcache_flush, 0,
         "returns the calling thread's cached blocks to their arenas"),
};

static const ctl_node_t thread_peak_kids[] = {
    LEAF("read", TA_CTL_UINT64, R, ta_ctl_thread_counter, CTL_THREAD_PEAK,
         "high-water mark of allocated minus deallocated since the last reset"),
    LEAF("reset", TA_CTL_ACTION, W, ta_ctl_thread_peak_reset, 0,
         "restarts thread.peak.read from the current level"),
};

static const ctl_node_t thread_kids[] = {
    LEAF("arena", TA_CTL_UNSIGNED, RW, ta_ctl_thread_arena, 0,
         "index of the calling thread's arena"),
    NODE("tcache", thread_tcache_kids, "the calling thread's cache"),
    LEAF("allocated", TA_CTL_UINT64, R, ta_ctl_thread_counter, CTL_THREAD_ALLOCATED,
         "bytes the calling thread ever allocated"),
    LEAF("deallocated", TA_CTL_UINT64, R, ta_ctl_thread_counter, CTL_THREAD_DEALLOCATED,
         "bytes the calling thread ever freed"),
    NODE("peak", thread_peak_kids, "the calling thread's peak usage"),
};

static const ctl_node_t tcache_kids[] = {
    LEAFX("create", TA_CTL_UNSIGNED, R, ta_ctl_tcache_create, 0,
          "creates an explicit cache, reads its index"),
    LEAF("flush", TA_CTL_UNSIGNED, W, ta_ctl_tcache_flush, 0,
         "write an index: empties that cache"),
    LEAF("destroy", TA_CTL_UNSIGNED, W, ta_ctl_tcache_destroy, 0,
         "write an index: frees that cache"),
};

#define ST(n, t, f, d) LEAF(#n, t, R, ta_ctl_stats_arena, f, d)

static const ctl_node_t stats_small_kids[] = {
    ST(allocated, TA_CTL_SIZE, AS_SMALL_ALLOCATED, "bytes in live small blocks"),
    ST(nmalloc, TA_CTL_UINT64, AS_SMALL_NMALLOC, "small regions taken from slabs"),
    ST(ndalloc, TA_CTL_UINT64, AS_SMALL_NDALLOC, "small regions returned to slabs"),
    ST(nrequests, TA_CTL_UINT64, AS_SMALL_NREQUESTS, "small requests, cache hits included"),
    ST(nfills, TA_CTL_UINT64, AS_SMALL_NFILLS, "thread cache fills"),
    ST(nflushes, TA_CTL_UINT64, AS_SMALL_NFLUSHES, "thread cache flushes"),
};

static const ctl_node_t stats_large_kids[] = {
    ST(allocated, TA_CTL_SIZE, AS_LARGE_ALLOCATED, "bytes in live large blocks"),
    ST(nmalloc, TA_CTL_UINT64, AS_LARGE_NMALLOC, "large allocations"),
    ST(ndalloc, TA_CTL_UINT64, AS_LARGE_NDALLOC, "large deallocations"),
    ST(nrequests, TA_CTL_UINT64, AS_LARGE_NREQUESTS, "large requests, cache hits included"),
    ST(nfills, TA_CTL_UINT64, AS_LARGE_NFILLS, "thread cache fills of cached large classes"),
    ST(nflushes, TA_CTL_UINT64, AS_LARGE_NFLUSHES, "thread cache flushes of cached large classes"),
};

#define SB(n, t, f, d) LEAF(#n, t, R, ta_ctl_stats_bin, f, d)

static const ctl_node_t stats_bin_j_kids[] = {
    SB(nmalloc, TA_CTL_UINT64, BS_NMALLOC, "regions taken from slabs"),
    SB(ndalloc, TA_CTL_UINT64, BS_NDALLOC, "regions returned to slabs"),
    SB(nrequests, TA_CTL_UINT64, BS_NREQUESTS, "requests, cache hits included"),
    SB(curregs, TA_CTL_SIZE, BS_CURREGS, "regions in use (including cached ones)"),
    SB(curslabs, TA_CTL_SIZE, BS_CURSLABS, "slabs in use"),
    SB(nfills, TA_CTL_UINT64, BS_NFILLS, "thread cache fills"),
    SB(nflushes, TA_CTL_UINT64, BS_NFLUSHES, "thread cache flushes"),
    SB(nslabs, TA_CTL_UINT64, BS_NSLABS, "slabs ever created"),
};
static const ctl_node_t stats_bin_j = NODE("<j>", stats_bin_j_kids, "small size class j");

#define SL(n, t, f, d) LEAF(#n, t, R, ta_ctl_stats_lextent, f, d)

static const ctl_node_t stats_lextent_j_kids[] = {
    SL(nmalloc, TA_CTL_UINT64, LS_NMALLOC, "allocations of the class"),
    SL(ndalloc, TA_CTL_UINT64, LS_NDALLOC, "deallocations of the class"),
    SL(nrequests, TA_CTL_UINT64, LS_NREQUESTS, "requests, cache hits included"),
    SL(curlextents, TA_CTL_SIZE, LS_CURLEXTENTS, "live blocks of the class"),
    SL(nfills, TA_CTL_UINT64, LS_NFILLS, "thread cache fills of the class"),
    SL(nflushes, TA_CTL_UINT64, LS_NFLUSHES, "thread cache flushes of the class"),
};
static const ctl_node_t stats_lextent_j =
    NODE("<j>", stats_lextent_j_kids, "large size class j");

static const ctl_node_t stats_arena_i_kids[] = {
    ST(nthreads, TA_CTL_UNSIGNED, AS_NTHREADS, "threads and caches bound to the arena"),
    ST(uptime, TA_CTL_UINT64, AS_UPTIME, "nanoseconds since creation (ms resolution)"),
    ST(pactive, TA_CTL_SIZE, AS_PACTIVE, "pages in use"),
    ST(pdirty, TA_CTL_SIZE, AS_PDIRTY, "unused pages not yet purged"),
    ST(pmuzzy, TA_CTL_SIZE, AS_PMUZZY, "unused pages purged lazily"),
    ST(mapped, TA_CTL_SIZE, AS_MAPPED, "bytes mapped"),
    ST(retained, TA_CTL_SIZE, AS_RETAINED, "bytes kept mapped but purged"),
    ST(metadata, TA_CTL_SIZE, AS_METADATA, "bytes of segment headers"),
    ST(resident, TA_CTL_SIZE, AS_RESIDENT, "approximate resident bytes"),
    ST(peak, TA_CTL_SIZE, AS_PEAK, "high-water mark of active bytes (not merged)"),
    ST(dirty_npurge, TA_CTL_UINT64, AS_DIRTY_NPURGE, "dirty purge sweeps"),
    ST(dirty_nmadvise, TA_CTL_UINT64, AS_DIRTY_NMADVISE, "madvise calls for dirty pages"),
    ST(dirty_purged, TA_CTL_UINT64, AS_DIRTY_PURGED, "dirty pages purged"),
    ST(muzzy_npurge, TA_CTL_UINT64, AS_MUZZY_NPURGE, "muzzy purge sweeps"),
    ST(muzzy_nmadvise, TA_CTL_UINT64, AS_MUZZY_NMADVISE, "madvise calls for muzzy pages"),
    ST(muzzy_purged, TA_CTL_UINT64, AS_MUZZY_PURGED, "muzzy pages purged"),
    NODE("small", stats_small_kids, "small (slab) allocations"),
    NODE("large", stats_large_kids, "large allocations"),
    INODE("bins", stats_bin_j, ta_ctl_valid_bin, "per small size class"),
    INODE("lextents", stats_lextent_j, ta_ctl_valid_lextent, "per large size class"),
};
static const ctl_node_t stats_arena_i =
    NODE("<i>", stats_arena_i_kids, "arena i as of the last epoch; 4096 = all arenas merged");

#define SG(n, f, d) LEAF(#n, TA_CTL_SIZE, R, ta_ctl_stats_global, f, d)

static const ctl_node_t stats_kids[] = {
    SG(allocated, GS_ALLOCATED, "bytes in live blocks"),
    SG(active, GS_ACTIVE, "bytes in pages in use"),
    SG(metadata, GS_METADATA, "bytes of allocator metadata"),
    SG(resident, GS_RESIDENT, "approximate resident bytes"),
    SG(mapped, GS_MAPPED, "bytes mapped"),
    SG(retained, GS_RETAINED, "bytes kept mapped but purged"),
    INODE("arenas", stats_arena_i, ta_ctl_valid_arena, "per-arena statistics"),
};

static const ctl_node_t prof_kids[] = {
    LEAF("active", TA_CTL_BOOL, RW, ta_ctl_prof_active, 0,
         "heap profiling samples allocations (caches follow at their next miss)"),
    LEAF("sample_bytes", TA_CTL_SIZE, RW, ta_ctl_prof_num, CTL_PROF_SAMPLE_BYTES,
         "mean bytes allocated between samples"),
    LEAF("seed", TA_CTL_UINT64, RW, ta_ctl_prof_num, CTL_PROF_SEED,
         "seed of the sampling intervals, for reproducible profiles"),
    LEAF("dump", TA_CTL_STRING, W, ta_ctl_prof_dump, CTL_PROF_PPROF,
         "write a path: the live heap profile as gzipped pprof"),
    LEAF("dump_folded", TA_CTL_STRING, W, ta_ctl_prof_dump, CTL_PROF_FOLDED,
         "write a path: the live heap profile as folded stacks"),
    LEAF("reset", TA_CTL_ACTION, W, ta_ctl_prof_reset, 0,
         "restarts the cumulative allocation counts"),
};

static const ctl_node_t root_kids[] = {
    LEAF("version", TA_CTL_STRING, R, ta_ctl_version, 0, "tunalloc version"),
    LEAF("epoch", TA_CTL_UINT64, RW, ta_ctl_epoch, 0,
         "write to refresh the stats.* snapshot; reads the snapshot count"),
    LEAF("background_thread", TA_CTL_BOOL, RW, ta_ctl_background, 0,
         "the background decay thread runs"),
    NODE("opt", opt_kids, "start-up options (TUNALLOC_CONF)"),
    NODE("arenas", arenas_kids, "all arenas and size classes"),
    INODE("arena", arena_i, ta_ctl_valid_arena, "one arena by index"),
    NODE("thread", thread_kids, "the calling thread"),
    NODE("tcache", tcache_kids, "explicit caches by index"),
    NODE("stats", stats_kids, "statistics as of the last epoch"),
    NODE("prof", prof_kids, "sampled heap profiling"),
};

const ctl_node_t ta_ctl_root = NODE("", root_kids, "the control namespace");
