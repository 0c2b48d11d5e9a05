/* The control namespace on one thread: every group of names works, and the
 * statistics are true (allocated equals the usable sizes of live blocks,
 * allocated <= active <= mapped, bins add up to the small totals). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "harness.h"
#include "tunalloc.h"

#define ALL 4096u

static uint64_t rd_u64(const char *fmt, unsigned a, unsigned b)
{
    char name[128];
    snprintf(name, sizeof(name), fmt, a, b);
    size_t len = 0;
    CHECK_EQ(ta_ctl(name, NULL, &len, NULL, 0), 0);
    uint64_t v64 = 0;
    size_t vz = 0;
    unsigned vu = 0;
    int rc;
    if (len == sizeof(unsigned)) {
        rc = ta_ctl(name, &vu, &len, NULL, 0);
        v64 = vu;
    } else {
        rc = ta_ctl(name, &vz, &len, NULL, 0);
        v64 = vz;
    }
    if (rc)
        fprintf(stderr, "reading %s: %d\n", name, rc);
    CHECK_EQ(rc, 0);
    return v64;
}

static void refresh(void)
{
    uint64_t e = 1;
    CHECK_EQ(ta_ctl("epoch", NULL, NULL, &e, sizeof(e)), 0);
}

static unsigned new_arena(void)
{
    unsigned i = 0;
    size_t len = sizeof(i);
    CHECK_EQ(ta_ctl("arenas.create", &i, &len, NULL, 0), 0);
    return i;
}

static void set_ssize(const char *fmt, unsigned i, ssize_t v)
{
    char name[128];
    snprintf(name, sizeof(name), fmt, i);
    CHECK_EQ(ta_ctl(name, NULL, NULL, &v, sizeof(v)), 0);
}

static int action(const char *fmt, unsigned i)
{
    char name[128];
    snprintf(name, sizeof(name), fmt, i);
    return ta_ctl(name, NULL, NULL, NULL, 0);
}

static void test_constants(void)
{
    const char *v = NULL;
    size_t len = sizeof(v);
    CHECK_EQ(ta_ctl("version", &v, &len, NULL, 0), 0);
    CHECK(v != NULL && strcmp(v, TA_VERSION) == 0);
    CHECK_EQ(rd_u64("arenas.page", 0, 0), sysconf(_SC_PAGESIZE));
    CHECK_EQ(rd_u64("arenas.quantum", 0, 0), 16);
    unsigned nbins = (unsigned)rd_u64("arenas.nbins", 0, 0);
    unsigned nlext = (unsigned)rd_u64("arenas.nlextents", 0, 0);
    CHECK(nbins > 0 && nlext > 0);
    uint64_t page = rd_u64("arenas.page", 0, 0), prev = 0;
    for (unsigned j = 0; j < nbins; j++) {
        uint64_t size = rd_u64("arenas.bin.%u.size", j, 0);
        uint64_t nregs = rd_u64("arenas.bin.%u.nregs", j, 0);
        uint64_t slab = rd_u64("arenas.bin.%u.slab_size", j, 0);
        CHECK(size > prev && size % 16 == 0);
        CHECK(slab % page == 0 && nregs * size <= slab && (nregs + 1) * size > slab);
        prev = size;
    }
    for (unsigned j = 0; j < nlext; j++) {
        uint64_t size = rd_u64("arenas.lextent.%u.size", j, 0);
        CHECK(size > prev);
        prev = size;
    }
    CHECK(rd_u64("arenas.narenas", 0, 0) >= 1);
    CHECK(rd_u64("arenas.tcache_max", 0, 0) >= rd_u64("arenas.bin.%u.size", nbins - 1, 0));
}

/* Blocks of a manual arena bypass thread caches, so its counters are exact
 * without flushing; usable sizes come from the allocator itself. */
static void test_manual_arena_identities(void)
{
    unsigned i = new_arena();
    ta_arena_t *a = ta_arena_get(i);
    CHECK(a != NULL);
    static const size_t sizes[] = {1, 8, 17, 100, 511, 4000, 9000, TEST_SMALL_MAX,
                                   TEST_SMALL_MAX + 1, 40000, 300000, 3 << 20};
    enum { N = sizeof(sizes) / sizeof(sizes[0]), ROUNDS = 7 };
    void *blocks[N * ROUNDS];
    uint64_t live = 0;
    for (unsigned r = 0; r < ROUNDS; r++)
        for (unsigned k = 0; k < N; k++) {
            void *p = ta_arena_malloc(a, sizes[k]);
            CHECK(p != NULL);
            blocks[r * N + k] = p;
            live += ta_malloc_usable_size(p);
        }
    for (unsigned k = 0; k < N * ROUNDS; k += 3) {
        live -= ta_malloc_usable_size(blocks[k]);
        ta_free(blocks[k]);
        blocks[k] = NULL;
    }
    refresh();
    uint64_t small = rd_u64("stats.arenas.%u.small.allocated", i, 0);
    uint64_t large = rd_u64("stats.arenas.%u.large.allocated", i, 0);
    CHECK_EQ(small + large, live);
    uint64_t page = rd_u64("arenas.page", 0, 0);
    uint64_t active = rd_u64("stats.arenas.%u.pactive", i, 0) * page;
    CHECK(small + large <= active);
    CHECK(active <= rd_u64("stats.arenas.%u.mapped", i, 0));

    unsigned nbins = (unsigned)rd_u64("arenas.nbins", 0, 0);
    uint64_t sum_alloc = 0, sum_nmalloc = 0, sum_ndalloc = 0, sum_req = 0;
    for (unsigned j = 0; j < nbins; j++) {
        uint64_t cur = rd_u64("stats.arenas.%u.bins.%u.curregs", i, j);
        uint64_t nm = rd_u64("stats.arenas.%u.bins.%u.nmalloc", i, j);
        uint64_t nd = rd_u64("stats.arenas.%u.bins.%u.ndalloc", i, j);
        CHECK_EQ(nm - nd, cur);
        sum_alloc += cur * rd_u64("arenas.bin.%u.size", j, 0);
        sum_nmalloc += nm;
        sum_ndalloc += nd;
        sum_req += rd_u64("stats.arenas.%u.bins.%u.nrequests", i, j);
    }
    CHECK_EQ(sum_alloc, small);
    CHECK_EQ(sum_nmalloc, rd_u64("stats.arenas.%u.small.nmalloc", i, 0));
    CHECK_EQ(sum_ndalloc, rd_u64("stats.arenas.%u.small.ndalloc", i, 0));
    CHECK_EQ(sum_req, rd_u64("stats.arenas.%u.small.nrequests", i, 0));

    unsigned nlext = (unsigned)rd_u64("arenas.nlextents", 0, 0);
    uint64_t lsum = 0, lcount = 0;
    for (unsigned j = 0; j < nlext; j++) {
        uint64_t cur = rd_u64("stats.arenas.%u.lextents.%u.curlextents", i, j);
        lsum += cur * rd_u64("arenas.lextent.%u.size", j, 0);
        lcount += rd_u64("stats.arenas.%u.lextents.%u.nmalloc", i, j);
    }
    CHECK_EQ(lsum, large);
    CHECK_EQ(lcount, rd_u64("stats.arenas.%u.large.nmalloc", i, 0));
    CHECK(rd_u64("stats.arenas.%u.peak", i, 0) >= active);

    for (unsigned k = 0; k < N * ROUNDS; k++)
        ta_free(blocks[k]);
    refresh();
    CHECK_EQ(rd_u64("stats.arenas.%u.small.allocated", i, 0), 0);
    CHECK_EQ(rd_u64("stats.arenas.%u.large.allocated", i, 0), 0);
    CHECK_EQ(action("arena.%u.destroy", i), 0);
}

/* Process totals move by exactly the live usable bytes once the thread's
 * cache is flushed, and keep allocated <= active <= mapped. */
static void test_global_identities(void)
{
    CHECK_EQ(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    refresh();
    uint64_t before = rd_u64("stats.allocated", 0, 0);
    void *blocks[200];
    uint64_t live = 0;
    for (unsigned k = 0; k < 200; k++) {
        blocks[k] = ta_malloc(24 + k * 97);
        live += ta_malloc_usable_size(blocks[k]);
    }
    CHECK_EQ(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    refresh();
    uint64_t allocated = rd_u64("stats.allocated", 0, 0);
    CHECK_EQ(allocated - before, live);
    uint64_t active = rd_u64("stats.active", 0, 0);
    uint64_t mapped = rd_u64("stats.mapped", 0, 0);
    CHECK(allocated <= active && active <= mapped);
    CHECK(rd_u64("stats.resident", 0, 0) >= active);
    CHECK(rd_u64("stats.metadata", 0, 0) > 0);
    (void)rd_u64("stats.retained", 0, 0);

    unsigned n = (unsigned)rd_u64("arenas.narenas", 0, 0);
    uint64_t small = 0, large = 0, pactive = 0, curregs0 = 0;
    for (unsigned i = 0; i < n; i++) {
        char name[64];
        size_t v, len = sizeof(v);
        snprintf(name, sizeof(name), "stats.arenas.%u.small.allocated", i);
        if (ta_ctl(name, &v, &len, NULL, 0) == ENOENT)
            continue;
        small += v;
        large += rd_u64("stats.arenas.%u.large.allocated", i, 0);
        pactive += rd_u64("stats.arenas.%u.pactive", i, 0);
        curregs0 += rd_u64("stats.arenas.%u.bins.%u.curregs", i, 0);
    }
    CHECK_EQ(small, rd_u64("stats.arenas.%u.small.allocated", ALL, 0));
    CHECK_EQ(large, rd_u64("stats.arenas.%u.large.allocated", ALL, 0));
    CHECK_EQ(small + large, allocated);
    CHECK_EQ(pactive, rd_u64("stats.arenas.%u.pactive", ALL, 0));
    CHECK_EQ(pactive * rd_u64("arenas.page", 0, 0), active);
    CHECK_EQ(curregs0, rd_u64("stats.arenas.%u.bins.%u.curregs", ALL, 0));

    for (unsigned k = 0; k < 200; k++)
        ta_free(blocks[k]);
    CHECK_EQ(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    refresh();
    CHECK_EQ(rd_u64("stats.allocated", 0, 0), before);
}

/* Reads see the snapshot, not live counters, until the next epoch. */
static void test_epoch(void)
{
    uint64_t e0 = 0, e1 = 0, w = 1;
    size_t len = sizeof(e0);
    CHECK_EQ(ta_ctl("epoch", &e0, &len, NULL, 0), 0);
    CHECK_EQ(ta_ctl("epoch", &e1, &len, &w, sizeof(w)), 0);
    CHECK_EQ(e1, e0 + 1);
    unsigned i = new_arena();
    ta_arena_t *a = ta_arena_get(i);
    refresh();
    uint64_t up0 = rd_u64("stats.arenas.%u.uptime", i, 0);
    void *p = ta_arena_malloc(a, 1000);
    CHECK_EQ(rd_u64("stats.arenas.%u.small.allocated", i, 0), 0);
    refresh();
    CHECK_EQ(rd_u64("stats.arenas.%u.small.allocated", i, 0), ta_malloc_usable_size(p));
    CHECK(rd_u64("stats.arenas.%u.uptime", i, 0) >= up0);
    ta_free(p);
    CHECK_EQ(action("arena.%u.destroy", i), 0);
}

static void test_decay_and_purge(void)
{
    unsigned i = new_arena();
    ta_arena_t *a = ta_arena_get(i);
    ssize_t old = 0, v = -1;
    size_t len = sizeof(old);
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", i);
    CHECK_EQ(ta_ctl(name, &old, &len, &v, sizeof(v)), 0);
    CHECK_EQ(ta_ctl(name, &old, &len, NULL, 0), 0);
    CHECK_EQ(old, -1);
    set_ssize("arena.%u.muzzy_decay_ms", i, -1);
    void *p = ta_arena_malloc(a, 1 << 20);
    CHECK(p != NULL);
    memset(p, 1, 1 << 20);
    ta_free(p);
    refresh();
    uint64_t dirty = rd_u64("stats.arenas.%u.pdirty", i, 0);
    CHECK(dirty >= (1u << 20) / rd_u64("arenas.page", 0, 0));
    uint64_t purged0 = rd_u64("stats.arenas.%u.dirty_purged", i, 0);
    CHECK_EQ(action("arena.%u.decay", i), 0);
    refresh();
    CHECK_EQ(rd_u64("stats.arenas.%u.pdirty", i, 0), dirty);
    CHECK_EQ(action("arena.%u.purge", i), 0);
    refresh();
    CHECK_EQ(rd_u64("stats.arenas.%u.pdirty", i, 0), 0);
    CHECK(rd_u64("stats.arenas.%u.dirty_purged", i, 0) >= purged0 + dirty);
    CHECK(rd_u64("stats.arenas.%u.dirty_npurge", i, 0) >= 1);
    CHECK_EQ(action("arena.%u.destroy", i), 0);
}

/* arenas.*_decay_ms are the defaults new arenas start with. */
static void test_default_decay(void)
{
    ssize_t old = 0, v = 12345, got = 0;
    size_t len = sizeof(old);
    CHECK_EQ(ta_ctl("arenas.dirty_decay_ms", &old, &len, &v, sizeof(v)), 0);
    unsigned i = new_arena();
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.dirty_decay_ms", i);
    CHECK_EQ(ta_ctl(name, &got, &len, NULL, 0), 0);
    CHECK_EQ(got, 12345);
    CHECK_EQ(ta_ctl("arenas.dirty_decay_ms", &got, &len, &old, sizeof(old)), 0);
    CHECK_EQ(got, 12345);
    CHECK_EQ(action("arena.%u.destroy", i), 0);
}

static void test_limit(void)
{
    unsigned i = new_arena();
    ta_arena_t *a = ta_arena_get(i);
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.limit", i);
    size_t lim = 1 << 20, old = 1;
    size_t len = sizeof(old);
    CHECK_EQ(ta_ctl(name, &old, &len, &lim, sizeof(lim)), 0);
    CHECK_EQ(old, 0);
    errno = 0;
    void *big = ta_arena_malloc(a, 4 << 20);
    CHECK(big == NULL);
    CHECK_EQ(errno, ENOMEM);
    void *small = ta_arena_malloc(a, 64);
    CHECK(small != NULL);
    lim = 0;
    CHECK_EQ(ta_ctl(name, &old, &len, &lim, sizeof(lim)), 0);
    CHECK_EQ(old, 1 << 20);
    big = ta_arena_malloc(a, 4 << 20);
    CHECK(big != NULL);
    ta_free(big);
    ta_free(small);
    CHECK_EQ(action("arena.%u.destroy", i), 0);
}

static void test_reset(void)
{
    unsigned i = new_arena();
    ta_arena_t *a = ta_arena_get(i);
    for (int k = 0; k < 100; k++)
        CHECK(ta_arena_malloc(a, 64 + k * 300) != NULL);
    refresh();
    CHECK(rd_u64("stats.arenas.%u.small.allocated", i, 0) > 0);
    CHECK_EQ(action("arena.%u.reset", i), 0);
    refresh();
    CHECK_EQ(rd_u64("stats.arenas.%u.small.allocated", i, 0), 0);
    CHECK_EQ(rd_u64("stats.arenas.%u.large.allocated", i, 0), 0);
    CHECK(ta_arena_malloc(a, 100) != NULL);
    CHECK_EQ(action("arena.%u.destroy", i), 0);
}

static void test_lookup_and_thread_arena(void)
{
    unsigned i = new_arena(), old = 0, got = 0;
    size_t len = sizeof(old);
    void *p = ta_arena_malloc(ta_arena_get(i), 200);
    CHECK_EQ(ta_ctl("arenas.lookup", &got, &len, &p, sizeof(p)), 0);
    CHECK_EQ(got, i);
    CHECK_EQ(ta_ctl("thread.arena", &old, &len, &i, sizeof(i)), 0);
    CHECK_EQ(ta_ctl("thread.arena", &got, &len, NULL, 0), 0);
    CHECK_EQ(got, i);
    void *q = ta_malloc(300);
    CHECK_EQ(ta_ctl("arenas.lookup", &got, &len, &q, sizeof(q)), 0);
    CHECK_EQ(got, i);
    refresh();
    CHECK_EQ(rd_u64("stats.arenas.%u.nthreads", i, 0), 1);
    CHECK_EQ(ta_ctl("thread.arena", NULL, NULL, &old, sizeof(old)), 0);
    ta_free(q);
    ta_free(p);
    CHECK_EQ(action("arena.%u.destroy", i), 0);
}

static void test_thread_counters(void)
{
    bool on = false, off = false;
    size_t blen = sizeof(bool);
    CHECK_EQ(ta_ctl("thread.tcache.enabled", &on, &blen, &off, sizeof(off)), 0);
    CHECK_EQ(ta_ctl("thread.tcache.enabled", &off, &blen, &on, sizeof(on)), 0);
    CHECK_EQ(off, false);
    uint64_t a0 = 0, a1 = 0, d0 = 0, d1 = 0, peak = 1;
    size_t len = sizeof(a0);
    CHECK_EQ(ta_ctl("thread.peak.reset", NULL, NULL, NULL, 0), 0);
    CHECK_EQ(ta_ctl("thread.allocated", &a0, &len, NULL, 0), 0);
    CHECK_EQ(ta_ctl("thread.deallocated", &d0, &len, NULL, 0), 0);
    void *p = ta_malloc(5000);
    size_t usable = ta_malloc_usable_size(p);
    CHECK_EQ(ta_ctl("thread.allocated", &a1, &len, NULL, 0), 0);
    CHECK_EQ(a1 - a0, usable);
    ta_free(p);
    CHECK_EQ(ta_ctl("thread.deallocated", &d1, &len, NULL, 0), 0);
    CHECK_EQ(d1 - d0, usable);
    CHECK_EQ(ta_ctl("thread.peak.read", &peak, &len, NULL, 0), 0);
    CHECK_EQ(peak, usable);
    CHECK_EQ(ta_ctl("thread.peak.reset", NULL, NULL, NULL, 0), 0);
    CHECK_EQ(ta_ctl("thread.peak.read", &peak, &len, NULL, 0), 0);
    CHECK_EQ(peak, 0);
    /* Misses update the mark every 64 KiB of fills, so a 2 MiB high
     * reached through misses alone is seen after everything was freed. */
    enum { NBIG = 512 };
    static void *big[NBIG];
    for (unsigned k = 0; k < NBIG; k++)
        CHECK((big[k] = ta_malloc(4096)) != NULL);
    for (unsigned k = 0; k < NBIG; k++)
        ta_free(big[k]);
    CHECK_EQ(ta_ctl("thread.peak.read", &peak, &len, NULL, 0), 0);
    CHECK(peak >= (uint64_t)NBIG * 4096 - (256u << 10));
}

static void test_tcaches(void)
{
    unsigned a = 0, b = 0;
    size_t len = sizeof(a);
    CHECK_EQ(ta_ctl("tcache.create", &a, &len, NULL, 0), 0);
    CHECK_EQ(ta_ctl("tcache.create", &b, &len, NULL, 0), 0);
    CHECK(a != b);
    CHECK_EQ(ta_ctl("tcache.flush", NULL, NULL, &a, sizeof(a)), 0);
    CHECK_EQ(ta_ctl("tcache.destroy", NULL, NULL, &a, sizeof(a)), 0);
    CHECK_EQ(ta_ctl("tcache.flush", NULL, NULL, &b, sizeof(b)), 0);
    CHECK_EQ(ta_ctl("tcache.destroy", NULL, NULL, &b, sizeof(b)), 0);
    unsigned c = 99;
    CHECK_EQ(ta_ctl("tcache.create", &c, &len, NULL, 0), 0);
    CHECK_EQ(c, a < b ? a : b);
    CHECK_EQ(ta_ctl("tcache.destroy", NULL, NULL, &c, sizeof(c)), 0);
}

static void test_options_and_background(void)
{
    size_t ulen = sizeof(unsigned), slen = sizeof(ssize_t), blen = sizeof(bool);
    unsigned narenas = 99;
    ssize_t dirty = 0;
    bool b = false, tcache = false;
    CHECK_EQ(ta_ctl("opt.narenas", &narenas, &ulen, NULL, 0), 0);
    CHECK_EQ(narenas, 0);
    CHECK_EQ(ta_ctl("opt.dirty_decay_ms", &dirty, &slen, NULL, 0), 0);
    CHECK_EQ(dirty, 10000);
    CHECK_EQ(ta_ctl("opt.tcache", &tcache, &blen, NULL, 0), 0);
    CHECK(tcache);
    const char *opts = NULL;
    size_t plen = sizeof(opts);
    CHECK_EQ(ta_ctl("opt.stats_print_opts", &opts, &plen, NULL, 0), 0);
    CHECK(opts != NULL && opts[0] == '\0');
    bool on = true, old = true;
    CHECK_EQ(ta_ctl("background_thread", &old, &blen, &on, sizeof(on)), 0);
    CHECK_EQ(old, false);
    CHECK_EQ(ta_ctl("background_thread", &b, &blen, NULL, 0), 0);
    CHECK(b);
    on = false;
    CHECK_EQ(ta_ctl("background_thread", NULL, NULL, &on, sizeof(on)), 0);
    CHECK_EQ(ta_ctl("background_thread", &b, &blen, NULL, 0), 0);
    CHECK(!b);
}

/* A hot loop resolves once, then overwrites the index component. */
static void test_mib_loops(void)
{
    size_t mib[8], miblen = 8;
    CHECK_EQ(ta_ctl_nametomib("arenas.bin.0.size", mib, &miblen), 0);
    CHECK_EQ(miblen, 4);
    unsigned nbins = (unsigned)rd_u64("arenas.nbins", 0, 0);
    for (unsigned j = 0; j < nbins; j++) {
        mib[2] = j;
        size_t size = 0, len = sizeof(size);
        CHECK_EQ(ta_ctl_bymib(mib, miblen, &size, &len, NULL, 0), 0);
        CHECK_EQ(size, rd_u64("arenas.bin.%u.size", j, 0));
    }
    refresh();
    miblen = 8;
    CHECK_EQ(ta_ctl_nametomib("stats.arenas.4096.bins.0.curregs", mib, &miblen), 0);
    CHECK_EQ(miblen, 6);
    for (unsigned j = 0; j < nbins; j++) {
        mib[4] = j;
        size_t v = 0, len = sizeof(v);
        CHECK_EQ(ta_ctl_bymib(mib, miblen, &v, &len, NULL, 0), 0);
        CHECK_EQ(v, rd_u64("stats.arenas.4096.bins.%u.curregs", j, 0));
    }
    size_t part[8], plen = 8;
    CHECK_EQ(ta_ctl_nametomib("arena.0", part, &plen), 0);
    CHECK_EQ(plen, 2);
    CHECK_EQ(part[1], 0);
    plen = 8;
    CHECK_EQ(ta_ctl_nametomib("thread.tcache.flush", part, &plen), 0);
    CHECK_EQ(ta_ctl_bymib(part, plen, NULL, NULL, NULL, 0), 0);
}

/* Walks the whole tree through ta_ctl_child; every leaf must resolve with
 * index 0 and report a size that matches its type. */
static unsigned walk(const char *node, const char *concrete, unsigned depth)
{
    unsigned leaves = 0;
    ta_ctl_info info;
    for (size_t k = 0; ta_ctl_child(node, k, &info) == 0; k++) {
        char name[256], conc[256];
        bool index = info.name[0] == '<';
        snprintf(name, sizeof(name), "%s%s%s", node, *node ? "." : "", info.name);
        snprintf(conc, sizeof(conc), "%s%s%s", concrete, *concrete ? "." : "",
                 index ? "0" : info.name);
        CHECK(info.doc != NULL && info.doc[0] != '\0');
        CHECK(depth < 8);
        if (info.type == TA_CTL_NODE) {
            CHECK_EQ(info.mode, 0);
            leaves += walk(name, conc, depth + 1);
            continue;
        }
        CHECK(!index && info.mode != 0);
        size_t mib[8], miblen = 8, len = 0;
        CHECK_EQ(ta_ctl_nametomib(conc, mib, &miblen), 0);
        if ((info.mode & TA_CTL_READ) && info.type != TA_CTL_ACTION) {
            CHECK_EQ(ta_ctl_bymib(mib, miblen, NULL, &len, NULL, 0), 0);
            CHECK(len == 1 || len == 4 || len == 8);
        }
        leaves++;
    }
    return leaves;
}

static void test_enumeration(void)
{
    ta_ctl_info info;
    CHECK_EQ(ta_ctl_child("", 0, &info), 0);
    CHECK(strcmp(info.name, "version") == 0 && info.type == TA_CTL_STRING);
    CHECK_EQ(ta_ctl_child("arena", 0, &info), 0);
    CHECK(strcmp(info.name, "<i>") == 0 && info.type == TA_CTL_NODE);
    CHECK_EQ(ta_ctl_child("arena.<i>", 0, &info), 0);
    CHECK(strcmp(info.name, "purge") == 0 && info.type == TA_CTL_ACTION);
    CHECK_EQ(ta_ctl_child("arena.0", 0, &info), 0);
    CHECK(strcmp(info.name, "purge") == 0);
    CHECK_EQ(ta_ctl_child("stats.arenas.4096.bins.<j>", 0, &info), 0);
    CHECK(strcmp(info.name, "nmalloc") == 0 && info.type == TA_CTL_UINT64);
    CHECK(info.mode == TA_CTL_READ);
    unsigned leaves = walk("", "", 0);
    CHECK(leaves >= 85);
}

int main(void)
{
    RUN(test_constants);
    RUN(test_manual_arena_identities);
    RUN(test_global_identities);
    RUN(test_epoch);
    RUN(test_decay_and_purge);
    RUN(test_default_decay);
    RUN(test_limit);
    RUN(test_reset);
    RUN(test_lookup_and_thread_arena);
    RUN(test_thread_counters);
    RUN(test_tcaches);
    RUN(test_options_and_background);
    RUN(test_mib_loops);
    RUN(test_enumeration);
    return TEST_EXIT();
}
