/* ta_stats_print: a fresh epoch, then human-readable text (totals, each
 * arena, per-size-class tables with slab utilisation) or JSON. Output is
 * formatted on the stack, never through the allocator being measured. */
#include <inttypes.h>
#include <string.h>

#include "arena.h"
#include "background.h"
#include "conf.h"
#include "ctl.h"
#include "ctl_json.h"
#include "init.h"
#include "opts.h"
#include "os.h"
#include "stats.h"
#include "stats_out.h"

/* A failed read prints as 0 rather than aborting the report. */
static uint64_t global(unsigned field)
{
    uint64_t v = 0;
    return tai_stats_global(field, &v) ? 0 : v;
}

/* The information jemalloc's "g" letter omits: constant for the run. */
static void print_general(stats_out_t *o)
{
    tai_stats_emit(o, "Version: %s\n", TA_VERSION);
    char conf[320];
    tai_conf_format(&tai_opt, conf, sizeof(conf), ' ');
    tai_stats_emit(o, "Options: %s\n", conf);
    tai_stats_emit(o,
                  "Arenas: %u (%u automatic); quantum %d, page %zu, tcache_max %d, "
                  "%d small and %d large size classes\n",
                  tai_ctl_narenas(), tai_narenas_auto, QUANTUM, tai_page, TCACHE_MAX,
                  NBINS, NLEXTENTS);
    tai_stats_emit(o, "Background thread: %s\n", tai_background_enabled() ? "on" : "off");
}

/* The process-wide line every report has, whatever the letters. */
static void print_totals(stats_out_t *o)
{
    tai_stats_emit(o,
                  "Allocated: %" PRIu64 ", active: %" PRIu64 ", metadata: %" PRIu64
                  ", resident: %" PRIu64 ", mapped: %" PRIu64 ", retained: %" PRIu64 "\n",
                  global(GS_allocated), global(GS_active), global(GS_metadata),
                  global(GS_resident), global(GS_mapped), global(GS_retained));
}

/* Page counts, purging and mapping; peak exists per arena only. */
static void print_arena_pages(stats_out_t *o, const uint64_t *v, bool merged)
{
    tai_stats_emit(o, "assigned threads: %" PRIu64 "\nuptime: %" PRIu64 " ns\n", v[AS_nthreads],
                  v[AS_uptime]);
    tai_stats_emit(o, "pages: active %" PRIu64 ", dirty %" PRIu64 ", muzzy %" PRIu64 "\n",
                  v[AS_pactive], v[AS_pdirty], v[AS_pmuzzy]);
    tai_stats_emit(o,
                  "purging: dirty %" PRIu64 " sweeps, %" PRIu64 " madvise, %" PRIu64
                  " pages; muzzy %" PRIu64 " sweeps, %" PRIu64 " madvise, %" PRIu64 " pages\n",
                  v[AS_dirty_npurge], v[AS_dirty_nmadvise], v[AS_dirty_purged],
                  v[AS_muzzy_npurge], v[AS_muzzy_nmadvise], v[AS_muzzy_purged]);
    tai_stats_emit(o,
                  "mapped: %" PRIu64 ", retained: %" PRIu64 ", metadata: %" PRIu64
                  ", resident: %" PRIu64,
                  v[AS_mapped], v[AS_retained], v[AS_metadata], v[AS_resident]);
    if (merged)
        tai_stats_emit(o, "\n");
    else
        tai_stats_emit(o, ", peak active: %" PRIu64 "\n", v[AS_peak]);
}

/* Large classes have no cache fill/flush counters; their cells say "-". */
static void print_arena_totals(stats_out_t *o, const uint64_t *v)
{
    tai_stats_emit(o, "%-8s %14s %14s %14s %14s %12s %12s\n", "", "allocated", "nmalloc",
                  "ndalloc", "nrequests", "nfills", "nflushes");
    tai_stats_emit(o, "%-8s %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %12" PRIu64
                     " %12" PRIu64 "\n",
                  "small:", v[AS_small_allocated], v[AS_small_nmalloc], v[AS_small_ndalloc],
                  v[AS_small_nrequests], v[AS_small_nfills], v[AS_small_nflushes]);
    tai_stats_emit(o, "%-8s %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %12s %12s\n",
                  "large:", v[AS_large_allocated], v[AS_large_nmalloc], v[AS_large_ndalloc],
                  v[AS_large_nrequests], "-", "-");
}

/* Utilisation = live regions / regions in current slabs, in thousandths. */
static void print_bins(stats_out_t *o, const stats_arena_t *s)
{
    tai_stats_emit(o, "%8s %4s %12s %12s %12s %12s %10s %9s %6s %4s %6s %10s %10s %8s\n", "bins:",
                  "ind", "allocated", "nmalloc", "ndalloc", "nrequests", "curregs", "curslabs",
                  "regs", "pgs", "util", "nfills", "nflushes", "nslabs");
    for (unsigned j = 0; j < NBINS; j++) {
        const uint64_t *b = s->bins[j];
        if (b[BS_nmalloc] == 0 && b[BS_nrequests] == 0 && b[BS_curregs] == 0)
            continue;
        const bin_info_t *bi = &tai_bin_info[j];
        uint64_t cap = b[BS_curslabs] * bi->nregs;
        uint64_t util = cap ? b[BS_curregs] * 1000 / cap : 0;
        tai_stats_emit(o,
                      "%8u %4u %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64
                      " %10" PRIu64 " %9" PRIu64 " %6u %4u %2" PRIu64 ".%03" PRIu64
                      " %10" PRIu64 " %10" PRIu64 " %8" PRIu64 "\n",
                      bi->size, j, b[BS_curregs] * bi->size, b[BS_nmalloc], b[BS_ndalloc],
                      b[BS_nrequests], b[BS_curregs], b[BS_curslabs], bi->nregs, bi->slab_pages,
                      util / 1000, util % 1000, b[BS_nfills], b[BS_nflushes], b[BS_nslabs]);
    }
}

/* Only classes ever used, or the table would list 132 empty rows. */
static void print_lextents(stats_out_t *o, const stats_arena_t *s)
{
    tai_stats_emit(o, "%14s %4s %12s %12s %12s %12s\n", "large:", "ind", "allocated", "nmalloc",
                  "ndalloc", "curlextents");
    for (unsigned j = 0; j < NLEXTENTS; j++) {
        const uint64_t *l = s->lext[j];
        if (l[LS_nmalloc] == 0 && l[LS_nrequests] == 0 && l[LS_curlextents] == 0)
            continue;
        tai_stats_emit(o, "%14zu %4u %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n",
                      lextent_size(j), j, l[LS_curlextents] * lextent_size(j), l[LS_nmalloc],
                      l[LS_ndalloc], l[LS_curlextents]);
    }
}

/* Works on a private copy, so the stats lock is not held meanwhile. */
static void print_arena(stats_out_t *o, size_t i, const char *opts)
{
    stats_arena_t s;
    if (tai_stats_arena_copy(i, &s))
        return;
    if (i == MAX_ARENAS)
        tai_stats_emit(o, "\nMerged arenas stats:\n");
    else
        tai_stats_emit(o, "\narenas[%zu]:\n", i);
    print_arena_pages(o, s.a, i == MAX_ARENAS);
    print_arena_totals(o, s.a);
    if (!strchr(opts, 'b'))
        print_bins(o, &s);
    if (!strchr(opts, 'l'))
        print_lextents(o, &s);
}

/* jemalloc's layout: header, general, totals, merged, each arena. */
static void print_text(stats_out_t *o, const char *opts)
{
    tai_stats_emit(o, "___ Begin tunalloc statistics ___\n");
    if (!strchr(opts, 'g'))
        print_general(o);
    print_totals(o);
    if (!strchr(opts, 'm'))
        print_arena(o, MAX_ARENAS, opts);
    if (!strchr(opts, 'a'))
        for (unsigned i = 0, n = tai_stats_narenas(); i < n; i++)
            print_arena(o, i, opts);
    tai_stats_emit(o, "--- End tunalloc statistics ---\n");
}

/* A fresh epoch first, as malloc_stats_print does. */
void ta_stats_print(ta_write_cb *write_cb, void *opaque, const char *opts)
{
    stats_out_t o = tai_stats_out(write_cb, opaque);
    if (opts == NULL)
        opts = "";
    if (!tai_ensure_init()) {
        tai_stats_emit(&o, "tunalloc: statistics unavailable: initialisation failed\n");
        return;
    }
    if (tai_stats_refresh() != 0) {
        tai_stats_emit(&o, "tunalloc: statistics unavailable: out of memory\n");
        return;
    }
    if (strchr(opts, 'J'))
        tai_stats_json(&o, opts);
    else
        print_text(&o, opts);
}

/* Runs from atexit when opt.stats_print is set. */
void tai_stats_atexit(void) { ta_stats_print(NULL, NULL, tai_opt.stats_print_opts); }
