/* Run-time options: compiled-in defaults, then TUNALLOC_CONF. Each field
 * is one opt.* name in the control namespace. */
#ifndef TA_OPTS_H
#define TA_OPTS_H

#include "common.h"

typedef struct ta_opts {
    unsigned narenas;         /* 0 = one per CPU */
    int64_t dirty_decay_ms;
    int64_t muzzy_decay_ms;
    bool background_thread;
    bool tcache;              /* thread caches enabled */
    bool check;               /* validate pointers given to free/realloc */
    bool secure;              /* hardened mode (implies check) */
    bool abort_on_error;      /* abort() after reporting a heap error */
    bool abort_on_error_set;  /* given explicitly: secure's default is off */
    bool stats_print;         /* print statistics at exit */
    char stats_print_opts[16];
    size_t arena_limit;       /* limit for new arenas, 0 = none */
    bool prof;                /* heap profiling from start-up */
    size_t prof_sample_bytes; /* 0 = prof.sample_bytes' default */
} ta_opts_t;

extern HIDDEN ta_opts_t ta_opt;

/* The one rule for decay times, wherever they come in (TUNALLOC_CONF,
 * ta_ctl writes, ta_arena_create): -1 (never) up to TA_DECAY_MS_MAX. */
static inline bool ta_decay_ms_valid(int64_t ms) { return ms >= -1 && ms <= TA_DECAY_MS_MAX; }
/* The compiled-in configuration string, applied before TUNALLOC_CONF. */
extern HIDDEN const char ta_conf_default[];

/* Parses the defaults then TUNALLOC_CONF into ta_opt; a malformed pair is
 * reported on stderr and skipped. Must not allocate. */
HIDDEN void ta_conf_init(void);
/* Prints statistics with opt.stats_print_opts; registered with atexit
 * when opt.stats_print is set. */
HIDDEN void ta_stats_atexit(void);

#endif
