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
/* An indexed node: kind pairs its index validator with the name of the
 * counter that bounds the indexes (ta_ctl_info.bound). */
#define INODE(n, ik, kind, d)                                                              \
    {.name = n, .type = TA_CTL_NODE, .ikid = &(ik), .valid = tai_ctl_valid_##kind,          \
     .bound = BOUND_##kind, .doc = d}
/* The same with a walk filter (ctl_node_t.live). */
#define LINODE(n, ik, kind, l, d)                                                          \
    {.name = n, .type = TA_CTL_NODE, .ikid = &(ik), .valid = tai_ctl_valid_##kind,          \
     .bound = BOUND_##kind, .live = l, .doc = d}
#define BOUND_arena "arenas.narenas"
#define BOUND_bin "arenas.nbins"
#define BOUND_lextent "arenas.nlextents"
#define OPT(n, t, d) LEAF(#n, t, R, tai_ctl_opt, offsetof(tai_opts_t, n), d)

static const ctl_node_t opt_kids[] = {
#define TA_OPT(name, kind, def, doc) OPT(name, TA_OPT_CTL_##kind, doc),
#include "opts.def"
#undef TA_OPT
};

static const ctl_node_t arenas_bin_j_kids[] = {
    LEAF("size", TA_CTL_SIZE, R, tai_ctl_arenas_bin, CTL_BIN_SIZE, "region size of the class"),
    LEAF("nregs", TA_CTL_UNSIGNED, R, tai_ctl_arenas_bin, CTL_BIN_NREGS, "regions per slab"),
    LEAF("slab_size", TA_CTL_SIZE, R, tai_ctl_arenas_bin, CTL_BIN_SLAB_SIZE, "bytes per slab"),
};
static const ctl_node_t arenas_bin_j =
    NODE("<j>", arenas_bin_j_kids, "small size class j (below arenas.nbins)");

static const ctl_node_t arenas_lextent_j_kids[] = {
    LEAF("size", TA_CTL_SIZE, R, tai_ctl_arenas_lextent, 0, "usable size of the class"),
};
static const ctl_node_t arenas_lextent_j =
    NODE("<j>", arenas_lextent_j_kids, "large size class j (below arenas.nlextents)");

static const ctl_node_t arenas_kids[] = {
    LEAF("narenas", TA_CTL_UNSIGNED, R, tai_ctl_arenas_narenas, 0,
         "arena indexes in use: automatic arenas, then manual ones (destroyed included)"),
    LEAF("dirty_decay_ms", TA_CTL_SSIZE, RW, tai_ctl_arenas_decay, CTL_DIRTY,
         "dirty decay time of arenas created from now on (-1 never)"),
    LEAF("muzzy_decay_ms", TA_CTL_SSIZE, RW, tai_ctl_arenas_decay, CTL_MUZZY,
         "muzzy decay time of arenas created from now on (-1 never)"),
    LEAF("quantum", TA_CTL_SIZE, R, tai_ctl_arenas_const, CTL_CONST_QUANTUM,
         "allocation quantum"),
    LEAF("page", TA_CTL_SIZE, R, tai_ctl_arenas_const, CTL_CONST_PAGE, "page size"),
    LEAF("tcache_max", TA_CTL_SIZE, R, tai_ctl_arenas_const, CTL_CONST_TCACHE_MAX,
         "largest size thread caches keep"),
    LEAF("nbins", TA_CTL_UNSIGNED, R, tai_ctl_arenas_const, CTL_CONST_NBINS,
         "small size classes"),
    INODE("bin", arenas_bin_j, bin, "small size classes by index"),
    LEAF("nlextents", TA_CTL_UNSIGNED, R, tai_ctl_arenas_const, CTL_CONST_NLEXTENTS,
         "large size classes"),
    INODE("lextent", arenas_lextent_j, lextent, "large size classes by index"),
    LEAFX("create", TA_CTL_UNSIGNED, R, tai_ctl_arenas_create, 0,
          "creates a manual arena, reads its index"),
    LEAFX("lookup", TA_CTL_POINTER, RW, tai_ctl_arenas_lookup, 0,
          "write a pointer, read the index of its arena"),
};

static const ctl_node_t arena_i_kids[] = {
    LEAF("purge", TA_CTL_ACTION, W, tai_ctl_arena_decay_run, CTL_PURGE,
         "purges every unused dirty and muzzy page"),
    LEAF("decay", TA_CTL_ACTION, W, tai_ctl_arena_decay_run, CTL_DECAY,
         "purges the pages whose decay time has passed"),
    LEAF("reset", TA_CTL_ACTION, W, tai_ctl_arena_reset, 0,
         "frees every allocation of a manual arena"),
    LEAF("destroy", TA_CTL_ACTION, W, tai_ctl_arena_destroy, 0,
         "frees a manual arena and unmaps its memory"),
    LEAF("dirty_decay_ms", TA_CTL_SSIZE, RW, tai_ctl_arena_decay_ms, CTL_DIRTY,
         "ms before unused dirty pages are purged (-1 never, 0 at once)"),
    LEAF("muzzy_decay_ms", TA_CTL_SSIZE, RW, tai_ctl_arena_decay_ms, CTL_MUZZY,
         "ms before unused muzzy pages are purged (-1 never, 0 at once)"),
    LEAF("limit", TA_CTL_SIZE, RW, tai_ctl_arena_limit, 0,
         "cap on active bytes: allocations past it fail (0 = none)"),
};
static const ctl_node_t arena_i =
    NODE("<i>", arena_i_kids, "arena i (below arenas.narenas); 4096 = all arenas");

static const ctl_node_t thread_tcache_kids[] = {
    LEAF("enabled", TA_CTL_BOOL, RW, tai_ctl_thread_tcache_enabled, 0,
         "the calling thread's cache is used"),
    LEAF("flush", TA_CTL_ACTION, W, tai_ctl_thread_tcache_flush, 0,
         "returns the calling thread's cached blocks to their arenas"),
};

static const ctl_node_t thread_peak_kids[] = {
    LEAF("read", TA_CTL_UINT64, R, tai_ctl_thread_counter, CTL_THREAD_PEAK,
         "high-water mark of allocated minus deallocated since the last reset"),
    LEAF("reset", TA_CTL_ACTION, W, tai_ctl_thread_peak_reset, 0,
         "restarts thread.peak.read from the current level"),
};

static const ctl_node_t thread_kids[] = {
    LEAF("arena", TA_CTL_UNSIGNED, RW, tai_ctl_thread_arena, 0,
         "index of the calling thread's arena"),
    NODE("tcache", thread_tcache_kids, "the calling thread's cache"),
    LEAF("allocated", TA_CTL_UINT64, R, tai_ctl_thread_counter, CTL_THREAD_ALLOCATED,
         "bytes the calling thread ever allocated"),
    LEAF("deallocated", TA_CTL_UINT64, R, tai_ctl_thread_counter, CTL_THREAD_DEALLOCATED,
         "bytes the calling thread ever freed"),
    NODE("peak", thread_peak_kids, "the calling thread's peak usage"),
};

static const ctl_node_t tcache_kids[] = {
    LEAFX("create", TA_CTL_UNSIGNED, R, tai_ctl_tcache_create, 0,
          "creates an explicit cache, reads its index"),
    LEAF("flush", TA_CTL_UNSIGNED, W, tai_ctl_tcache_flush, 0,
         "write an index: empties that cache"),
    LEAF("destroy", TA_CTL_UNSIGNED, W, tai_ctl_tcache_destroy, 0,
         "write an index: frees that cache"),
};

/* The stats.* rows come from stats.h's lists, one macro per list. */
#define ST_ARENA(n, t, src, f, pre, post, d)                                                   \
    LEAF(#n, TA_CTL_##t, R, tai_ctl_stats_arena, AS_##n, d),
#define ST_SMALL(n, t, src, d) LEAF(#n, TA_CTL_##t, R, tai_ctl_stats_arena, AS_small_##n, d),
#define ST_LARGE(n, t, src, d) LEAF(#n, TA_CTL_##t, R, tai_ctl_stats_arena, AS_large_##n, d),
#define ST_BIN(n, t, d) LEAF(#n, TA_CTL_##t, R, tai_ctl_stats_bin, BS_##n, d),
#define ST_LEXTENT(n, t, d) LEAF(#n, TA_CTL_##t, R, tai_ctl_stats_lextent, LS_##n, d),
#define ST_GLOBAL(n, d) LEAF(#n, TA_CTL_SIZE, R, tai_ctl_stats_global, GS_##n, d),

static const ctl_node_t stats_small_kids[] = {TA_SMALL_STATS(ST_SMALL)};
static const ctl_node_t stats_large_kids[] = {TA_LARGE_STATS(ST_LARGE)};

static const ctl_node_t stats_bin_j_kids[] = {TA_BIN_STATS(ST_BIN)};
static const ctl_node_t stats_bin_j =
    NODE("<j>", stats_bin_j_kids, "small size class j (walks and JSON: the classes ever used)");

static const ctl_node_t stats_lextent_j_kids[] = {TA_LEXTENT_STATS(ST_LEXTENT)};
static const ctl_node_t stats_lextent_j =
    NODE("<j>", stats_lextent_j_kids, "large size class j (walks and JSON: the classes ever used)");

static const ctl_node_t stats_arena_i_kids[] = {
    TA_ARENA_STATS(ST_ARENA)
    NODE("small", stats_small_kids, "small (slab) allocations"),
    NODE("large", stats_large_kids, "large allocations"),
    LINODE("bins", stats_bin_j, bin, tai_ctl_stats_bin_live,
           "per small size class"),
    LINODE("lextents", stats_lextent_j, lextent, tai_ctl_stats_lextent_live,
           "per large size class"),
};
static const ctl_node_t stats_arena_i =
    NODE("<i>", stats_arena_i_kids, "arena i as of the last epoch; 4096 = all arenas merged");

static const ctl_node_t stats_kids[] = {
    TA_GLOBAL_STATS(ST_GLOBAL)
    LINODE("arenas", stats_arena_i, arena, tai_ctl_stats_arena_live, "per-arena statistics"),
};

static const ctl_node_t prof_kids[] = {
    LEAF("active", TA_CTL_BOOL, RW, tai_ctl_prof_active, 0,
         "heap profiling samples allocations (caches follow at their next miss)"),
    LEAF("sample_bytes", TA_CTL_SIZE, RW, tai_ctl_prof_num, CTL_PROF_SAMPLE_BYTES,
         "mean bytes allocated between samples"),
    LEAF("seed", TA_CTL_UINT64, RW, tai_ctl_prof_num, CTL_PROF_SEED,
         "seed of the sampling intervals, for reproducible profiles"),
    LEAF("dump", TA_CTL_STRING, W, tai_ctl_prof_dump, CTL_PROF_PPROF,
         "write a path: the live heap profile as gzipped pprof"),
    LEAF("dump_folded", TA_CTL_STRING, W, tai_ctl_prof_dump, CTL_PROF_FOLDED,
         "write a path: the live heap profile as folded stacks"),
    LEAF("reset", TA_CTL_ACTION, W, tai_ctl_prof_reset, 0,
         "restarts the cumulative allocation counts"),
};

static const ctl_node_t root_kids[] = {
    LEAF("version", TA_CTL_STRING, R, tai_ctl_version, 0, "tunalloc version"),
    LEAF("epoch", TA_CTL_UINT64, RW, tai_ctl_epoch, 0,
         "write to refresh the stats.* snapshot; reads the snapshot count"),
    LEAF("background_thread", TA_CTL_BOOL, RW, tai_ctl_background, 0,
         "the background decay thread runs"),
    NODE("opt", opt_kids, "start-up options (TUNALLOC_CONF)"),
    NODE("arenas", arenas_kids, "all arenas and size classes"),
    INODE("arena", arena_i, arena, "one arena by index"),
    NODE("thread", thread_kids, "the calling thread"),
    NODE("tcache", tcache_kids, "explicit caches by index"),
    NODE("stats", stats_kids, "statistics as of the last epoch"),
    NODE("prof", prof_kids, "sampled heap profiling"),
};

const ctl_node_t tai_ctl_root = NODE("", root_kids, "the control namespace");
