/* A seeded random walk over the whole allocation API, through the default
 * path, manual arenas of every decay mode and explicit caches: every live
 * block carries a pattern checked before it is freed or resized, the
 * engine's page-run invariants are walked under the arena lock, and the
 * statistics identities are checked against the blocks the test holds. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "harness.h"
#include "walker.h"

#define NSLOTS 512
#define NCTX 6
#define MAX_LIVE_BYTES ((size_t)96 << 20)
#define MIB ((size_t)1 << 20)

static const uint64_t SEED = 0x7a11a10c5eedULL;

/* Where a block came from, which decides how it may be freed and which
 * arena must hold it. */
enum ctx {
    CTX_DEFAULT,  /* ta_malloc family */
    CTX_ARENA,    /* manual arena, inherited decay */
    CTX_DECAY0,   /* manual arena, dirty_decay_ms 0 */
    CTX_DECAYNEG, /* manual arena, dirty_decay_ms -1 */
    CTX_TCACHE,   /* explicit cache on the thread's arena */
    CTX_TCACHE_M  /* explicit cache on the CTX_ARENA arena */
};

typedef struct block {
    unsigned char *p;
    size_t req;    /* size last requested (0 for a zero-size request) */
    size_t usable; /* bytes carrying the pattern */
    uint64_t id;
    int ctx;
    bool aligned; /* from an aligned call: ta_free only */
} block_t;

static block_t slots[NSLOTS];
static ta_arena_t *arenas[NCTX];
static ta_tcache_t *tcaches[NCTX];
static size_t live_bytes;
static uint64_t next_id = 1;
static size_t boundary[160];
static size_t nboundary;

/* The byte at offset i of block id: a word hash, so moved, overlapping
 * or stale memory shows up, and filling costs a store per 8 bytes. */
static uint64_t word_of(uint64_t id, size_t w)
{
    uint64_t x = id * 0x9e3779b97f4a7c15ULL ^ (w + 1) * 0xc2b2ae3d27d4eb4fULL;
    x ^= x >> 29;
    return x * 0xbf58476d1ce4e5b9ULL;
}

/* Byte view of word_of, for block edges that are not whole words. */
static unsigned char byte_of(uint64_t id, size_t i)
{
    return (unsigned char)(word_of(id, i >> 3) >> ((i & 7) * 8));
}

/* Writes the pattern over [from, to) only, so a resized block keeps the
 * bytes it carried and just extends them. */
static void fill_range(unsigned char *p, size_t from, size_t to, uint64_t id)
{
    size_t i = from;
    for (; i < to && (i & 7); i++)
        p[i] = byte_of(id, i);
    for (; i + 8 <= to; i += 8) {
        uint64_t w = word_of(id, i >> 3);
        memcpy(p + i, &w, 8);
    }
    for (; i < to; i++)
        p[i] = byte_of(id, i);
}

/* First offset in [0, n) that lost its pattern, or n. */
static size_t verify_range(const unsigned char *p, size_t n, uint64_t id)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = word_of(id, i >> 3), have;
        memcpy(&have, p + i, 8);
        if (have != w)
            break;
    }
    for (; i < n; i++)
        if (p[i] != byte_of(id, i))
            return i;
    return n;
}

/* Names the op and seed so a failure can be replayed exactly. */
static void fail_seed(const char *what, uint64_t op)
{
    fprintf(stderr, "random_ops: %s at op %llu (seed 0x%llx)\n", what,
            (unsigned long long)op, (unsigned long long)SEED);
}

/* ---- ctl helpers ---------------------------------------------------- */

/* Runs an action name with an arena index filled in. */
static void ctl_action(const char *fmt, unsigned i)
{
    char name[128];
    snprintf(name, sizeof(name), fmt, i);
    CHECK_EQ(ta_ctl(name, NULL, NULL, NULL, 0), 0);
}

/* stats.* only move on an epoch write, so every identity check starts here. */
static void new_epoch(void)
{
    uint64_t ep = 1;
    size_t len = sizeof(ep);
    CHECK_EQ(ta_ctl("epoch", &ep, &len, &ep, len), 0);
}

/* ---- sizes ---------------------------------------------------------- */

/* Every class size and its neighbours, plus the tier edges, from ctl. */
static void collect_boundaries(void)
{
    unsigned nbins = 0, nl = 0;
    size_t len = sizeof(nbins);
    CHECK_EQ(ta_ctl("arenas.nbins", &nbins, &len, NULL, 0), 0);
    len = sizeof(nl);
    CHECK_EQ(ta_ctl("arenas.nlextents", &nl, &len, NULL, 0), 0);
    for (unsigned j = 0; j < nbins && nboundary < 120; j++)
        boundary[nboundary++] = test_ctl_size("arenas.bin.%u.size", j);
    for (unsigned j = 0; j < nl && nboundary < 150; j++) {
        size_t s = test_ctl_size("arenas.lextent.%u.size", j);
        if (s > 16 * MIB)
            break;
        boundary[nboundary++] = s;
    }
    const size_t edges[] = {0, 1, SMALL_MAX, TCACHE_MAX, LARGE_MAX, 16 * MIB};
    for (size_t k = 0; k < sizeof(edges) / sizeof(edges[0]); k++)
        boundary[nboundary++] = edges[k];
}

/* The raw draw: a boundary a third of the time, else log-uniform. */
static size_t random_size_any(uint64_t *rng)
{
    uint64_t r = test_rand(rng);
    if (r % 3 == 0) {
        size_t s = boundary[(r >> 8) % nboundary];
        int d = (int)((r >> 20) % 3) - 1;
        if (s == 0 && d < 0)
            return 0;
        s = (size_t)((long long)s + d);
        return s > 16 * MIB ? 16 * MIB : s;
    }
    unsigned lg = (unsigned)((r >> 8) % 25); /* 2^0 .. 2^24 */
    size_t lo = (size_t)1 << lg >> 1;
    return lo + (size_t)((r >> 32) % ((size_t)1 << lg >> 1 | 1));
}

/* Log-distributed 0..16 MiB, a third of the time on a class or tier
 * boundary (exactly, one below or one above); big sizes are rarer so the
 * walk stays fast. */
static size_t random_size(uint64_t *rng)
{
    size_t s = random_size_any(rng);
    /* seven in eight sizes above 1 MiB shrink, so filling stays cheap */
    if (s > MIB && test_rand(rng) % 8)
        s >>= 5;
    return s;
}

/* ---- operations ----------------------------------------------------- */

static bool manual_ctx(int ctx) { return ctx >= CTX_ARENA && ctx <= CTX_DECAYNEG; }

/* The arena a block of this context must live in, or NULL for "an
 * automatic one". */
static ta_arena_t *expected_arena(int ctx)
{
    if (manual_ctx(ctx))
        return arenas[ctx];
    if (ctx == CTX_TCACHE_M)
        return arenas[CTX_ARENA];
    return NULL;
}

/* A default or explicit-cache block must never come from these. */
static bool is_manual_arena(const ta_arena_t *a)
{
    for (int c = CTX_ARENA; c <= CTX_DECAYNEG; c++)
        if (a == arenas[c])
            return true;
    return false;
}

static size_t align_of_draw(uint64_t r) { return (size_t)1 << (4 + (r >> 40) % 14); }

/* A fresh block of `size` from context ctx by a random entry point. */
static void *do_alloc(int ctx, size_t size, uint64_t r, bool *aligned)
{
    size_t align = align_of_draw(r);
    unsigned how = (unsigned)((r >> 8) % 5);
    *aligned = how >= 3;
    if (ctx == CTX_TCACHE || ctx == CTX_TCACHE_M) {
        *aligned = false;
        return how == 1 ? ta_tcache_calloc(tcaches[ctx], 1, size)
                        : ta_tcache_malloc(tcaches[ctx], size);
    }
    if (ctx != CTX_DEFAULT) {
        if (how >= 3)
            return ta_arena_aligned_alloc(arenas[ctx], align, size);
        return how == 1 ? ta_arena_calloc(arenas[ctx], 1, size)
                        : ta_arena_malloc(arenas[ctx], size);
    }
    switch (how) {
    case 0:
    case 2:
        return ta_malloc(size);
    case 1:
        return size % 2 ? ta_calloc(1, size) : ta_calloc(2, size / 2);
    case 3:
        return ta_aligned_alloc(align, size);
    default: {
        void *p = NULL;
        return ta_posix_memalign(&p, align, size) == 0 ? p : NULL;
    }
    }
}

/* What every block must satisfy the moment it is handed out. */
static void check_new_block(const block_t *b, uint64_t op)
{
    CHECK(((uintptr_t)b->p & (QUANTUM - 1)) == 0);
    CHECK(ta_malloc_usable_size(b->p) >= b->req);
    CHECK_EQ(ta_check_ptr(b->p), 0);
    CHECK(ta_owns(b->p));
    ta_arena_t *want = expected_arena(b->ctx), *got = ta_arena_of(b->p);
    bool right = want ? got == want : got != NULL && !is_manual_arena(got);
    if (!right) {
        fprintf(stderr, "block %p of context %d is in arena %d\n", (void *)b->p, b->ctx,
                got ? (int)ta_arena_index(got) : -1);
        fail_seed("block in the wrong arena", op);
    }
    CHECK(right);
}

/* Allocates into an empty slot and patterns every usable byte, so an
 * overlap with any other live block shows up at its next check. */
static void alloc_slot(block_t *b, int ctx, size_t size, uint64_t r, uint64_t op)
{
    bool aligned;
    errno = 0;
    unsigned char *p = do_alloc(ctx, size, r, &aligned);
    if (!p) {
        fail_seed("allocation failed", op);
        CHECK(p != NULL);
        return;
    }
    b->p = p;
    b->req = size;
    b->ctx = ctx;
    b->aligned = aligned;
    b->id = next_id++;
    b->usable = ta_malloc_usable_size(p);
    check_new_block(b, op);
    if (aligned)
        CHECK(((uintptr_t)p & (align_of_draw(r) - 1)) == 0);
    if ((r >> 8) % 5 == 1 && !test_all_zero(p, size)) {
        fail_seed("calloc block not zeroed", op);
        CHECK(!"calloc zeroed");
    }
    fill_range(p, 0, b->usable, b->id);
    live_bytes += b->usable;
}

/* Any byte changed behind the test's back is a corruption. */
static void verify_slot(const block_t *b, uint64_t op)
{
    size_t bad = verify_range(b->p, b->usable, b->id);
    if (bad != b->usable) {
        fprintf(stderr, "block %p id %llu size %zu: byte %zu changed\n", (void *)b->p,
                (unsigned long long)b->id, b->usable, bad);
        fail_seed("pattern lost", op);
    }
    CHECK_EQ(bad, b->usable);
}

/* Frees through the entry point matching the block's origin, sized
 * half the time where the contract allows it. */
static void free_slot(block_t *b, uint64_t r)
{
    bool sized = !b->aligned && (r >> 12) % 2;
    if (b->ctx == CTX_TCACHE || b->ctx == CTX_TCACHE_M) {
        if (sized)
            ta_tcache_free_sized(tcaches[b->ctx], b->p, b->req);
        else
            ta_tcache_free(tcaches[b->ctx], b->p);
    } else if (sized) {
        ta_free_sized(b->p, b->req);
    } else {
        ta_free(b->p);
    }
    live_bytes -= b->usable;
    b->p = NULL;
}

/* Resizes through the origin's realloc; the common prefix must survive,
 * whether the block stayed, grew in place or moved. */
static void realloc_slot(block_t *b, size_t size, uint64_t op)
{
    errno = 0;
    unsigned char *q;
    if (b->ctx == CTX_TCACHE || b->ctx == CTX_TCACHE_M)
        q = ta_tcache_realloc(tcaches[b->ctx], b->p, size);
    else if (b->ctx != CTX_DEFAULT)
        q = ta_arena_realloc(arenas[b->ctx], b->p, size);
    else
        q = ta_realloc(b->p, size);
    if (!size) {
        CHECK(q == NULL);
        live_bytes -= b->usable;
        b->p = NULL;
        return;
    }
    if (!q) {
        fail_seed("realloc failed", op);
        CHECK(q != NULL);
        return;
    }
    size_t keep = b->req < size ? b->req : size;
    size_t bad = verify_range(q, keep, b->id);
    if (bad != keep)
        fail_seed("realloc lost contents", op);
    CHECK_EQ(bad, keep);
    live_bytes -= b->usable;
    if (q != b->p)
        b->aligned = false;
    b->p = q;
    b->req = size;
    b->usable = ta_malloc_usable_size(q);
    check_new_block(b, op);
    fill_range(q, keep, b->usable, b->id);
    live_bytes += b->usable;
}

/* ---- statistics identities ------------------------------------------ */

static void flush_caches(void)
{
    CHECK_EQ(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    for (int c = 0; c < NCTX; c++)
        if (tcaches[c])
            ta_tcache_flush(tcaches[c]);
}

/* allocated of a manual arena equals what the test holds in it, and
 * allocated <= active <= mapped. */
static void check_stats(uint64_t op)
{
    flush_caches();
    new_epoch();
    for (int c = CTX_ARENA; c <= CTX_DECAYNEG; c++) {
        unsigned i = ta_arena_index(arenas[c]);
        size_t held = 0;
        for (int k = 0; k < NSLOTS; k++)
            if (slots[k].p && expected_arena(slots[k].ctx) == arenas[c])
                held += ta_malloc_usable_size(slots[k].p);
        size_t allocated = test_ctl_size("stats.arenas.%u.small.allocated", i) +
                           test_ctl_size("stats.arenas.%u.large.allocated", i);
        size_t active = test_ctl_size("stats.arenas.%u.pactive", i) * tai_page;
        size_t mapped = test_ctl_size("stats.arenas.%u.mapped", i);
        if (allocated != held)
            fail_seed("allocated differs from the blocks held", op);
        CHECK_EQ(allocated, held);
        CHECK(allocated <= active);
        CHECK(active <= mapped);
    }
    size_t all_alloc = 0, all_active = 0, all_mapped = 0, len = sizeof(size_t);
    CHECK_EQ(ta_ctl("stats.allocated", &all_alloc, &len, NULL, 0), 0);
    CHECK_EQ(ta_ctl("stats.active", &all_active, &len, NULL, 0), 0);
    CHECK_EQ(ta_ctl("stats.mapped", &all_mapped, &len, NULL, 0), 0);
    CHECK(all_alloc <= all_active);
    CHECK(all_active <= all_mapped);
}

/* A purge or decay of one manual arena or of all of them. */
static void random_ctl(uint64_t r)
{
    int c = CTX_ARENA + (int)((r >> 8) % 3);
    unsigned i = (r >> 16) % 4 ? ta_arena_index(arenas[c]) : MAX_ARENAS;
    ctl_action((r >> 24) % 2 ? "arena.%u.purge" : "arena.%u.decay", i);
}

/* ---- the walk ------------------------------------------------------- */

static void setup(void)
{
    const int64_t decay[NCTX] = {0, TA_DECAY_DEFAULT, 0, -1, 0, 0};
    for (int c = CTX_ARENA; c <= CTX_DECAYNEG; c++) {
        ta_arena_opts o;
        ta_arena_opts_init(&o);
        o.dirty_decay_ms = decay[c];
        arenas[c] = ta_arena_create(&o);
        CHECK(arenas[c] != NULL);
    }
    tcaches[CTX_TCACHE] = ta_tcache_create(NULL);
    tcaches[CTX_TCACHE_M] = ta_tcache_create(arenas[CTX_ARENA]);
    CHECK(tcaches[CTX_TCACHE] != NULL);
    CHECK(tcaches[CTX_TCACHE_M] != NULL);
    collect_boundaries();
}

/* One step: fill an empty slot, or check a live one and resize or free
 * it, keeping the live total bounded. */
static void one_op(uint64_t *rng, uint64_t op)
{
    uint64_t r = test_rand(rng);
    block_t *b = &slots[r % NSLOTS];
    size_t size = random_size(rng);
    if (!b->p) {
        if (live_bytes + size > MAX_LIVE_BYTES)
            return;
        alloc_slot(b, (int)((r >> 48) % NCTX), size, test_rand(rng), op);
        return;
    }
    verify_slot(b, op);
    if ((r >> 20) % 3 == 0 && live_bytes + size <= MAX_LIVE_BYTES)
        realloc_slot(b, size, op);
    else
        free_slot(b, test_rand(rng));
}

/* The seeded walk, with periodic purges and full consistency checks. */
static void test_random_walk(void)
{
    setup();
    for (int c = 0; c < NCTX; c++)
        if ((c != CTX_DEFAULT && c != CTX_TCACHE && c != CTX_TCACHE_M && !arenas[c]) ||
            ((c == CTX_TCACHE || c == CTX_TCACHE_M) && !tcaches[c]))
            return;
    uint64_t rng = SEED;
    const uint64_t nops = (TEST_SANITIZED ? 12000 : 40000) * (uint64_t)test_scale();
    for (uint64_t op = 0; op < nops; op++) {
        one_op(&rng, op);
        if (op % 997 == 0)
            random_ctl(test_rand(&rng));
        if (op % 4001 == 0) {
            check_stats(op);
            check_all_arenas();
        }
    }
    check_stats(nops);
    check_all_arenas();
}

/* Frees what is left, purges, and checks every manual arena is empty
 * before destroying it. */
static void test_teardown(void)
{
    for (int k = 0; k < NSLOTS; k++)
        if (slots[k].p) {
            verify_slot(&slots[k], (uint64_t)-1);
            free_slot(&slots[k], 0);
        }
    CHECK_EQ(live_bytes, 0);
    for (int c = 0; c < NCTX; c++)
        if (tcaches[c])
            ta_tcache_destroy(tcaches[c]);
    CHECK_EQ(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0), 0);
    for (int c = CTX_ARENA; c <= CTX_DECAYNEG; c++) {
        if (!arenas[c])
            continue;
        unsigned i = ta_arena_index(arenas[c]);
        ctl_action("arena.%u.purge", i);
        new_epoch();
        check_arena(&arenas[c]->a);
        CHECK_EQ(test_ctl_size("stats.arenas.%u.pactive", i), 0);
        CHECK_EQ(test_ctl_size("stats.arenas.%u.pdirty", i), 0);
        CHECK_EQ(test_ctl_size("stats.arenas.%u.pmuzzy", i), 0);
        CHECK_EQ(test_ctl_size("stats.arenas.%u.small.allocated", i), 0);
        CHECK_EQ(test_ctl_size("stats.arenas.%u.large.allocated", i), 0);
        CHECK_EQ(ta_arena_destroy(arenas[c]), 0);
    }
    check_all_arenas();
}

/* ---- robustness in a child, so a crash is a failed check ------------- */

/* Runs fn in a forked child; true if it exited 0. */
static bool survives(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return false;
    if (WIFSIGNALED(status))
        fprintf(stderr, "child killed by signal %d\n", WTERMSIG(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Interior pointers of a multi-unit huge block whose contents look like
 * a segment header must still be rejected, not followed. */
static void check_ptr_inside_huge(void)
{
    size_t n = 12 * MIB;
    unsigned char *p = ta_malloc(n);
    if (!p)
        _exit(2);
    memset(p, 0x01, n);
    uintptr_t unit = ((uintptr_t)p + SEGMENT_SIZE) & ~(uintptr_t)SEGMENT_MASK;
    for (size_t off = 0; off < SEGMENT_SIZE; off += 64 * 1024)
        if (ta_check_ptr((void *)(unit + off + QUANTUM)) != EINVAL)
            _exit(3);
    ta_free(p);
}

static void test_check_ptr_huge_interior(void) { CHECK(survives(check_ptr_inside_huge)); }

/* A manual arena's block freed with its size must not end up in the
 * thread cache, where it would outlive the arena. */
static void sized_free_then_destroy(void)
{
    ta_free(ta_malloc(64));
    ta_arena_t *a = ta_arena_create(NULL);
    if (!a)
        _exit(2);
    void *p = ta_arena_malloc(a, 64);
    ta_free_sized(p, 64);
    void *q = ta_arena_malloc(a, 20000);
    ta_free_sized(q, 20000);
    if (ta_arena_destroy(a) != 0)
        _exit(4);
    for (int i = 0; i < 8; i++) {
        unsigned char *r = ta_malloc(i % 2 ? 64 : 20000);
        if (!r || !ta_owns(r))
            _exit(5);
        memset(r, 0xab, 64);
    }
}

static void test_sized_free_manual(void) { CHECK(survives(sized_free_then_destroy)); }

/* The walk first, then the teardown that needs its state. */
int main(void)
{
    RUN(test_random_walk);
    RUN(test_teardown);
    RUN(test_check_ptr_huge_interior);
    RUN(test_sized_free_manual);
    if (harness_failures)
        fprintf(stderr, "failed with seed 0x%llx\n", (unsigned long long)SEED);
    return TEST_EXIT();
}
