/* ta_stats_print: a fresh epoch, then human-readable text (totals, each
 * arena, per-size-class tables with slab utilisation) or JSON. Output is
 * formatted on the stack, never through the allocator being measured. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "background.h"
#include "ctl.h"
#include "init.h"
#include "opts.h"
#include "os.h"
#include "stats.h"

/* The default sink: write(2) on stderr, usable inside malloc and atexit. */
static void write_stderr(void *opaque, const char *text)
{
    (void)opaque;
    size_t len = strlen(text);
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, text, len);
        if (n <= 0)
            return;
        text += n;
        len -= (size_t)n;
    }
}

void ta_stats_emit(stats_out_t *o, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= 0)
        o->cb(o->opaque, buf);
}

static uint64_t global(unsigned field)
{
    uint64_t v = 0;
    return ta_stats_global(field, &v) ? 0 : v;
}

static void print_general(stats_out_t *o)
{
    ta_stats_emit(o, "Version: %s\n", TA_VERSION);
    ta_stats_emit(o,
                  "Options: narenas:%u dirty_decay_ms:%lld muzzy_decay_ms:%lld "
                  "background_thread:%s tcache:%s check:%s stats_print:%s "
                  "stats_print_opts:\"%s\" arena_limit:%zu\n",
                  ta_opt.narenas, (long long)ta_opt.dirty_decay_ms,
                  (long long)ta_opt.muzzy_decay_ms, ta_opt.background_thread ? "true" : "false",
                  ta_opt.tcache ? "true" : "false", ta_opt.check ? "true" : "false",
                  ta_opt.stats_print ? "true" : "false", ta_opt.stats_print_opts,
                  ta_opt.arena_limit);
    ta_stats_emit(o,
                  "Arenas: %u slots (%u automatic); quantum %d, page %zu, tcache_max %d, "
                  "%d small and %d large size classes\n",
                  atomic_load(&ta_narenas_total), ta_narenas_auto, QUANTUM, ta_page, TCACHE_MAX,
                  NBINS, NLEXTENTS);
    ta_stats_emit(o, "Background thread: %s\n", ta_background_enabled() ? "on" : "off");
}

static void print_totals(stats_out_t *o)
{
    ta_stats_emit(o,
                  "Allocated: %llu, active: %llu, metadata: %llu, resident: %llu, "
                  "mapped: %llu, retained: %llu\n",
                  (unsigned long long)global(GS_ALLOCATED), (unsigned long long)global(GS_ACTIVE),
                  (unsigned long long)global(GS_METADATA), (unsigned long long)global(GS_RESIDENT),
                  (unsigned long long)global(GS_MAPPED), (unsigned long long)global(GS_RETAINED));
}

static void print_arena_summary(stats_out_t *o, const stats_arena_t *s, bool merged)
{
    const uint64_t *v = s->a;
    ta_stats_emit(o, "assigned threads: %llu\nuptime: %llu ns\n", (unsigned long long)v[AS_NTHREADS],
                  (unsigned long long)v[AS_UPTIME]);
    ta_stats_emit(o, "pages: active %llu, dirty %llu, muzzy %llu\n",
                  (unsigned long long)v[AS_PACTIVE], (unsigned long long)v[AS_PDIRTY],
                  (unsigned long long)v[AS_PMUZZY]);
    ta_stats_emit(o, "purging: dirty %llu sweeps, %llu madvise, %llu pages; "
                     "muzzy %llu sweeps, %llu madvise, %llu pages\n",
                  (unsigned long long)v[AS_DIRTY_NPURGE], (unsigned long long)v[AS_DIRTY_NMADVISE],
                  (unsigned long long)v[AS_DIRTY_PURGED], (unsigned long long)v[AS_MUZZY_NPURGE],
                  (unsigned long long)v[AS_MUZZY_NMADVISE], (unsigned long long)v[AS_MUZZY_PURGED]);
    ta_stats_emit(o, "mapped: %llu, retained: %llu, metadata: %llu, resident: %llu",
                  (unsigned long long)v[AS_MAPPED], (unsigned long long)v[AS_RETAINED],
                  (unsigned long long)v[AS_METADATA], (unsigned long long)v[AS_RESIDENT]);
    if (merged)
        ta_stats_emit(o, "\n");
    else
        ta_stats_emit(o, ", peak active: %llu\n", (unsigned long long)v[AS_PEAK]);
    ta_stats_emit(o, "%-8s %14s %14s %14s %14s %12s %12s\n", "", "allocated", "nmalloc",
                  "ndalloc", "nrequests", "nfills", "nflushes");
    ta_stats_emit(o, "%-8s %14llu %14llu %14llu %14llu %12llu %12llu\n", "small:",
                  (unsigned long long)v[AS_SMALL_ALLOCATED], (unsigned long long)v[AS_SMALL_NMALLOC],
                  (unsigned long long)v[AS_SMALL_NDALLOC], (unsigned long long)v[AS_SMALL_NREQUESTS],
                  (unsigned long long)v[AS_SMALL_NFILLS], (unsigned long long)v[AS_SMALL_NFLUSHES]);
    ta_stats_emit(o, "%-8s %14llu %14llu %14llu %14llu %12s %12s\n", "large:",
                  (unsigned long long)v[AS_LARGE_ALLOCATED], (unsigned long long)v[AS_LARGE_NMALLOC],
                  (unsigned long long)v[AS_LARGE_NDALLOC], (unsigned long long)v[AS_LARGE_NREQUESTS],
                  "-", "-");
}

/* Utilisation = live regions / regions in current slabs, in thousandths. */
static void print_bins(stats_out_t *o, const stats_arena_t *s)
{
    ta_stats_emit(o, "%8s %4s %12s %12s %12s %12s %10s %9s %6s %4s %6s %10s %10s %8s\n", "bins:",
                  "ind", "allocated", "nmalloc", "ndalloc", "nrequests", "curregs", "curslabs",
                  "regs", "pgs", "util", "nfills", "nflushes", "nslabs");
    for (unsigned j = 0; j < NBINS; j++) {
        const uint64_t *b = s->bins[j];
        if (b[BS_NMALLOC] == 0 && b[BS_NREQUESTS] == 0 && b[BS_CURREGS] == 0)
            continue;
        const bin_info_t *bi = &ta_bin_info[j];
        uint64_t cap = b[BS_CURSLABS] * bi->nregs;
        uint64_t util = cap ? b[BS_CURREGS] * 1000 / cap : 0;
        ta_stats_emit(o,
                      "%8u %4u %12llu %12llu %12llu %12llu %10llu %9llu %6u %4u %2llu.%03llu "
                      "%10llu %10llu %8llu\n",
                      bi->size, j, (unsigned long long)(b[BS_CURREGS] * bi->size),
                      (unsigned long long)b[BS_NMALLOC], (unsigned long long)b[BS_NDALLOC],
                      (unsigned long long)b[BS_NREQUESTS], (unsigned long long)b[BS_CURREGS],
                      (unsigned long long)b[BS_CURSLABS], bi->nregs, bi->slab_pages,
                      (unsigned long long)(util / 1000), (unsigned long long)(util % 1000),
                      (unsigned long long)b[BS_NFILLS], (unsigned long long)b[BS_NFLUSHES],
                      (unsigned long long)b[BS_NSLABS]);
    }
}

static void print_lextents(stats_out_t *o, const stats_arena_t *s)
{
    ta_stats_emit(o, "%14s %4s %12s %12s %12s %12s\n", "large:", "ind", "allocated", "nmalloc",
                  "ndalloc", "curlextents");
    for (unsigned j = 0; j < NLEXTENTS; j++) {
        const uint64_t *l = s->lext[j];
        if (l[LS_NMALLOC] == 0 && l[LS_NREQUESTS] == 0 && l[LS_CURLEXTENTS] == 0)
            continue;
        ta_stats_emit(o, "%14zu %4u %12llu %12llu %12llu %12llu\n", lextent_size(j), j,
                      (unsigned long long)(l[LS_CURLEXTENTS] * lextent_size(j)),
                      (unsigned long long)l[LS_NMALLOC], (unsigned long long)l[LS_NDALLOC],
                      (unsigned long long)l[LS_CURLEXTENTS]);
    }
}

static void print_arena(stats_out_t *o, size_t i, const char *opts)
{
    stats_arena_t s;
    if (ta_stats_arena_copy(i, &s))
        return;
    if (i == MAX_ARENAS)
        ta_stats_emit(o, "Merged arenas stats:\n");
    else
        ta_stats_emit(o, "arenas[%zu]:\n", i);
    print_arena_summary(o, &s, i == MAX_ARENAS);
    if (!strchr(opts, 'b'))
        print_bins(o, &s);
    if (!strchr(opts, 'l'))
        print_lextents(o, &s);
}

static void print_text(stats_out_t *o, const char *opts)
{
    ta_stats_emit(o, "___ Begin tunalloc statistics ___\n");
    if (!strchr(opts, 'g'))
        print_general(o);
    print_totals(o);
    if (!strchr(opts, 'm'))
        print_arena(o, MAX_ARENAS, opts);
    if (!strchr(opts, 'a'))
        for (unsigned i = 0, n = ta_stats_narenas(); i < n; i++)
            print_arena(o, i, opts);
    ta_stats_emit(o, "--- End tunalloc statistics ---\n");
}

void ta_stats_print(ta_write_cb *write_cb, void *opaque, const char *opts)
{
    stats_out_t o = {write_cb ? write_cb : write_stderr, write_cb ? opaque : NULL};
    if (opts == NULL)
        opts = "";
    if (!ta_ensure_init()) {
        ta_stats_emit(&o, "tunalloc: statistics unavailable: initialisation failed\n");
        return;
    }
    if (ta_stats_refresh() != 0) {
        ta_stats_emit(&o, "tunalloc: statistics unavailable: out of memory\n");
        return;
    }
    if (strchr(opts, 'J'))
        ta_stats_json(&o, opts);
    else
        print_text(&o, opts);
}

void ta_stats_atexit(void) { ta_stats_print(NULL, NULL, ta_opt.stats_print_opts); }
