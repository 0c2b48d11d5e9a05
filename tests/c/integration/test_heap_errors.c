/* Double and invalid frees in default mode, where the allocator reads
 * the metadata that tells anyway: huge and large frees, and thread-cache
 * flushes into slabs. Each is reported on stderr and refused, and the
 * heap's accounting stays exact. A hang is a failure: an alarm ends the
 * run. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

#include "harness.h"
#include "tunalloc.h"
#include "capture.h"

/* True if text has exactly one line, and it contains what. */
static bool one_report(const char *text, const char *what)
{
    const char *nl = strchr(text, '\n');
    return nl && !nl[1] && strstr(text, what) && strstr(text, "; ignored");
}

static void *volatile launder;

static void *hide(void *p)
{
    launder = p;
    return launder;
}

/* Issue 13 item 1: the second free listed the cached mapping again,
 * the cache list looped, and the next allocation spun for ever. */
static void test_huge_double_free(void)
{
    ta_arena_t *ar = test_keeping_arena();
    size_t mapped = test_arena_stat(ar, "mapped");
    char *p = ta_arena_malloc(ar, 5000000);
    CHECK(p != NULL);
    ta_free(p);
    capture_begin();
    ta_free(hide(p));
    const char *out = capture_end();
    CHECK(one_report(out, "double free of "));
    CHECK(strstr(out, "(huge block)") != NULL);
    char *a = ta_arena_malloc(ar, 5000000), *b = ta_arena_malloc(ar, 5000000);
    CHECK(a && b && a != b);
    CHECK_EQ(ta_check_ptr(a), 0);
    CHECK_EQ(ta_check_ptr(b), 0);
    ta_free(a);
    ta_free(b);
    CHECK(test_arena_stat(ar, "pactive") == 0);
    CHECK(test_arena_stat(ar, "mapped") >= mapped);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* A pointer into a huge or large block frees nothing; the block stays
 * live and its pages counted. */
static void test_interior_large_and_huge(void)
{
    static const size_t sizes[] = {100000, 1000000, 5000000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        ta_arena_t *ar = test_keeping_arena();
        char *p = ta_arena_malloc(ar, sizes[i]);
        CHECK(p != NULL);
        size_t active = test_arena_stat(ar, "pactive");
        capture_begin();
        ta_free(hide(p + 16));
        const char *out = capture_end();
        CHECK(one_report(out, "invalid free of "));
        CHECK(strstr(out, "not at its start") != NULL);
        CHECK_EQ(ta_check_ptr(p), 0);
        CHECK_EQ(test_arena_stat(ar, "pactive"), active);
        char *q = ta_arena_malloc(ar, sizes[i]);
        CHECK(q != NULL && q != p);
        ta_free(q);
        ta_free(p);
        CHECK_EQ(test_arena_stat(ar, "pactive"), 0);
        CHECK_EQ(ta_arena_destroy(ar), 0);
    }
}

/* Explicit caches push frees without looking at them, like thread
 * caches: a block freed twice sits in the cache twice, and the flush
 * finds the second copy's region already free (small) or its run not
 * live (large). */
static void test_double_free_through_cache(void)
{
    static const struct {
        size_t size;
        const char *kind;
    } cases[] = {{64, "(small block)"}, {20000, "(large block)"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ta_arena_t *ar = test_keeping_arena();
        ta_tcache_t *tc = ta_tcache_create(ar);
        CHECK(tc != NULL);
        char *keep = ta_tcache_malloc(tc, cases[i].size);
        char *p = ta_tcache_malloc(tc, cases[i].size);
        CHECK(keep && p);
        size_t active = test_arena_stat(ar, "pactive");
        ta_tcache_free(tc, p);
        ta_tcache_free(tc, hide(p));
        capture_begin();
        ta_tcache_flush(tc);
        const char *out = capture_end();
        CHECK(one_report(out, "double free of "));
        CHECK(strstr(out, cases[i].kind) != NULL);
        if (cases[i].size <= TEST_SMALL_MAX) {
            CHECK_EQ(test_arena_stat(ar, "small.allocated"), 64);
            CHECK_EQ(test_arena_stat(ar, "pactive"), active);
        } else {
            CHECK_EQ(test_arena_stat(ar, "large.allocated"), ta_malloc_usable_size(keep));
        }
        /* every block handed out from now on is a different one */
        enum { N = 300 };
        static char *blocks[N];
        for (int k = 0; k < N; k++) {
            blocks[k] = ta_tcache_malloc(tc, cases[i].size);
            CHECK(blocks[k] != NULL && blocks[k] != keep);
            for (int j = 0; j < k; j++)
                CHECK(blocks[j] != blocks[k]);
        }
        for (int k = 0; k < N; k++)
            ta_tcache_free(tc, blocks[k]);
        ta_tcache_free(tc, keep);
        ta_tcache_destroy(tc);
        CHECK_EQ(test_arena_stat(ar, "pactive"), 0);
        CHECK_EQ(ta_arena_destroy(ar), 0);
    }
}

/* A manual arena's blocks go straight back to their slab (no cache):
 * the slab's bit says the second free is one too many. */
static void test_double_free_direct(void)
{
    ta_arena_t *ar = test_keeping_arena();
    char *keep = ta_arena_malloc(ar, 64), *p = ta_arena_malloc(ar, 64);
    CHECK(keep && p);
    ta_free(p);
    capture_begin();
    ta_free(hide(p));
    const char *out = capture_end();
    CHECK(one_report(out, "double free of "));
    CHECK_EQ(test_arena_stat(ar, "small.allocated"), 64);
    char *a = ta_arena_malloc(ar, 64), *b = ta_arena_malloc(ar, 64);
    CHECK(a && b && a != b && a != keep && b != keep);
    ta_free(a);
    ta_free(b);
    ta_free(keep);
    CHECK_EQ(test_arena_stat(ar, "small.allocated"), 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* p + 16 of a 64-byte block in a cache: the flush sees it is no
 * region's start and leaves the block alone. */
static void test_interior_small_through_cache(void)
{
    ta_arena_t *ar = test_keeping_arena();
    ta_tcache_t *tc = ta_tcache_create(ar);
    char *p = ta_tcache_malloc(tc, 64);
    CHECK(p != NULL);
    ta_tcache_free(tc, hide(p + 16));
    capture_begin();
    ta_tcache_flush(tc);
    const char *out = capture_end();
    CHECK(one_report(out, "invalid free of "));
    CHECK_EQ(test_arena_stat(ar, "small.allocated"), 64);
    CHECK_EQ(ta_check_ptr(p), 0);
    ta_tcache_free(tc, p);
    ta_tcache_destroy(tc);
    CHECK_EQ(test_arena_stat(ar, "small.allocated"), 0);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

static void test_options(void)
{
    bool v = true;
    size_t len = sizeof(v);
    CHECK_EQ(ta_ctl("opt.abort_on_error", &v, &len, NULL, 0), 0);
    CHECK(!v);
    v = true;
    CHECK_EQ(ta_ctl("opt.secure", &v, &len, NULL, 0), 0);
    CHECK(!v);
    CHECK_EQ(ta_ctl("opt.secure", NULL, NULL, &v, sizeof(v)), EPERM);
}

int main(void)
{
    alarm(TEST_SANITIZED ? 120 : 60);
    RUN(test_huge_double_free);
    RUN(test_interior_large_and_huge);
    RUN(test_double_free_through_cache);
    RUN(test_double_free_direct);
    RUN(test_interior_small_through_cache);
    RUN(test_options);
    return TEST_EXIT();
}
