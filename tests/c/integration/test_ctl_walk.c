/* ta_ctl_walk, ta_ctl_info.bound and ta_arena_find through the public API:
 * the walk's errors, its keys (an index is its number, the merged arenas
 * TA_ARENAS_ALL), that it creates no arena, and the read-only getter. */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "tunalloc.h"

typedef struct seen {
    int depth, max_depth, opens, closes, values;
    bool arena_keys[TA_ARENAS_ALL + 1];
    bool named_index; /* an index component came with a name */
} seen_t;

static void on_open(void *opaque, const char *name, size_t index)
{
    seen_t *s = opaque;
    s->opens++;
    s->depth++;
    if (s->depth > s->max_depth)
        s->max_depth = s->depth;
    /* Under "stats.arenas", depth 1 members are the arena indexes. */
    if (s->depth == 1 && name == NULL && index <= TA_ARENAS_ALL)
        s->arena_keys[index] = true;
    if (s->depth == 1 && name != NULL)
        s->named_index = true;
}

static void on_close(void *opaque)
{
    seen_t *s = opaque;
    s->closes++;
    s->depth--;
}

static void on_value(void *opaque, const char *name, size_t index, ta_ctl_type type,
                     const ta_ctl_value *v)
{
    seen_t *s = opaque;
    (void)index;
    (void)v;
    s->values++;
    CHECK(name != NULL && type != TA_CTL_NODE && type != TA_CTL_ACTION);
}

static const ta_ctl_visitor visitor = {on_open, on_close, on_value};

static void test_errors(void)
{
    seen_t s = {0};
    CHECK_EQ(ta_ctl_walk(NULL, "", &visitor, &s), EFAULT);
    CHECK_EQ(ta_ctl_walk("stats", "", NULL, &s), EFAULT);
    ta_ctl_visitor partial = {on_open, NULL, on_value};
    CHECK_EQ(ta_ctl_walk("stats", "", &partial, &s), EFAULT);
    CHECK_EQ(ta_ctl_walk("stats.nothing", "", &visitor, &s), ENOENT);
    CHECK_EQ(ta_ctl_walk("stats.arenas.4095", "", &visitor, &s), ENOENT);
    CHECK_EQ(ta_ctl_walk("stats.allocated", "", &visitor, &s), EINVAL);
    CHECK_EQ(s.opens + s.values, 0);
}

/* Arena 1 is an automatic slot no thread has used when narenas:4. */
static void test_arena_keys_and_nothing_created(void)
{
    CHECK(ta_arena_find(1) == NULL);
    void *p = ta_malloc(100);
    seen_t s = {0};
    uint64_t one = 1;
    CHECK_EQ(ta_ctl("epoch", NULL, NULL, &one, sizeof one), 0);
    CHECK_EQ(ta_ctl_walk("stats.arenas", NULL, &visitor, &s), 0);
    CHECK(s.arena_keys[0] && s.arena_keys[TA_ARENAS_ALL]);
    CHECK(!s.arena_keys[1] && !s.named_index);
    CHECK_EQ(s.opens, s.closes);
    CHECK_EQ(s.depth, 0);
    CHECK(s.values > 0 && s.max_depth >= 3); /* arena, bins, a bin row */
    CHECK(ta_arena_find(1) == NULL);

    /* "b" and "l" leave out the class tables: two levels fewer. */
    seen_t flat = {0};
    CHECK_EQ(ta_ctl_walk("stats.arenas", "bl", &visitor, &flat), 0);
    CHECK_EQ(flat.max_depth, 2); /* arena, small/large */
    ta_free(p);

    ta_arena_t *a = ta_arena_get(1);
    CHECK(a != NULL && ta_arena_find(1) == a);
    CHECK(ta_arena_find(TA_ARENAS_ALL) == NULL);
}

static void test_bounds_in_the_enumeration(void)
{
    static const struct {
        const char *node, *bound;
    } rows[] = {
        {"stats.arenas", "arenas.narenas"},
        {"arena", "arenas.narenas"},
        {"stats.arenas.0.bins", "arenas.nbins"},
        {"stats.arenas.0.lextents", "arenas.nlextents"},
        {"arenas.bin", "arenas.nbins"},
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        ta_ctl_info info;
        CHECK_EQ(ta_ctl_child(rows[k].node, 0, &info), 0);
        CHECK(info.bound != NULL && strcmp(info.bound, rows[k].bound) == 0);
        unsigned n = 0;
        size_t len = sizeof n;
        CHECK_EQ(ta_ctl(info.bound, &n, &len, NULL, 0), 0);
        CHECK(n > 0);
    }
    ta_ctl_info named;
    CHECK_EQ(ta_ctl_child("stats", 0, &named), 0);
    CHECK(named.bound == NULL);
}

int main(void)
{
    if (setenv("TUNALLOC_CONF", "narenas:4", 1) != 0)
        return 1;
    test_errors();
    test_arena_keys_and_nothing_created();
    test_bounds_in_the_enumeration();
    return TEST_EXIT();
}
