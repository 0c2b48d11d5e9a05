/* Unit test of conf.c.
 * TUNALLOC_CONF parsing on private option structs: every key, suffixes,
 * bounds, and malformed pairs that are skipped while the rest applies.
 * The parser is hidden but linkable from the static library. */
#include <stdint.h>
#include <string.h>

#include "conf.h"
#include "harness.h"

static tai_opts_t fresh(void)
{
    tai_opts_t o;
    memset(&o, 0, sizeof(o));
    o.dirty_decay_ms = 7;
    o.muzzy_decay_ms = 7;
    return o;
}

static void test_every_key(void)
{
    tai_opts_t o = fresh();
    CHECK_EQ(tai_conf_parse(&o,
                           "narenas:4,dirty_decay_ms:1000,muzzy_decay_ms:-1,"
                           "background_thread:true,tcache:true,check:true,stats_print:true,"
                           "stats_print_opts:Jbl,arena_limit:64M,dirty_max_pct:100000",
                           "test"),
             0);
    CHECK_EQ(o.narenas, 4);
    CHECK_EQ(o.dirty_max_pct, 100000);
    CHECK_EQ(o.dirty_decay_ms, 1000);
    CHECK_EQ(o.muzzy_decay_ms, -1);
    CHECK(o.background_thread && o.tcache && o.check && o.stats_print);
    CHECK(strcmp(o.stats_print_opts, "Jbl") == 0);
    CHECK_EQ(o.arena_limit, 64u << 20);
    CHECK_EQ(tai_conf_parse(&o, "tcache:false,check:false,stats_print_opts:", "test"), 0);
    CHECK(!o.tcache && !o.check);
    CHECK_EQ(o.stats_print_opts[0], '\0');
}

static void test_size_suffixes(void)
{
    tai_opts_t o = fresh();
    static const struct {
        const char *s;
        size_t v;
    } cases[] = {{"arena_limit:0", 0},         {"arena_limit:123", 123},
                 {"arena_limit:1k", 1024},     {"arena_limit:2K", 2048},
                 {"arena_limit:3m", 3u << 20}, {"arena_limit:1G", (size_t)1 << 30},
                 {"arena_limit:5g", (size_t)5 << 30}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        CHECK_EQ(tai_conf_parse(&o, cases[k].s, "test"), 0);
        CHECK_EQ(o.arena_limit, cases[k].v);
    }
}

/* Each bad pair counts once, leaves its option alone, and the good pairs
 * around it still apply. */
static void test_malformed_pairs(void)
{
    static const char *bad[] = {
        "narenas",           "narenas:",          ":4",
        "bogus:1",           "narenas:4x",        "narenas:-1",
        "narenas:99999",     "narenas:1k",        "dirty_decay_ms:-2",
        "dirty_decay_ms:x",  "dirty_decay_ms:1.5", "muzzy_decay_ms:99999999999999999999",
        "muzzy_decay_ms:4611686018427387904",    "background_thread:yes",
        "tcache:1",          "check:TRUE",        "stats_print:",
        "stats_print_opts:Z", "stats_print_opts:JJJJJJJJJJJJJJJJ",
        "arena_limit:1t",    "arena_limit:k",     "arena_limit:99999999999999999999",
        "arena_limit:17179869184G", "narenas :4",  " narenas:4",
        "narenas:4:5",       "secure:1",          "abort_on_error:yes",
        "dirty_max_pct:100001", "dirty_max_pct:-1", "dirty_max_pct:5%",
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        tai_opts_t o = fresh();
        char buf[256];
        snprintf(buf, sizeof(buf), "dirty_decay_ms:500,%s,tcache:true", bad[k]);
        unsigned n = tai_conf_parse(&o, buf, "test");
        if (n != 1)
            fprintf(stderr, "pair \"%s\": %u malformed\n", bad[k], n);
        CHECK_EQ(n, 1);
        CHECK(o.tcache);
        CHECK_EQ(o.narenas, 0);
        CHECK_EQ(o.muzzy_decay_ms, 7);
        CHECK_EQ(o.arena_limit, 0);
        CHECK_EQ(o.stats_print_opts[0], '\0');
        CHECK(!o.background_thread && !o.check && !o.stats_print);
        CHECK(!o.secure && !o.abort_on_error && !(o.given & TA_OPT_BIT(abort_on_error)));
        CHECK_EQ(o.dirty_max_pct, 0);
        if (strncmp(bad[k], "dirty", 5) == 0)
            CHECK_EQ(o.dirty_decay_ms, 500);
    }
}

static void test_empty_and_separators(void)
{
    tai_opts_t o = fresh();
    CHECK_EQ(tai_conf_parse(&o, "", "test"), 0);
    CHECK_EQ(tai_conf_parse(&o, NULL, "test"), 0);
    CHECK_EQ(tai_conf_parse(&o, ",,,narenas:2,,", "test"), 0);
    CHECK_EQ(o.narenas, 2);
    CHECK_EQ(tai_conf_parse(&o, "narenas:3,narenas:5", "test"), 0);
    CHECK_EQ(o.narenas, 5);
    CHECK_EQ(tai_conf_parse(&o, "a,b,c", "test"), 3);
}

/* secure:true implies check and, unless abort_on_error is given in
 * either order, abort_on_error. */
static void test_secure_implies(void)
{
    tai_opts_t o = fresh();
    CHECK_EQ(tai_conf_parse(&o, "abort_on_error:true", "test"), 0);
    tai_conf_finish(&o);
    CHECK(o.abort_on_error && !o.check && !o.secure);
    o = fresh();
    CHECK_EQ(tai_conf_parse(&o, "secure:true", "test"), 0);
    tai_conf_finish(&o);
    CHECK(o.secure && o.check && o.abort_on_error);
    static const char *given[] = {"secure:true,abort_on_error:false",
                                  "abort_on_error:false,secure:true"};
    for (size_t k = 0; k < 2; k++) {
        o = fresh();
        CHECK_EQ(tai_conf_parse(&o, given[k], "test"), 0);
        tai_conf_finish(&o);
        CHECK(o.secure && o.check && !o.abort_on_error);
    }
    o = fresh();
    CHECK_EQ(tai_conf_parse(&o, "secure:false,check:false", "test"), 0);
    tai_conf_finish(&o);
    CHECK(!o.secure && !o.check && !o.abort_on_error);
}

/* A very long pair is reported (truncated) without overflowing anything. */
static void test_long_pair(void)
{
    static char buf[100000];
    memset(buf, 'x', sizeof(buf) - 1);
    memcpy(buf, "narenas:", 8);
    tai_opts_t o = fresh();
    CHECK_EQ(tai_conf_parse(&o, buf, "test"), 1);
    CHECK_EQ(o.narenas, 0);
}

/* tai_conf_format writes every option (from the same list as the parser)
 * in a form the parser reads back to the same values, and cuts only
 * between pairs. */
static void test_format_round_trip(void)
{
    tai_opts_t o = fresh();
    CHECK_EQ(tai_conf_parse(&o,
                           "narenas:3,dirty_decay_ms:-1,muzzy_decay_ms:250,"
                           "background_thread:true,tcache:false,check:true,secure:true,"
                           "abort_on_error:false,stats_print:true,stats_print_opts:gml,"
                           "arena_limit:1g,prof:true,prof_sample_bytes:64k,dirty_max_pct:25",
                           "test"),
             0);
    char text[480];
    size_t len = tai_conf_format(&o, text, sizeof(text), ',');
    CHECK_EQ(len, strlen(text));
    tai_opts_t back = fresh();
    CHECK_EQ(tai_conf_parse(&back, text, "round trip"), 0);
    CHECK_EQ(back.narenas, 3);
    CHECK_EQ(back.dirty_decay_ms, -1);
    CHECK_EQ(back.muzzy_decay_ms, 250);
    CHECK(back.background_thread && !back.tcache && back.check && back.secure);
    CHECK(!back.abort_on_error && back.stats_print);
    CHECK(strcmp(back.stats_print_opts, "gml") == 0);
    CHECK_EQ(back.arena_limit, (size_t)1 << 30);
    CHECK(back.prof);
    CHECK_EQ(back.prof_sample_bytes, 64 << 10);
    CHECK_EQ(back.dirty_max_pct, 25);
    CHECK_EQ(back.given, o.given); /* every option was written */

    char small[24];
    size_t cut = tai_conf_format(&o, small, sizeof(small), ' ');
    CHECK(cut < sizeof(small) && strcmp(small, "narenas:3") == 0);
    CHECK_EQ(tai_conf_format(&o, small, 0, ' '), 0);
}

int main(void)
{
    RUN(test_every_key);
    RUN(test_size_suffixes);
    RUN(test_malformed_pairs);
    RUN(test_empty_and_separators);
    RUN(test_long_pair);
    RUN(test_secure_implies);
    RUN(test_format_round_trip);
    return TEST_EXIT();
}
