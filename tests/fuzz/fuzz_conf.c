/* TUNALLOC_CONF parsing: any string up to its first NUL is parsed onto a
 * private options struct. Properties: every option stays in its documented
 * range, a malformed pair leaves the options as they were, the bad count
 * is the number of malformed pairs, and printing the result back and
 * parsing it onto other values gives the same options with none bad.
 * The parser warns on stderr for each bad pair: run with -close_fd_mask=2. */
#include <inttypes.h>

#include "conf.h"
#include "fuzz.h"

#define STATS_LETTERS "Jgmabl"

/* Bools are read as bytes: a stored value other than 0 or 1 would be
 * undefined to load as bool. */
static unsigned bool_byte(const bool *b)
{
    unsigned char c;
    memcpy(&c, b, 1);
    return c;
}

static void check_ranges(const tai_opts_t *o)
{
    REQUIRE(o->narenas <= MAX_ARENAS / 2);
    REQUIRE(o->dirty_decay_ms >= -1 && o->dirty_decay_ms <= TA_DECAY_MS_MAX);
    REQUIRE(o->muzzy_decay_ms >= -1 && o->muzzy_decay_ms <= TA_DECAY_MS_MAX);
    REQUIRE(bool_byte(&o->background_thread) <= 1 && bool_byte(&o->tcache) <= 1);
    REQUIRE(bool_byte(&o->check) <= 1 && bool_byte(&o->stats_print) <= 1);
    size_t n = strnlen(o->stats_print_opts, sizeof(o->stats_print_opts));
    REQUIRE(n < sizeof(o->stats_print_opts));
    REQUIRE(strspn(o->stats_print_opts, STATS_LETTERS) == n);
}

/* Options differ in a field that parsing can set (the struct's padding
 * and the bytes after stats_print_opts' NUL are not compared). */
static bool same(const tai_opts_t *a, const tai_opts_t *b)
{
    return a->narenas == b->narenas && a->dirty_decay_ms == b->dirty_decay_ms &&
           a->muzzy_decay_ms == b->muzzy_decay_ms &&
           a->background_thread == b->background_thread && a->tcache == b->tcache &&
           a->check == b->check && a->stats_print == b->stats_print &&
           strcmp(a->stats_print_opts, b->stats_print_opts) == 0 &&
           a->arena_limit == b->arena_limit;
}

static const char *word(bool b) { return b ? "true" : "false"; }

/* The options as a configuration string, every key spelled once. */
static void print_conf(const tai_opts_t *o, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "narenas:%u,dirty_decay_ms:%" PRId64 ",muzzy_decay_ms:%" PRId64
                     ",background_thread:%s,tcache:%s,check:%s,stats_print:%s,"
                     "stats_print_opts:%s,arena_limit:%zu",
                     o->narenas, o->dirty_decay_ms, o->muzzy_decay_ms, word(o->background_thread),
                     word(o->tcache), word(o->check), word(o->stats_print), o->stats_print_opts,
                     o->arena_limit);
    REQUIRE(n > 0 && (size_t)n < cap);
}

/* Values no default has, so the round trip must write every field. */
static void other_values(tai_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->narenas = 7;
    o->dirty_decay_ms = 12345;
    o->muzzy_decay_ms = 54321;
    o->background_thread = true;
    o->tcache = false;
    o->check = true;
    o->stats_print = true;
    memcpy(o->stats_print_opts, "Jg", 3);
    o->arena_limit = 999;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[4096];
    if (size >= sizeof(s))
        size = sizeof(s) - 1;
    memcpy(s, data, size);
    s[size] = '\0';

    tai_opts_t o = tai_opt;
    unsigned bad = tai_conf_parse(&o, s, "fuzz");
    check_ranges(&o);

    /* pair by pair onto the same start: the same options and bad count,
     * and a pair that counts as bad changes nothing */
    tai_opts_t step = tai_opt;
    unsigned bad_steps = 0, pairs = 0;
    for (char *p = s; *p;) {
        char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char pair[sizeof(s)];
        memcpy(pair, p, len);
        pair[len] = '\0';
        tai_opts_t before = step;
        unsigned b = tai_conf_parse(&step, pair, "fuzz");
        REQUIRE(b <= 1);
        REQUIRE(len > 0 || b == 0);
        if (b)
            REQUIRE(same(&before, &step));
        bad_steps += b;
        pairs++;
        if (!comma)
            break;
        p = comma + 1;
    }
    REQUIRE(bad == bad_steps && bad <= pairs);
    REQUIRE(same(&o, &step));

    char printed[512];
    print_conf(&o, printed, sizeof(printed));
    tai_opts_t back;
    other_values(&back);
    REQUIRE(tai_conf_parse(&back, printed, "fuzz") == 0);
    REQUIRE(same(&o, &back));
    return 0;
}
