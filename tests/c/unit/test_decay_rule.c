/* Unit test of opts.h (tai_decay_ms_valid) and conf.c.
 * One rule for decay times at every entry point: TUNALLOC_CONF,
 * arenas.* and arena.<i>.* writes, and ta_arena_create accept -1 up to
 * TA_DECAY_MS_MAX and refuse everything else, the same values alike. */
#include <errno.h>
#include <stdio.h>
#include <sys/types.h>

#include "conf.h"
#include "harness.h"

static const int64_t accepted[] = {-1, 0, 1, 10000, TA_DECAY_MS_MAX};
static const int64_t refused[] = {-2, INT64_MIN + 1, TA_DECAY_MS_MAX + 1, INT64_MAX};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ta_arena_create's answer for the value as either decay time: 0 when it
 * made an arena (destroyed again), else errno. */
static int create_with(int64_t dirty, int64_t muzzy)
{
    ta_arena_opts o;
    ta_arena_opts_init(&o);
    o.dirty_decay_ms = dirty;
    o.muzzy_decay_ms = muzzy;
    errno = 0;
    ta_arena_t *a = ta_arena_create(&o);
    if (!a)
        return errno;
    CHECK_EQ(ta_arena_destroy(a), 0);
    return 0;
}

static void test_arena_create(void)
{
    for (size_t i = 0; i < COUNT(accepted); i++) {
        CHECK_EQ(create_with(accepted[i], TA_DECAY_DEFAULT), 0);
        CHECK_EQ(create_with(TA_DECAY_DEFAULT, accepted[i]), 0);
    }
    for (size_t i = 0; i < COUNT(refused); i++) {
        CHECK_EQ(create_with(refused[i], TA_DECAY_DEFAULT), EINVAL);
        CHECK_EQ(create_with(TA_DECAY_DEFAULT, refused[i]), EINVAL);
    }
    CHECK_EQ(create_with(TA_DECAY_DEFAULT, TA_DECAY_DEFAULT), 0);
}

/* A write of v to name; the value read back is v on success and
 * unchanged on refusal. */
static int ctl_write(const char *name, int64_t v)
{
    ssize_t before = 0, after = 0, nv = (ssize_t)v;
    size_t len = sizeof(before);
    CHECK_EQ(ta_ctl(name, &before, &len, NULL, 0), 0);
    int err = ta_ctl(name, NULL, NULL, &nv, sizeof(nv));
    CHECK_EQ(ta_ctl(name, &after, &len, NULL, 0), 0);
    CHECK_EQ(after, err ? before : nv);
    return err;
}

static void test_ctl_writes(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    CHECK(a != NULL);
    char names[4][64];
    snprintf(names[0], sizeof(names[0]), "arenas.dirty_decay_ms");
    snprintf(names[1], sizeof(names[1]), "arenas.muzzy_decay_ms");
    snprintf(names[2], sizeof(names[2]), "arena.%u.dirty_decay_ms", ta_arena_index(a));
    snprintf(names[3], sizeof(names[3]), "arena.%u.muzzy_decay_ms", ta_arena_index(a));
    for (int n = 0; n < 4; n++) {
        ssize_t orig = 0;
        size_t len = sizeof(orig);
        CHECK_EQ(ta_ctl(names[n], &orig, &len, NULL, 0), 0);
        for (size_t i = 0; i < COUNT(accepted); i++)
            CHECK_EQ(ctl_write(names[n], accepted[i]), 0);
        for (size_t i = 0; i < COUNT(refused); i++)
            CHECK_EQ(ctl_write(names[n], refused[i]), EINVAL);
        CHECK_EQ(ta_ctl(names[n], NULL, NULL, &orig, sizeof(orig)), 0);
    }
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* What arenas.dirty_decay_ms accepts, new arenas start with. */
static void test_default_reaches_new_arenas(void)
{
    ssize_t orig = 0, v = TA_DECAY_MS_MAX, got = 0;
    size_t len = sizeof(orig);
    CHECK_EQ(ta_ctl("arenas.dirty_decay_ms", &orig, &len, &v, sizeof(v)), 0);
    ta_arena_t *a = ta_arena_create(NULL);
    CHECK(a != NULL);
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", ta_arena_index(a));
    CHECK_EQ(ta_ctl(name, &got, &len, NULL, 0), 0);
    CHECK_EQ(got, TA_DECAY_MS_MAX);
    CHECK_EQ(ta_arena_destroy(a), 0);
    CHECK_EQ(ta_ctl("arenas.dirty_decay_ms", NULL, NULL, &orig, sizeof(orig)), 0);
}

static void test_conf(void)
{
    char text[96];
    for (size_t i = 0; i < COUNT(accepted); i++) {
        tai_opts_t o = {.dirty_decay_ms = 7, .muzzy_decay_ms = 7};
        snprintf(text, sizeof(text), "dirty_decay_ms:%lld,muzzy_decay_ms:%lld",
                 (long long)accepted[i], (long long)accepted[i]);
        CHECK_EQ(tai_conf_parse(&o, text, "test"), 0);
        CHECK_EQ(o.dirty_decay_ms, accepted[i]);
        CHECK_EQ(o.muzzy_decay_ms, accepted[i]);
    }
    for (size_t i = 0; i < COUNT(refused); i++) {
        tai_opts_t o = {.dirty_decay_ms = 7, .muzzy_decay_ms = 7};
        snprintf(text, sizeof(text), "dirty_decay_ms:%lld,muzzy_decay_ms:%lld",
                 (long long)refused[i], (long long)refused[i]);
        CHECK_EQ(tai_conf_parse(&o, text, "test (a warning is expected)"), 2);
        CHECK_EQ(o.dirty_decay_ms, 7);
        CHECK_EQ(o.muzzy_decay_ms, 7);
    }
}

int main(void)
{
    RUN(test_arena_create);
    RUN(test_ctl_writes);
    RUN(test_default_reaches_new_arenas);
    RUN(test_conf);
    return TEST_EXIT();
}
