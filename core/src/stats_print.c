/* ta_stats_print: a fresh epoch, then human-readable text (totals, each
 * arena, per-size-class tables with slab utilisation) or JSON. Output is
 * formatted on the stack, never through the allocator being measured. */
#include <ctype.h>
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

/* The report's names and texts are char arrays, not pointers, which the
 * loader would relocate in every process; each must fit with its NUL. */
typedef char stat_name_t[16];
enum { BEFORE_SIZE = 20, AFTER_SIZE = 12 }; /* of an arena field's texts */
#define FITS(s, n) _Static_assert(sizeof(s) <= (n), "stats_print.c: " s " is too long");
#define GLOBAL_FITS(n, d) FITS(#n, sizeof(stat_name_t))
#define SUM_FITS(n, t, src, d) FITS(#n, sizeof(stat_name_t))
#define TEXT_FITS(n, t, src, f, before, after, d) FITS(before, BEFORE_SIZE) FITS(after, AFTER_SIZE)
TA_GLOBAL_STATS(GLOBAL_FITS)
TA_SMALL_STATS(SUM_FITS)
TA_LARGE_STATS(SUM_FITS)
TA_ARENA_STATS(TEXT_FITS)

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

/* The process-wide line every report has, whatever the letters: every
 * TA_GLOBAL_STATS value, the first name capitalised. */
static void print_totals(stats_out_t *o)
{
    static const stat_name_t names[] = {
#define NAME(n, d) #n,
        TA_GLOBAL_STATS(NAME)
#undef NAME
    };
    tai_stats_emit(o, "%c%s: %" PRIu64, toupper((unsigned char)names[0][0]), names[0] + 1,
                   global(0));
    for (unsigned k = 1; k < GS_NFIELDS; k++)
        tai_stats_emit(o, ", %s: %" PRIu64, names[k], global(k));
    tai_stats_emit(o, "\n");
}

/* Every TA_ARENA_STATS value between its texts, in list order. */
static void print_arena_fields(stats_out_t *o, const uint64_t *v, size_t i)
{
    static const struct {
        char before[BEFORE_SIZE], after[AFTER_SIZE];
    } text[AS_SMALL] = {
#define TEXT(n, t, src, f, before, after, d) {before, after},
        TA_ARENA_STATS(TEXT)
#undef TEXT
    };
    for (unsigned k = 0; k < AS_SMALL; k++)
        if (tai_stats_arena_has(i, k))
            tai_stats_emit(o, "%s%" PRIu64 "%s", text[k].before, v[k], text[k].after);
    tai_stats_emit(o, "\n");
}

#define NAME(n, t, src, d) #n,
static const stat_name_t small_names[] = {TA_SMALL_STATS(NAME)};
static const stat_name_t large_names[] = {TA_LARGE_STATS(NAME)};
#undef NAME
enum { NSMALL = AS_LARGE - AS_SMALL, NLARGE = AS_NFIELDS - AS_LARGE };

/* The index of name among n names, or n. */
static size_t find(const stat_name_t *names, size_t n, const char *name)
{
    size_t k = 0;
    while (k < n && strcmp(names[k], name) != 0)
        k++;
    return k;
}

/* One row of the small/large table. Its columns are the TA_SMALL_STATS
 * names, then the TA_LARGE_STATS names the small list lacks (NULL: the
 * header); a list without a column's name shows "-" in it. */
static void print_total_row(stats_out_t *o, const char *label, const stat_name_t *names,
                            size_t n, const uint64_t *v)
{
    tai_stats_emit(o, "%-8s", label);
    for (size_t c = 0; c < NSMALL + NLARGE; c++) {
        const char *col = c < NSMALL ? small_names[c] : large_names[c - NSMALL];
        if (c >= NSMALL && find(small_names, NSMALL, col) < NSMALL)
            continue;
        size_t k = names ? find(names, n, col) : n;
        if (k < n)
            tai_stats_emit(o, " %14" PRIu64, v[k]);
        else
            tai_stats_emit(o, " %14s", names ? "-" : col);
    }
    tai_stats_emit(o, "\n");
}

static void print_arena_totals(stats_out_t *o, const uint64_t *v)
{
    print_total_row(o, "", NULL, 0, NULL);
    print_total_row(o, "small:", small_names, NSMALL, v + AS_SMALL);
    print_total_row(o, "large:", large_names, NLARGE, v + AS_LARGE);
}

/* The column headers of one class list. */
#define HEADER(n, t, d) tai_stats_emit(o, " %12s", #n);

/* Per small class: size, index, bytes live, every TA_BIN_STATS counter,
 * then the slab geometry and utilisation (live regions / regions in
 * current slabs, in thousandths). */
static void print_bins(stats_out_t *o, const stats_arena_t *s)
{
    tai_stats_emit(o, "%8s %4s %12s", "bins:", "ind", "allocated");
    TA_BIN_STATS(HEADER)
    tai_stats_emit(o, " %6s %4s %6s\n", "regs", "pgs", "util");
    for (unsigned j = 0; j < NBINS; j++) {
        const uint64_t *b = s->bins[j];
        if (!stats_row_used(b, BS_NFIELDS))
            continue;
        const bin_info_t *bi = &tai_bin_info[j];
        tai_stats_emit(o, "%8u %4u %12" PRIu64, bi->size, j, b[BS_curregs] * bi->size);
        for (unsigned k = 0; k < BS_NFIELDS; k++)
            tai_stats_emit(o, " %12" PRIu64, b[k]);
        uint64_t cap = b[BS_curslabs] * bi->nregs;
        uint64_t util = cap ? b[BS_curregs] * 1000 / cap : 0;
        tai_stats_emit(o, " %6u %4u %2" PRIu64 ".%03" PRIu64 "\n", bi->nregs, bi->slab_pages,
                       util / 1000, util % 1000);
    }
}

/* Per large class ever used (or the table would list 132 empty rows):
 * size, index, bytes live, every TA_LEXTENT_STATS counter. */
static void print_lextents(stats_out_t *o, const stats_arena_t *s)
{
    tai_stats_emit(o, "%14s %4s %12s", "large:", "ind", "allocated");
    TA_LEXTENT_STATS(HEADER)
    tai_stats_emit(o, "\n");
    for (unsigned j = 0; j < NLEXTENTS; j++) {
        const uint64_t *l = s->lext[j];
        if (!stats_row_used(l, LS_NFIELDS))
            continue;
        tai_stats_emit(o, "%14zu %4u %12" PRIu64, lextent_size(j), j,
                       l[LS_curlextents] * lextent_size(j));
        for (unsigned k = 0; k < LS_NFIELDS; k++)
            tai_stats_emit(o, " %12" PRIu64, l[k]);
        tai_stats_emit(o, "\n");
    }
}
#undef HEADER

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
    print_arena_fields(o, s.a, i);
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
