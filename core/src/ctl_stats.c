/* Handlers of stats.*: every value comes from the epoch snapshot, so a
 * poller reads consistent numbers cheaply and only an epoch write pays
 * for walking the arenas. MIB layout: stats.arenas.<i>.bins.<j>.x. */
#include "ctl.h"
#include "stats.h"

/* Reads one snapshot value into the node's type, or passes the error. */
static int out(ctl_io_t *io, int rc, uint64_t v) { return rc ? rc : tai_ctl_out_num(io, v); }

/* stats.<field>: arg is the GS_* field. */
int tai_ctl_stats_global(ctl_io_t *io)
{
    uint64_t v = 0;
    int rc = tai_stats_global((unsigned)io->node->arg, &v);
    return out(io, rc, v);
}

/* stats.arenas.<i>.<field> and .small/.large: arg is the AS_* field. */
int tai_ctl_stats_arena(ctl_io_t *io)
{
    uint64_t v = 0;
    int rc = tai_stats_arena(io->mib[2], (unsigned)io->node->arg, &v);
    return out(io, rc, v);
}

/* stats.arenas.<i>.bins.<j>.<field>: arg is the BS_* field. */
int tai_ctl_stats_bin(ctl_io_t *io)
{
    uint64_t v = 0;
    int rc = tai_stats_bin(io->mib[2], io->mib[4], (unsigned)io->node->arg, &v);
    return out(io, rc, v);
}

/* Walks show the arenas of the snapshot: one lock per arena instead of
 * a read of every value to find the slots that hold none. */
bool tai_ctl_stats_arena_live(const size_t *mib, size_t depth)
{
    return tai_stats_present(mib[depth]);
}

/* Walks show a class row only if a counter of it is nonzero, as
 * stats_text prints its rows: most arenas use a few of the 168 classes,
 * and the rows left out read as zeros by name. MIB: stats.arenas.<i>.
 * (bins|lextents).<j>. */
bool tai_ctl_stats_bin_live(const size_t *mib, size_t depth)
{
    return tai_stats_class_used(mib[2], false, mib[depth]);
}

bool tai_ctl_stats_lextent_live(const size_t *mib, size_t depth)
{
    return tai_stats_class_used(mib[2], true, mib[depth]);
}

/* stats.arenas.<i>.lextents.<j>.<field>: arg is the LS_* field. */
int tai_ctl_stats_lextent(ctl_io_t *io)
{
    uint64_t v = 0;
    int rc = tai_stats_lextent(io->mib[2], io->mib[4], (unsigned)io->node->arg, &v);
    return out(io, rc, v);
}
