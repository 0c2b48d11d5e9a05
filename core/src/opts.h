/* Run-time options: compiled-in defaults, then TUNALLOC_CONF. The options
 * themselves are listed once, in opts.def. */
#ifndef TA_OPTS_H
#define TA_OPTS_H

#include "common.h"

/* stats_print_opts: letters of ta_stats_print, NUL-terminated. */
typedef char tai_opt_letters[16];

/* Per kind: the field's C type and its control type. Parsing rules per
 * kind are conf.c's parse_<kind>. */
#define TA_OPT_TYPE_arenas unsigned /* 0 .. MAX_ARENAS / 2 */
#define TA_OPT_TYPE_decay int64_t   /* tai_decay_ms_valid */
#define TA_OPT_TYPE_bool bool       /* exactly "true" or "false" */
#define TA_OPT_TYPE_letters tai_opt_letters
#define TA_OPT_TYPE_bytes size_t    /* ta_parse_size: k/m/g suffixes */
#define TA_OPT_TYPE_sample size_t   /* 1 .. 1 TiB, k/m/g suffixes */
#define TA_OPT_TYPE_percent unsigned /* 0 .. TA_OPT_PERCENT_MAX */
#define TA_OPT_CTL_arenas TA_CTL_UNSIGNED
#define TA_OPT_CTL_decay TA_CTL_SSIZE
#define TA_OPT_CTL_bool TA_CTL_BOOL
#define TA_OPT_CTL_letters TA_CTL_STRING
#define TA_OPT_CTL_bytes TA_CTL_SIZE
#define TA_OPT_CTL_sample TA_CTL_SIZE
#define TA_OPT_CTL_percent TA_CTL_UNSIGNED
#define TA_OPT_PERCENT_MAX 100000

/* Bit numbers for tai_opts_t.given. */
enum {
#define TA_OPT(name, kind, def, doc) TA_OPT_ID_##name,
#include "opts.def"
#undef TA_OPT
    TA_OPT_COUNT
};
#define TA_OPT_BIT(name) (1u << TA_OPT_ID_##name)

typedef struct tai_opts {
#define TA_OPT(name, kind, def, doc) TA_OPT_TYPE_##kind name;
#include "opts.def"
#undef TA_OPT
    /* Options given explicitly (TA_OPT_BIT), for defaults that depend on
     * other options: abort_on_error's follows secure unless given. */
    unsigned given;
} tai_opts_t;

_Static_assert(TA_OPT_COUNT <= 32, "tai_opts_t.given holds one bit per option");

extern HIDDEN tai_opts_t tai_opt;

/* The one rule for decay times, wherever they come in (TUNALLOC_CONF,
 * ta_ctl writes, ta_arena_create): -1 (never) up to TA_DECAY_MS_MAX. */
static inline bool tai_decay_ms_valid(int64_t ms) { return ms >= -1 && ms <= TA_DECAY_MS_MAX; }

/* Parses TUNALLOC_CONF into tai_opt; a malformed pair is reported on
 * stderr and skipped. Must not allocate. */
HIDDEN void tai_conf_init(void);
/* Prints statistics with opt.stats_print_opts; registered with atexit
 * when opt.stats_print is set. */
HIDDEN void tai_stats_atexit(void);

#endif
