/* The control namespace: a static tree of named nodes. Interior nodes
 * have named children or one index child ("<i>"); leaves have a handler.
 * A MIB holds, per component, the child's position or the index value. */
#ifndef TA_CTL_H
#define TA_CTL_H

#include "common.h"

#define CTL_MAX_DEPTH 8
/* Leaf flag: reading has a side effect or needs input, so generic dumps
 * (JSON statistics, documentation walkers) must not read it. */
#define CTL_NODUMP 1u

typedef struct ctl_node ctl_node_t;

/* One call's arguments after the generic length and mode checks. */
typedef struct ctl_io {
    const ctl_node_t *node;
    const size_t *mib; /* handlers read their index components from it */
    void *oldp;       /* non-NULL iff a value must be read */
    const void *newp; /* non-NULL iff a value was written */
} ctl_io_t;

typedef int ctl_fn(ctl_io_t *io);

struct ctl_node {
    const char *name;
    ta_ctl_type type;
    unsigned mode;
    unsigned flags;
    const char *doc;
    ctl_fn *fn;        /* leaves */
    size_t arg;        /* leaf-specific: field number or offset */
    const ctl_node_t *kids; /* named children */
    size_t nkids;
    const ctl_node_t *ikid; /* the index child, if this node is indexed */
    bool (*valid)(size_t index);
    const char *bound; /* indexed nodes: the name of their bound */
    /* Indexed nodes: whether a walk (ta_ctl_walk) shows index mib[depth];
     * NULL shows every index with something readable below it. Names
     * resolve whatever it says. */
    bool (*live)(const size_t *mib, size_t depth);
};

#define CTL_KIDS(arr) .kids = (arr), .nkids = sizeof(arr) / sizeof((arr)[0])

extern HIDDEN const ctl_node_t tai_ctl_root;

/* Runs a leaf with jemalloc's conventions (checks, then the handler). */
HIDDEN int tai_ctl_call(const ctl_node_t *node, const size_t *mib, void *oldp,
                       size_t *oldlenp, const void *newp, size_t newlen);
/* A dotted name's node and MIB (CTL_MAX_DEPTH entries); 0 or ENOENT. */
HIDDEN int tai_ctl_resolve(const char *name, size_t *mib, size_t *depth, const ctl_node_t **out);
/* Bytes read through oldp for a leaf of this node. */
HIDDEN size_t tai_ctl_read_size(const ctl_node_t *node);

/* Handler helpers: copy a value of the node's type out or in. */
HIDDEN int tai_ctl_out_num(ctl_io_t *io, uint64_t v);
HIDDEN int tai_ctl_out_ssize(ctl_io_t *io, int64_t v);
HIDDEN int tai_ctl_out_str(ctl_io_t *io, const char *s);
HIDDEN int64_t tai_ctl_in_ssize(const ctl_io_t *io);
HIDDEN bool tai_ctl_in_bool(const ctl_io_t *io);
HIDDEN unsigned tai_ctl_in_unsigned(const ctl_io_t *io);

/* The value of arenas.narenas: the bound of every arena index. */
HIDDEN unsigned tai_ctl_narenas(void);
/* Index validators shared by the tree tables. */
HIDDEN bool tai_ctl_valid_arena(size_t i);
HIDDEN bool tai_ctl_valid_bin(size_t j);
HIDDEN bool tai_ctl_valid_lextent(size_t j);

/* Leaf handlers; ctl_tree.c wires them into the namespace. */
HIDDEN int tai_ctl_version(ctl_io_t *io);
HIDDEN int tai_ctl_epoch(ctl_io_t *io);
HIDDEN int tai_ctl_background(ctl_io_t *io);
HIDDEN int tai_ctl_opt(ctl_io_t *io);
HIDDEN int tai_ctl_arenas_narenas(ctl_io_t *io);
HIDDEN int tai_ctl_arenas_create(ctl_io_t *io);
HIDDEN int tai_ctl_arenas_lookup(ctl_io_t *io);
HIDDEN int tai_ctl_arenas_const(ctl_io_t *io);
HIDDEN int tai_ctl_arenas_decay(ctl_io_t *io);
HIDDEN int tai_ctl_arenas_bin(ctl_io_t *io);
HIDDEN int tai_ctl_arenas_lextent(ctl_io_t *io);
HIDDEN int tai_ctl_arena_decay_run(ctl_io_t *io);
HIDDEN int tai_ctl_arena_reset(ctl_io_t *io);
HIDDEN int tai_ctl_arena_destroy(ctl_io_t *io);
HIDDEN int tai_ctl_arena_decay_ms(ctl_io_t *io);
HIDDEN int tai_ctl_arena_limit(ctl_io_t *io);
HIDDEN int tai_ctl_thread_arena(ctl_io_t *io);
HIDDEN int tai_ctl_thread_tcache_enabled(ctl_io_t *io);
HIDDEN int tai_ctl_thread_tcache_flush(ctl_io_t *io);
HIDDEN int tai_ctl_thread_counter(ctl_io_t *io);
HIDDEN int tai_ctl_thread_peak_reset(ctl_io_t *io);
HIDDEN int tai_ctl_tcache_create(ctl_io_t *io);
HIDDEN int tai_ctl_tcache_flush(ctl_io_t *io);
HIDDEN int tai_ctl_tcache_destroy(ctl_io_t *io);
HIDDEN int tai_ctl_stats_global(ctl_io_t *io);
HIDDEN int tai_ctl_stats_arena(ctl_io_t *io);
HIDDEN int tai_ctl_stats_bin(ctl_io_t *io);
HIDDEN int tai_ctl_stats_lextent(ctl_io_t *io);
HIDDEN bool tai_ctl_stats_arena_live(const size_t *mib, size_t depth);
HIDDEN bool tai_ctl_stats_bin_live(const size_t *mib, size_t depth);
HIDDEN bool tai_ctl_stats_lextent_live(const size_t *mib, size_t depth);
HIDDEN int tai_ctl_prof_active(ctl_io_t *io);
HIDDEN int tai_ctl_prof_num(ctl_io_t *io);
HIDDEN int tai_ctl_prof_dump(ctl_io_t *io);
HIDDEN int tai_ctl_prof_reset(ctl_io_t *io);

/* arg values of the leaves that share a handler. */
enum { CTL_DIRTY = 0, CTL_MUZZY = 1 };
enum { CTL_PURGE = 0, CTL_DECAY = 1 };
enum { CTL_BIN_SIZE, CTL_BIN_NREGS, CTL_BIN_SLAB_SIZE };
enum { CTL_CONST_PAGE, CTL_CONST_QUANTUM, CTL_CONST_NBINS, CTL_CONST_NLEXTENTS,
       CTL_CONST_TCACHE_MAX };
enum { CTL_THREAD_ALLOCATED, CTL_THREAD_DEALLOCATED, CTL_THREAD_PEAK };
enum { CTL_PROF_SAMPLE_BYTES, CTL_PROF_SEED };
enum { CTL_PROF_PPROF, CTL_PROF_FOLDED };

/* Fork handling for the locks the control code owns. */
HIDDEN void tai_ctl_prefork(void);
HIDDEN void tai_ctl_postfork(bool child);
HIDDEN void tai_ctl_tcaches_prefork(void);
HIDDEN void tai_ctl_tcaches_postfork(bool child);

#endif
