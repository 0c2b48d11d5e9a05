/* Sampled heap profiling: off by default, sampling rate and estimates,
 * known sites through the frames hook and the C stack, frees leaving the
 * live profile, caches showing their stacks again when it stops, manual
 * arenas taking their sampled blocks with them, and the dumps. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tunalloc.h"

static const char *current_site;

static ta_tcache_t *expected_cache;

static int site_hook(void *ctx, ta_tcache_t *cache, ta_prof_frame *frames, int max)
{
    CHECK(ctx == &current_site);
    CHECK(cache == expected_cache);
    if (!current_site || max < 2)
        return 0;
    frames[0] = (ta_prof_frame){current_site, "sites.c", 42};
    frames[1] = (ta_prof_frame){"main", "sites.c", 7};
    return 2;
}

typedef struct site_sum {
    const char *site;
    uint64_t live_blocks, alloc_blocks;
    double live_bytes_est, alloc_bytes_est;
    unsigned stacks;
    uintptr_t lo, hi; /* a pc in [lo, hi) counts as seen */
    bool pc_seen;
} site_sum;

static int sum_site(void *arg, const ta_prof_stack *s)
{
    site_sum *sum = arg;
    bool mine = sum->site ? s->n_frames && !strcmp(s->frames[0].function, sum->site)
                          : s->n_frames == 0;
    if (!mine)
        return 0;
    sum->stacks++;
    sum->live_blocks += s->live_blocks;
    sum->alloc_blocks += s->alloc_blocks;
    sum->live_bytes_est += s->live_bytes_est;
    sum->alloc_bytes_est += s->alloc_bytes_est;
    for (unsigned k = 0; k < s->n_pcs; k++)
        if (s->pcs[k] >= sum->lo && s->pcs[k] < sum->hi)
            sum->pc_seen = true;
    return 0;
}

static site_sum read_site(const char *site)
{
    site_sum sum = {.site = site};
    CHECK_EQ(ta_prof_read(sum_site, &sum), 0);
    return sum;
}

static int set_bool(const char *name, bool v) { return ta_ctl(name, NULL, NULL, &v, sizeof(v)); }

static int set_size(const char *name, size_t v) { return ta_ctl(name, NULL, NULL, &v, sizeof(v)); }

static bool get_bool(const char *name)
{
    bool v = true;
    size_t len = sizeof(v);
    CHECK_EQ(ta_ctl(name, &v, &len, NULL, 0), 0);
    return v;
}

static uint64_t thread_net(void)
{
    uint64_t a = 0, d = 0;
    size_t len = sizeof(a);
    ta_ctl("thread.allocated", &a, &len, NULL, 0);
    ta_ctl("thread.deallocated", &d, &len, NULL, 0);
    return a - d;
}

static int count_any(void *arg, const ta_prof_stack *s)
{
    (void)s;
    ++*(int *)arg;
    return 0;
}

static void test_off_by_default(void)
{
    CHECK(!get_bool("opt.prof"));
    CHECK(!get_bool("prof.active"));
    void *p[1000];
    for (int i = 0; i < 1000; i++)
        p[i] = ta_malloc(4096);
    for (int i = 0; i < 1000; i++)
        ta_free(p[i]);
    int n = 0;
    CHECK_EQ(ta_prof_read(count_any, &n), 0);
    CHECK_EQ(n, 0);
}

/* Allocates n blocks of size at the named site; returns them. */
static void **alloc_at(const char *site, size_t size, size_t n)
{
    void **v = ta_malloc(n * sizeof(void *));
    current_site = site;
    for (size_t i = 0; i < n; i++) {
        v[i] = ta_malloc(size);
        memset(v[i], 0x5a, size); /* sampled blocks are ordinary memory */
    }
    current_site = NULL;
    return v;
}

static void free_all(void **v, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        ta_free(v[i]);
}

/* Estimates within 25% at ~300+ samples a site: a loose bound for a fixed
 * seed (the spread at this many samples is a few per cent). */
static void check_estimate(const char *site, size_t size, size_t n)
{
    site_sum s = read_site(site);
    void *probe = ta_malloc(size);
    double truth = (double)ta_malloc_usable_size(probe) * (double)n;
    ta_free(probe);
    CHECK(s.stacks >= 1);
    CHECK(s.live_blocks > 20);
    CHECK(s.live_bytes_est > truth * 0.75 && s.live_bytes_est < truth * 1.25);
    if (!(s.live_bytes_est > truth * 0.75 && s.live_bytes_est < truth * 1.25))
        fprintf(stderr, "%s: estimate %.0f, truth %.0f (%llu samples)\n", site, s.live_bytes_est,
                truth, (unsigned long long)s.live_blocks);
}

static void test_sampling_estimates(void)
{
    uint64_t seed = 12345, net0 = thread_net();
    CHECK_EQ(ta_ctl("prof.seed", NULL, NULL, &seed, sizeof(seed)), 0);
    CHECK_EQ(set_size("prof.sample_bytes", 16384), 0);
    ta_prof_set_frames_hook(site_hook, &current_site);
    CHECK_EQ(set_bool("prof.active", true), 0);
    CHECK(get_bool("prof.active"));
    void **small = alloc_at("small_site", 48, 100000);   /* 4.8 MB in 48 B */
    void **mid = alloc_at("mid_site", 1000, 5000);       /* 5 MB in 1 KiB */
    void **big = alloc_at("big_site", 100000, 50);       /* 5 MB in 100 KB */
    check_estimate("small_site", 48, 100000);
    check_estimate("mid_site", 1000, 5000);
    check_estimate("big_site", 100000, 50);
    site_sum before = read_site("small_site");
    free_all(small, 0, 50000);
    site_sum half = read_site("small_site");
    CHECK(half.live_blocks < before.live_blocks);
    CHECK(half.alloc_blocks == before.alloc_blocks);
    CHECK(half.live_bytes_est < before.live_bytes_est * 0.7);
    free_all(small, 50000, 100000);
    free_all(mid, 0, 5000);
    free_all(big, 0, 50);
    CHECK_EQ(read_site("small_site").live_blocks, 0);
    CHECK_EQ(read_site("mid_site").live_blocks, 0);
    CHECK_EQ(read_site("big_site").live_blocks, 0);
    CHECK(read_site("big_site").alloc_blocks > 0);
    CHECK_EQ(set_bool("prof.active", false), 0);
    ta_free(small);
    ta_free(mid);
    ta_free(big);
    ta_prof_set_frames_hook(NULL, NULL);
    /* the cache's hidden stacks came back: nothing lost, counts agree */
    CHECK_EQ(thread_net(), net0);
    void *p[600];
    for (int i = 0; i < 600; i++)
        p[i] = ta_malloc(48);
    for (int i = 0; i < 600; i++)
        ta_free(p[i]);
    CHECK_EQ(thread_net(), net0);
}

/* A site known by its code address: the C frames include it. */
__attribute__((noinline)) static void *c_site(size_t size)
{
    void *p = ta_malloc(size);
    __asm__ volatile("" ::: "memory");
    return p;
}

static void test_c_frames(void)
{
    CHECK_EQ(set_size("prof.sample_bytes", 4096), 0);
    CHECK_EQ(set_bool("prof.active", true), 0);
    void *v[2000];
    for (int i = 0; i < 2000; i++)
        v[i] = c_site(256);
    site_sum s = {.site = NULL, .lo = (uintptr_t)c_site, .hi = (uintptr_t)c_site + 64};
    CHECK_EQ(ta_prof_read(sum_site, &s), 0);
    CHECK(s.live_blocks > 10);
    CHECK(s.pc_seen);
    for (int i = 0; i < 2000; i++)
        ta_free(v[i]);
    CHECK_EQ(set_bool("prof.active", false), 0);
}

/* Blocks sampled through a cache of a manual arena live in the profiler's
 * arena; destroying the manual arena frees them too. */
static void test_manual_arena(void)
{
    CHECK_EQ(set_size("prof.sample_bytes", 4096), 0);
    ta_prof_set_frames_hook(site_hook, &current_site);
    CHECK_EQ(set_bool("prof.active", true), 0);
    ta_arena_t *a = ta_arena_create(NULL);
    ta_tcache_t *tc = ta_tcache_create(a);
    expected_cache = tc;
    current_site = "manual_site";
    for (int i = 0; i < 3000; i++)
        CHECK(ta_tcache_malloc(tc, 200) != NULL);
    current_site = NULL;
    expected_cache = NULL;
    CHECK(read_site("manual_site").live_blocks > 10);
    /* the arena's live blocks include its sampled ones, which live in
     * the profiler's arena: a host deciding whether the arena may go
     * must see them */
    ta_tcache_flush(tc);
    void *probe = ta_malloc(200);
    size_t usable = ta_malloc_usable_size(probe), blocks = 0, bytes = 0;
    ta_free(probe);
    CHECK_EQ(ta_arena_live(a, &blocks, &bytes), 0);
    CHECK_EQ(blocks, 3000);
    CHECK_EQ(bytes, 3000 * usable);
    ta_tcache_destroy(tc);
    CHECK_EQ(ta_arena_destroy(a), 0);
    CHECK_EQ(read_site("manual_site").live_blocks, 0);
    CHECK_EQ(set_bool("prof.active", false), 0);
    ta_prof_set_frames_hook(NULL, NULL);
}

/* A sampled block lives in the profiler's arena, outside the limit of
 * the arena it was asked of: sampling must not become a way past a hard
 * limit, whether the block is small or large, through an explicit cache
 * or the thread's bound arena. */
static void test_limit_holds_while_sampling(void)
{
    const size_t limit = 1 << 20;
    CHECK_EQ(set_size("prof.sample_bytes", 4096), 0);
    CHECK_EQ(set_bool("prof.active", true), 0);
    ta_arena_t *a = test_limited_arena(limit);
    ta_tcache_t *tc = ta_tcache_create(a);
    errno = 0;
    CHECK(ta_tcache_malloc(tc, 2 * limit) == NULL);
    CHECK_EQ(errno, ENOMEM);
    static void *blocks[1 << 13];
    size_t n = 0, bytes = 0;
    while (n < sizeof(blocks) / sizeof(blocks[0]) && (blocks[n] = ta_tcache_malloc(tc, 200))) {
        bytes += ta_malloc_usable_size(blocks[n]);
        n++;
    }
    CHECK(n < sizeof(blocks) / sizeof(blocks[0]));
    CHECK(bytes <= limit);
    for (size_t i = 0; i < n; i++)
        ta_tcache_free(tc, blocks[i]);
    ta_tcache_destroy(tc);
    unsigned idx = ta_arena_index(a), old = 0;
    size_t len = sizeof(old);
    CHECK_EQ(ta_ctl("thread.arena", &old, &len, &idx, sizeof(idx)), 0);
    errno = 0;
    void *big = ta_malloc(2 * limit);
    CHECK(big == NULL);
    ta_free(big);
    CHECK_EQ(ta_ctl("thread.arena", NULL, NULL, &old, sizeof(old)), 0);
    CHECK_EQ(ta_arena_destroy(a), 0);
    CHECK_EQ(set_bool("prof.active", false), 0);
}

/* A cache that stops sampling shows its stacks again with every block it
 * held: the miss that notices must take a held block, not refill over
 * them. */
static void test_stop_keeps_cached_blocks(void)
{
    ta_tcache_t *tc = ta_tcache_create(NULL);
    CHECK_EQ(set_size("prof.sample_bytes", 1 << 30), 0);
    CHECK_EQ(set_bool("prof.active", true), 0);
    void *v[200];
    for (int i = 0; i < 200; i++)
        v[i] = ta_tcache_malloc(tc, 64);
    for (int i = 0; i < 200; i++)
        ta_tcache_free(tc, v[i]);
    size_t held = ta_tcache_cached_bytes(tc);
    CHECK(held >= 200 * 64);
    CHECK_EQ(set_bool("prof.active", false), 0);
    void *p = ta_tcache_malloc(tc, 64);
    CHECK_EQ(ta_tcache_cached_bytes(tc), held - 64);
    ta_tcache_free(tc, p);
    CHECK_EQ(ta_tcache_cached_bytes(tc), held);
    ta_tcache_destroy(tc);
}

/* A runtime's sized calls on a cache of its own manual arena (the Lua
 * binding's way) while sampling: frees and class-moving resizes whose
 * blocks go onto the free side, sampled blocks that leave the profile, and every block
 * accounted for when the arena goes. */
static void test_sized_manual_cache(void)
{
    CHECK_EQ(set_size("prof.sample_bytes", 8192), 0);
    ta_prof_set_frames_hook(site_hook, &current_site);
    CHECK_EQ(set_bool("prof.active", true), 0);
    ta_arena_t *a = ta_arena_create(NULL);
    ta_tcache_t *own = ta_tcache_create(a);
    ta_sized_t sz = {own, NULL, own};
    expected_cache = sz.cache;
    enum { N = 4000 };
    static void *v[N];
    current_site = "sized_site";
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            v[i] = ta_sized_alloc(&sz, 40);
            CHECK(v[i] != NULL);
            memset(v[i], i & 0xff, 40);
        }
        for (int i = 0; i < N; i++) /* moves class: the old block is freed */
            v[i] = ta_sized_resize(&sz, v[i], 40, 100);
        for (int i = 0; i < N; i++) { /* the odd ones stay for the last round */
            CHECK(((unsigned char *)v[i])[39] == (i & 0xff));
            if (i % 2 == 0 || round < 2)
                ta_sized_free(&sz, v[i], 100);
        }
    }
    current_site = NULL;
    expected_cache = NULL;
    site_sum s = read_site("sized_site");
    CHECK(s.live_blocks > 5);
    CHECK(s.alloc_blocks > s.live_blocks);
    for (int i = 1; i < N; i += 2)
        ta_sized_free(&sz, v[i], 100);
    CHECK_EQ(read_site("sized_site").live_blocks, 0);
    ta_tcache_flush(sz.cache);
    size_t blocks = 1, bytes = 1;
    CHECK_EQ(ta_arena_live(a, &blocks, &bytes), 0);
    CHECK_EQ(blocks, 0);
    CHECK_EQ(bytes, 0);
    ta_tcache_destroy(sz.cache);
    CHECK_EQ(ta_arena_destroy(a), 0);
    CHECK_EQ(set_bool("prof.active", false), 0);
    ta_prof_set_frames_hook(NULL, NULL);
}

/* Sampled blocks of an explicit cache freed by each of its free calls,
 * while it samples and after sampling stopped, leave the live profile:
 * their frees miss the cache's stacks (the blocks are the profiler's
 * arena's) and must find the profile on the way. */
static void free_site(ta_tcache_t *tc, void **v, size_t n, int how)
{
    for (size_t i = 0; i < n; i++) {
        if (how == 0)
            ta_tcache_free(tc, v[i]);
        else if (how == 1)
            ta_tcache_free_sized(tc, v[i], 300);
        else
            CHECK_EQ(ta_tcache_free_if_owned(tc, v[i]), 1);
    }
}

static void test_tcache_frees_leave_profile(void)
{
    enum { N = 3000 };
    static void *v[N];
    CHECK_EQ(set_size("prof.sample_bytes", 8192), 0);
    ta_prof_set_frames_hook(site_hook, &current_site);
    ta_arena_t *a = ta_arena_create(NULL);
    for (int how = 0; how < 3; how++) {
        for (int stop_first = 0; stop_first < 2; stop_first++) {
            ta_tcache_t *tc = ta_tcache_create(stop_first ? NULL : a);
            CHECK_EQ(set_bool("prof.active", true), 0);
            expected_cache = tc;
            current_site = "tcache_free_site";
            for (int i = 0; i < N; i++)
                v[i] = ta_tcache_malloc(tc, 300);
            current_site = NULL;
            expected_cache = NULL;
            CHECK(read_site("tcache_free_site").live_blocks > 20);
            if (stop_first)
                CHECK_EQ(set_bool("prof.active", false), 0);
            free_site(tc, v, N, how);
            CHECK_EQ(read_site("tcache_free_site").live_blocks, 0);
            CHECK_EQ(set_bool("prof.active", false), 0);
            ta_tcache_destroy(tc);
        }
    }
    CHECK_EQ(ta_arena_destroy(a), 0);
    ta_prof_set_frames_hook(NULL, NULL);
}

static char dir[64];

static void test_dumps(void)
{
    CHECK_EQ(set_size("prof.sample_bytes", 8192), 0);
    ta_prof_set_frames_hook(site_hook, &current_site);
    CHECK_EQ(set_bool("prof.active", true), 0);
    void **keep = alloc_at("dump_site", 512, 4000);
    CHECK_EQ(set_bool("prof.active", false), 0);
    char path[128], folded[128];
    snprintf(path, sizeof(path), "%s/heap.pb.gz", dir);
    snprintf(folded, sizeof(folded), "%s/heap.folded", dir);
    const char *pp = path, *fp = folded;
    CHECK_EQ(ta_ctl("prof.dump", NULL, NULL, &pp, sizeof(pp)), 0);
    CHECK_EQ(ta_ctl("prof.dump_folded", NULL, NULL, &fp, sizeof(fp)), 0);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        unsigned char h[3] = {0};
        CHECK_EQ(fread(h, 1, 3, f), 3);
        CHECK(h[0] == 0x1f && h[1] == 0x8b && h[2] == 8);
        fclose(f);
    }
    f = fopen(folded, "r");
    CHECK(f != NULL);
    if (f) {
        char line[512];
        bool found = false;
        while (fgets(line, sizeof(line), f))
            if (!strncmp(line, "main@sites.c:7;dump_site@sites.c:42 ", 36))
                found = atol(line + 36) > 1000000;
        CHECK(found);
        fclose(f);
    }
    free_all(keep, 0, 4000);
    ta_free(keep);
    ta_prof_set_frames_hook(NULL, NULL);
}

static void test_errors(void)
{
    CHECK_EQ(set_size("prof.sample_bytes", 0), EINVAL);
    CHECK_EQ(ta_prof_dump("/tmp/x", "svg"), EINVAL);
    CHECK_EQ(ta_prof_dump(NULL, "pprof"), EINVAL);
    CHECK_EQ(ta_prof_dump("/nonexistent-dir/heap.pb.gz", "pprof"), ENOENT);
    CHECK_EQ(ta_ctl("prof.dump", NULL, NULL, NULL, 0), EINVAL);
    const char *none = NULL;
    CHECK_EQ(ta_ctl("prof.dump", NULL, NULL, &none, sizeof(none)), EINVAL);
    CHECK_EQ(ta_prof_read(NULL, NULL), EINVAL);
    bool v;
    size_t len = sizeof(v);
    CHECK_EQ(ta_ctl("prof.dump", &v, &len, NULL, 0), EPERM);
}

int main(void)
{
    const char *keep = getenv("TEST_PROF_DIR");
    if (keep) {
        snprintf(dir, sizeof(dir), "%s", keep);
    } else {
        snprintf(dir, sizeof(dir), "/tmp/test_prof_XXXXXX");
        if (!mkdtemp(dir))
            return 1;
    }
    RUN(test_off_by_default);
    RUN(test_sampling_estimates);
    RUN(test_c_frames);
    RUN(test_manual_arena);
    RUN(test_limit_holds_while_sampling);
    RUN(test_stop_keeps_cached_blocks);
    RUN(test_sized_manual_cache);
    RUN(test_tcache_frees_leave_profile);
    RUN(test_dumps);
    RUN(test_errors);
    if (!keep) {
        char p[128];
        snprintf(p, sizeof(p), "%s/heap.pb.gz", dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/heap.folded", dir);
        unlink(p);
        rmdir(dir);
    }
    return TEST_EXIT();
}
