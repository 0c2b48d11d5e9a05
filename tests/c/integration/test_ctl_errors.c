/* Every error return of the control API: unknown and malformed names,
 * NULL pointers, wrong and absurd lengths, mode misuse, bad values and
 * indexes that name nothing. Each call must fail cleanly, never crash. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "harness.h"
#include "tunalloc.h"

static int read_size(const char *name, size_t *v)
{
    size_t len = sizeof(*v);
    return ta_ctl(name, v, &len, NULL, 0);
}

static unsigned create_arena(void)
{
    unsigned i = 0;
    size_t len = sizeof(i);
    CHECK_EQ(ta_ctl("arenas.create", &i, &len, NULL, 0), 0);
    return i;
}

static int arena_action(unsigned i, const char *what)
{
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.%s", i, what);
    return ta_ctl(name, NULL, NULL, NULL, 0);
}

static void test_unknown_names(void)
{
    static const char *bad[] = {
        "", "nope", "version.", ".version", "arenas..narenas", "arenas.narenas.",
        "arena", "arena.0", "stats", "stats.arenas", "stats.arenas.0.bins.0",
        "arena.99999999999999999999999999999.purge", "arena.-1.purge", "arena.+0.purge",
        "arena. 0.purge", "arena.0x1.purge", "arena.4097.purge", "arena.4095.purge",
        "arenas.bin.36.size", "arenas.lextent.132.size", "stats.arenas.0.bins.36.nmalloc",
        "stats.arenas.0.lextents.132.nmalloc", "stats.arenas.0.bins.0.nmalloc.x",
        "Version", "versionx", "stats.allocated.", "thread.peak", "arena.<i>.purge",
        "stats.arenas.18446744073709551616.pactive",
    };
    size_t v;
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        int rc = read_size(bad[k], &v);
        if (rc != ENOENT)
            fprintf(stderr, "name \"%s\" gave %d\n", bad[k], rc);
        CHECK_EQ(rc, ENOENT);
    }
    CHECK_EQ(ta_ctl(NULL, NULL, NULL, NULL, 0), EFAULT);
}

/* A name far longer than any buffer a parser might keep on the stack. */
static void test_huge_name(void)
{
    static char name[1 << 20];
    memset(name, 'a', sizeof(name) - 1);
    size_t v;
    CHECK_EQ(read_size(name, &v), ENOENT);
    memcpy(name, "arena.", 6);
    memset(name + 6, '9', sizeof(name) - 7);
    CHECK_EQ(read_size(name, &v), ENOENT);
    memset(name, '.', sizeof(name) - 1);
    CHECK_EQ(read_size(name, &v), ENOENT);
}

static void test_lengths(void)
{
    size_t v = 0, len;
    size_t bad_lens[] = {0, 1, sizeof(v) - 1, sizeof(v) + 1, SIZE_MAX};
    for (size_t k = 0; k < sizeof(bad_lens) / sizeof(bad_lens[0]); k++) {
        len = bad_lens[k];
        CHECK_EQ(ta_ctl("stats.allocated", &v, &len, NULL, 0), EINVAL);
        CHECK_EQ(len, bad_lens[k]);
    }
    CHECK_EQ(ta_ctl("stats.allocated", &v, NULL, NULL, 0), EFAULT);
    len = 12345;
    CHECK_EQ(ta_ctl("stats.allocated", NULL, &len, NULL, 0), 0);
    CHECK_EQ(len, sizeof(size_t));
    len = 0;
    CHECK_EQ(ta_ctl("opt.background_thread", NULL, &len, NULL, 0), 0);
    CHECK_EQ(len, sizeof(bool));
    len = 0;
    CHECK_EQ(ta_ctl("arenas.lookup", NULL, &len, NULL, 0), 0);
    CHECK_EQ(len, sizeof(unsigned));

    ssize_t d = 1000;
    CHECK_EQ(ta_ctl("arenas.dirty_decay_ms", NULL, NULL, &d, sizeof(d) - 1), EINVAL);
    CHECK_EQ(ta_ctl("arenas.dirty_decay_ms", NULL, NULL, &d, SIZE_MAX), EINVAL);
    CHECK_EQ(ta_ctl("arenas.dirty_decay_ms", NULL, NULL, NULL, sizeof(d)), EFAULT);
    CHECK_EQ(ta_ctl("arenas.dirty_decay_ms", NULL, NULL, &d, 0), EINVAL);
    uint64_t e = 1;
    CHECK_EQ(ta_ctl("epoch", NULL, NULL, &e, sizeof(e) + 1), EINVAL);
}

/* Values land through memcpy, so an odd address is fine. */
static void test_unaligned_buffers(void)
{
    unsigned char buf[sizeof(size_t) + 1];
    size_t len = sizeof(size_t), page;
    CHECK_EQ(ta_ctl("arenas.page", buf + 1, &len, NULL, 0), 0);
    memcpy(&page, buf + 1, sizeof(page));
    CHECK(page >= 4096 && (page & (page - 1)) == 0);
}

static void test_modes(void)
{
    size_t v = 0;
    size_t len = sizeof(v);
    CHECK_EQ(ta_ctl("stats.allocated", NULL, NULL, &v, sizeof(v)), EPERM);
    CHECK_EQ(ta_ctl("arenas.page", NULL, NULL, &v, sizeof(v)), EPERM);
    CHECK_EQ(ta_ctl("opt.arena_limit", NULL, NULL, &v, sizeof(v)), EPERM);
    const char *s = "x";
    CHECK_EQ(ta_ctl("version", NULL, NULL, &s, sizeof(s)), EPERM);
    unsigned u = 0;
    len = sizeof(u);
    CHECK_EQ(ta_ctl("tcache.flush", &u, &len, NULL, 0), EPERM);
    CHECK_EQ(ta_ctl("tcache.destroy", NULL, &len, NULL, 0), EPERM);
    len = sizeof(u);
    CHECK_EQ(ta_ctl("arena.0.purge", &u, &len, NULL, 0), EPERM);
    CHECK_EQ(ta_ctl("arena.0.purge", NULL, NULL, &u, sizeof(u)), EINVAL);
    CHECK_EQ(ta_ctl("thread.tcache.flush", NULL, NULL, &u, sizeof(u)), EINVAL);
    CHECK_EQ(ta_ctl("arena.0.purge", NULL, NULL, NULL, 0), 0);
}

static void test_bad_values(void)
{
    ssize_t bad[] = {-2, INT64_MIN, INT64_MAX, INT64_MAX / 2 + 1};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        CHECK_EQ(ta_ctl("arena.0.dirty_decay_ms", NULL, NULL, &bad[k], sizeof(ssize_t)), EINVAL);
        CHECK_EQ(ta_ctl("arena.0.muzzy_decay_ms", NULL, NULL, &bad[k], sizeof(ssize_t)), EINVAL);
        CHECK_EQ(ta_ctl("arenas.dirty_decay_ms", NULL, NULL, &bad[k], sizeof(ssize_t)), EINVAL);
        CHECK_EQ(ta_ctl("arenas.muzzy_decay_ms", NULL, NULL, &bad[k], sizeof(ssize_t)), EINVAL);
    }
    ssize_t ok = INT64_MAX / 2, old = 0;
    size_t len = sizeof(old);
    CHECK_EQ(ta_ctl("arena.0.muzzy_decay_ms", &old, &len, &ok, sizeof(ok)), 0);
    CHECK_EQ(ta_ctl("arena.0.muzzy_decay_ms", NULL, NULL, &old, sizeof(old)), 0);
    CHECK_EQ(ta_ctl("arena.4096.dirty_decay_ms", NULL, NULL, &ok, sizeof(ok)), EFAULT);
    size_t lim = 0;
    CHECK_EQ(ta_ctl("arena.4096.limit", NULL, NULL, &lim, sizeof(lim)), EFAULT);

    unsigned idx;
    len = sizeof(idx);
    void *p = NULL;
    CHECK_EQ(ta_ctl("arenas.lookup", &idx, &len, &p, sizeof(p)), EINVAL);
    p = &idx;
    CHECK_EQ(ta_ctl("arenas.lookup", &idx, &len, &p, sizeof(p)), EINVAL);
    CHECK_EQ(ta_ctl("arenas.lookup", &idx, &len, NULL, 0), EINVAL);
}

static void test_bad_indexes(void)
{
    unsigned big[] = {4096, 4095, 100000, UINT32_MAX};
    for (size_t k = 0; k < sizeof(big) / sizeof(big[0]); k++) {
        CHECK_EQ(ta_ctl("thread.arena", NULL, NULL, &big[k], sizeof(unsigned)), EFAULT);
        CHECK_EQ(ta_ctl("tcache.flush", NULL, NULL, &big[k], sizeof(unsigned)), EFAULT);
        CHECK_EQ(ta_ctl("tcache.destroy", NULL, NULL, &big[k], sizeof(unsigned)), EFAULT);
    }
    CHECK_EQ(ta_ctl("tcache.flush", NULL, NULL, NULL, 0), EFAULT);
    unsigned tc;
    size_t len = sizeof(tc);
    CHECK_EQ(ta_ctl("tcache.create", &tc, &len, NULL, 0), 0);
    CHECK_EQ(ta_ctl("tcache.destroy", NULL, NULL, &tc, sizeof(tc)), 0);
    CHECK_EQ(ta_ctl("tcache.destroy", NULL, NULL, &tc, sizeof(tc)), EFAULT);
    CHECK_EQ(ta_ctl("tcache.flush", NULL, NULL, &tc, sizeof(tc)), EFAULT);

    CHECK_EQ(arena_action(4096, "reset"), EFAULT);
    CHECK_EQ(arena_action(4096, "destroy"), EFAULT);
    CHECK_EQ(arena_action(0, "reset"), EPERM);
    CHECK_EQ(arena_action(0, "destroy"), EPERM);
    CHECK_EQ(arena_action(4096, "purge"), 0);
    CHECK_EQ(arena_action(4096, "decay"), 0);
    size_t v;
    CHECK_EQ(read_size("stats.arenas.4096.peak", &v), ENOENT);
}

/* A destroyed arena's index stays a valid name but names no arena. */
static void test_destroyed_arena(void)
{
    unsigned i = create_arena();
    CHECK_EQ(ta_ctl("thread.arena", NULL, NULL, &i, sizeof(i)), 0);
    CHECK_EQ(arena_action(i, "destroy"), EBUSY);
    unsigned zero = 0;
    CHECK_EQ(ta_ctl("thread.arena", NULL, NULL, &zero, sizeof(zero)), 0);
    CHECK_EQ(arena_action(i, "destroy"), 0);
    CHECK_EQ(arena_action(i, "destroy"), EFAULT);
    CHECK_EQ(arena_action(i, "reset"), EFAULT);
    CHECK_EQ(arena_action(i, "purge"), EFAULT);
    CHECK_EQ(arena_action(i, "decay"), EFAULT);
    char name[64];
    ssize_t d;
    size_t len = sizeof(d);
    snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", i);
    CHECK_EQ(ta_ctl(name, &d, &len, NULL, 0), EFAULT);
    snprintf(name, sizeof(name), "arena.%u.limit", i);
    CHECK_EQ(ta_ctl(name, &d, &len, NULL, 0), EFAULT);
    CHECK_EQ(ta_ctl("thread.arena", NULL, NULL, &i, sizeof(i)), EFAULT);
    uint64_t e = 1;
    CHECK_EQ(ta_ctl("epoch", NULL, NULL, &e, sizeof(e)), 0);
    size_t v;
    snprintf(name, sizeof(name), "stats.arenas.%u.pactive", i);
    CHECK_EQ(read_size(name, &v), ENOENT);
    snprintf(name, sizeof(name), "stats.arenas.%u.bins.0.curregs", i);
    CHECK_EQ(read_size(name, &v), ENOENT);
}

static void test_nametomib(void)
{
    size_t mib[8], len = 8;
    CHECK_EQ(ta_ctl_nametomib(NULL, mib, &len), EFAULT);
    CHECK_EQ(ta_ctl_nametomib("version", NULL, &len), EFAULT);
    CHECK_EQ(ta_ctl_nametomib("version", mib, NULL), EFAULT);
    len = 8;
    CHECK_EQ(ta_ctl_nametomib("", mib, &len), ENOENT);
    len = 8;
    CHECK_EQ(ta_ctl_nametomib("arena.0.", mib, &len), ENOENT);
    len = 2;
    CHECK_EQ(ta_ctl_nametomib("stats.arenas.0.pactive", mib, &len), ENOENT);
    CHECK_EQ(len, 2);
    len = 0;
    CHECK_EQ(ta_ctl_nametomib("version", mib, &len), ENOENT);
    len = SIZE_MAX;
    CHECK_EQ(ta_ctl_nametomib("stats.arenas.0.pactive", mib, &len), 0);
    CHECK_EQ(len, 4);
}

static void test_bymib(void)
{
    size_t mib[8], len = 8, v;
    size_t vlen = sizeof(v);
    CHECK_EQ(ta_ctl_bymib(NULL, 3, &v, &vlen, NULL, 0), EFAULT);
    CHECK_EQ(ta_ctl_bymib(mib, 0, &v, &vlen, NULL, 0), ENOENT);
    CHECK_EQ(ta_ctl_nametomib("stats.arenas.0.pactive", mib, &len), 0);
    CHECK_EQ(ta_ctl_bymib(mib, 4, &v, &vlen, NULL, 0), 0);
    CHECK_EQ(ta_ctl_bymib(mib, 3, &v, &vlen, NULL, 0), ENOENT);
    CHECK_EQ(ta_ctl_bymib(mib, 100, &v, &vlen, NULL, 0), ENOENT);
    CHECK_EQ(ta_ctl_bymib(mib, SIZE_MAX, &v, &vlen, NULL, 0), ENOENT);
    size_t saved = mib[2];
    mib[2] = 4097;
    CHECK_EQ(ta_ctl_bymib(mib, 4, &v, &vlen, NULL, 0), ENOENT);
    mib[2] = SIZE_MAX;
    CHECK_EQ(ta_ctl_bymib(mib, 4, &v, &vlen, NULL, 0), ENOENT);
    mib[2] = saved;
    mib[3] = 9999;
    CHECK_EQ(ta_ctl_bymib(mib, 4, &v, &vlen, NULL, 0), ENOENT);
    mib[0] = SIZE_MAX;
    CHECK_EQ(ta_ctl_bymib(mib, 4, &v, &vlen, NULL, 0), ENOENT);
}

static void test_child_errors(void)
{
    ta_ctl_info info;
    CHECK_EQ(ta_ctl_child(NULL, 0, &info), EFAULT);
    CHECK_EQ(ta_ctl_child("", 0, NULL), EFAULT);
    CHECK_EQ(ta_ctl_child("nope", 0, &info), ENOENT);
    CHECK_EQ(ta_ctl_child("version", 0, &info), ENOENT);
    CHECK_EQ(ta_ctl_child("", SIZE_MAX, &info), ENOENT);
    CHECK_EQ(ta_ctl_child("arena", 1, &info), ENOENT);
    CHECK_EQ(ta_ctl_child("arena.", 0, &info), ENOENT);
    CHECK_EQ(ta_ctl_child("arena.4097", 0, &info), ENOENT);
    CHECK_EQ(ta_ctl_child("arenas.<j>", 0, &info), ENOENT);
}

int main(void)
{
    RUN(test_unknown_names);
    RUN(test_huge_name);
    RUN(test_lengths);
    RUN(test_unaligned_buffers);
    RUN(test_modes);
    RUN(test_bad_values);
    RUN(test_bad_indexes);
    RUN(test_destroyed_arena);
    RUN(test_nametomib);
    RUN(test_bymib);
    RUN(test_child_errors);
    return TEST_EXIT();
}
