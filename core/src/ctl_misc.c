/* Handlers of the root leaves and of opt.*. */
#include <string.h>

#include "background.h"
#include "ctl.h"
#include "opts.h"
#include "stats.h"

/* The header's version string, so code and docs cannot disagree. */
int tai_ctl_version(ctl_io_t *io) { return tai_ctl_out_str(io, TA_VERSION); }

/* Any written value refreshes, as in jemalloc; the read comes after the
 * write so a read-write call returns the new epoch. */
int tai_ctl_epoch(ctl_io_t *io)
{
    if (io->newp) {
        int rc = tai_stats_refresh();
        if (rc)
            return rc;
    }
    return tai_ctl_out_num(io, tai_stats_epoch());
}

/* jemalloc returns the old state when a call both reads and writes. */
int tai_ctl_background(ctl_io_t *io)
{
    bool old = tai_background_enabled();
    if (io->newp) {
        int rc = tai_background_set(tai_ctl_in_bool(io));
        if (rc)
            return rc;
    }
    return tai_ctl_out_num(io, old);
}

/* The leaf's arg is the field's offset in tai_opt; its type says how wide. */
int tai_ctl_opt(ctl_io_t *io)
{
    const char *field = (const char *)&tai_opt + io->node->arg;
    switch (io->node->type) {
    case TA_CTL_STRING:
        return tai_ctl_out_str(io, field);
    case TA_CTL_SSIZE: {
        int64_t v;
        memcpy(&v, field, sizeof(v));
        return tai_ctl_out_ssize(io, v);
    }
    case TA_CTL_BOOL: {
        bool v;
        memcpy(&v, field, sizeof(v));
        return tai_ctl_out_num(io, v);
    }
    case TA_CTL_UNSIGNED: {
        unsigned v;
        memcpy(&v, field, sizeof(v));
        return tai_ctl_out_num(io, v);
    }
    default: {
        size_t v;
        memcpy(&v, field, sizeof(v));
        return tai_ctl_out_num(io, v);
    }
    }
}
