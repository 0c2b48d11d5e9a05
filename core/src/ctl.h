/* The control namespace: a static tree of named nodes. Interior nodes
 * have named children or one index child ("<i>"); leaves have a handler.
 * A MIB holds, per component, the child's position or the index value.
 * The tree (ctl_tree.def) is one array of nodes that refer to each other,
 * their strings and their handlers by number, so it is read-only data
 * without load-time relocations. */
#ifndef TA_CTL_H
#define TA_CTL_H

#include "common.h"

#define CTL_MAX_DEPTH 8
/* Leaf flag: reading has a side effect or needs input, so generic dumps
 * (JSON statistics, documentation walkers) must not read it. */
#define CTL_NODUMP 1u
/* Indexed-node flag: a walk (ta_ctl_walk) shows only the indexes its
 * kind's live filter (ctl_stats.c) accepts; without it, every index with
 * something readable below it. Names resolve whatever it says. */
#define CTL_LIVE 2u

typedef struct ctl_node ctl_node_t;

/* One call's arguments after the generic length and mode checks. */
typedef struct ctl_io {
    const ctl_node_t *node;
    const size_t *mib; /* handlers read their index components from it */
    void *oldp;       /* non-NULL iff a value must be read */
    const void *newp; /* non-NULL iff a value was written */
} ctl_io_t;

/* The leaf handlers, tai_ctl_<name> (ctl_misc.c, ctl_arenas.c,
 * ctl_thread.c, ctl_stats.c, prof_dump.c); ctl_tree.def names them. */
#define CTL_HANDLERS(X)                                                                    \
    X(version) X(epoch) X(background) X(opt)                                               \
    X(arenas_narenas) X(arenas_create) X(arenas_lookup) X(arenas_const) X(arenas_decay)    \
    X(arenas_bin) X(arenas_lextent)                                                        \
    X(arena_decay_run) X(arena_reset) X(arena_destroy) X(arena_decay_ms) X(arena_limit)    \
    X(thread_arena) X(thread_tcache_enabled) X(thread_tcache_flush) X(thread_counter)      \
    X(thread_peak_reset)                                                                   \
    X(tcache_create) X(tcache_flush) X(tcache_destroy)                                     \
    X(stats_global) X(stats_arena) X(stats_bin) X(stats_lextent)                           \
    X(prof_active) X(prof_num) X(prof_dump) X(prof_reset)
#define CTL_FN_ID(h) CTL_FN_##h,
enum { CTL_FN_NONE, CTL_HANDLERS(CTL_FN_ID) };
#undef CTL_FN_ID
#define CTL_FN_DECL(h) HIDDEN int tai_ctl_##h(ctl_io_t *io);
CTL_HANDLERS(CTL_FN_DECL)
#undef CTL_FN_DECL

/* What bounds an indexed node's indexes. */
enum { CTL_INDEX_NONE, CTL_INDEX_arena, CTL_INDEX_bin, CTL_INDEX_lextent };

struct ctl_node {
    uint16_t name, doc;     /* offsets into the string table: tai_ctl_str */
    uint16_t kids;          /* position in tai_ctl_nodes of the first child */
    uint8_t nkids;          /* named children; 0 for leaves and indexed nodes */
    uint8_t index;          /* CTL_INDEX_*: the one child at kids is the index child */
    uint8_t fn;             /* leaves: CTL_FN_* */
    uint8_t type;           /* ta_ctl_type */
    uint8_t mode;
    uint8_t flags;
    uint32_t arg;           /* leaf-specific: field number or offset */
};

extern HIDDEN const ctl_node_t tai_ctl_nodes[];
/* The root is the first node. */
#define CTL_ROOT (&tai_ctl_nodes[0])
/* The string table: a member per string (ctl_tree.c). */
extern HIDDEN const struct ctl_strs tai_ctl_strs;

/* A node's name or doc. */
static inline const char *tai_ctl_str(uint16_t off)
{
    return (const char *)&tai_ctl_strs + off;
}

static inline bool tai_ctl_is_leaf(const ctl_node_t *n)
{
    return n->nkids == 0 && n->index == CTL_INDEX_NONE;
}

/* Named child k of n (k < n->nkids), or its index child. */
static inline const ctl_node_t *tai_ctl_kid(const ctl_node_t *n, size_t k)
{
    return &tai_ctl_nodes[n->kids + (n->index == CTL_INDEX_NONE ? k : 0)];
}

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
/* Whether index i is valid below a node of this CTL_INDEX_* kind, and
 * the name of the counter that bounds it (ta_ctl_info.bound). */
HIDDEN bool tai_ctl_valid(unsigned kind, size_t i);
HIDDEN const char *tai_ctl_bound(unsigned kind);
/* Whether a walk shows index mib[depth] of a CTL_LIVE node of this kind. */
HIDDEN bool tai_ctl_stats_arena_live(const size_t *mib, size_t depth);
HIDDEN bool tai_ctl_stats_bin_live(const size_t *mib, size_t depth);
HIDDEN bool tai_ctl_stats_lextent_live(const size_t *mib, size_t depth);

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
