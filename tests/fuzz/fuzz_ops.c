/* Operation sequences decoded from the input: malloc, calloc, realloc,
 * free, sized free, free-if-owned and the aligned calls, through the
 * default path, manual arenas (created with any decay and limit, reset,
 * destroyed, limited, purged) and explicit caches (created, flushed,
 * destroyed). Every block carries a pattern (sampled, so big blocks stay
 * cheap) that is checked whenever the block is touched and before it is
 * freed; the engine's invariant walker runs after every few steps. At
 * the end of an input everything is freed and each manual arena must be
 * back to no active page before it is destroyed. The automatic arena's
 * state (its free runs, cached huge mappings) carries over from input to
 * input, so a finding may need a few runs to replay (-runs=100). */
#include <errno.h>

#include "arena.h"
#include "fuzz.h"
#include "harness.h"
#include "walker.h"

#define NSLOTS 64
#define NARENAS 4
#define NCACHES 4
#define MAX_LIVE ((size_t)64 << 20)
#define MAX_OPS 200
#define MIB ((size_t)1 << 20)
/* Bytes patterned at a block's start, at the end of each page and at a
 * stride between: one grid for every block, so a resized block's kept
 * bytes were patterned on the grid it is checked on. */
#define EDGE 2048
#define PAGE_TAIL 64
#define STRIDE 509

typedef struct block {
    unsigned char *p;
    size_t req, usable;
    uintptr_t seed;
    ta_arena_t *arena; /* the manual arena holding it, or NULL: automatic */
    int cache;         /* explicit cache it was made by (-1: none) */
    /* no sized free: from an aligned call, or kept by a shrinking realloc
     * that could not move it (its class is not its size's: sized frees
     * of such blocks file them under the wrong class, a known bug
     * reported with this target) */
    bool unsized;
    /* a mapping of its own: bigger than LARGE_MAX, or aligned to a
     * quarter unit or more whatever its size (large.c), so a realloc may
     * move it by remapping, within its arena, even from a few KiB */
    bool huge;
} block_t;

static block_t slots[NSLOTS];
static ta_arena_t *arenas[NARENAS];
static bool limited[NARENAS];
static ta_tcache_t *caches[NCACHES];
static int cache_arena[NCACHES]; /* index into arenas, or -1: the thread's */
static size_t live;
static uintptr_t next_seed = 1;

/* The grid offset after i. */
FUZZ_NOCOV static size_t next_off(size_t i)
{
    i++;
    if (i < EDGE || (i & 4095) >= 4096 - PAGE_TAIL)
        return i;
    size_t stride = (i + STRIDE - 1) / STRIDE * STRIDE, tail = (i | 4095) - (PAGE_TAIL - 1);
    return stride < tail ? stride : tail;
}

FUZZ_NOCOV static void fill(block_t *b, size_t from)
{
    for (size_t i = from ? next_off(from - 1) : 0; i < b->usable; i = next_off(i))
        b->p[i] = test_pattern(b->seed, i);
}

FUZZ_NOCOV static void verify(const block_t *b, size_t n)
{
    for (size_t i = 0; i < n; i = next_off(i))
        if (b->p[i] != test_pattern(b->seed, i)) {
            fprintf(stderr, "block %p (%zu bytes): byte %zu changed\n", (void *)b->p, b->usable,
                    i);
            REQUIRE(!"block contents kept");
        }
}

FUZZ_NOCOV static bool zeroed(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i = next_off(i))
        if (p[i])
            return false;
    return true;
}

/* A size: one of the tier edges, or log-uniform up to 16 MiB. */
static size_t pick_size(fuzz_in_t *in)
{
    static const size_t edges[] = {0, 1, 8, 16, 17, 4096, SMALL_MAX, SMALL_MAX + 1, TCACHE_MAX,
                                   TCACHE_MAX + 1, LARGE_MAX, LARGE_MAX + 1, SEGMENT_SIZE - 4096,
                                   SEGMENT_SIZE + 1};
    uint8_t k = fuzz_u8(in);
    uint16_t r = fuzz_u16(in);
    if (k >= 232)
        return edges[r % (sizeof(edges) / sizeof(edges[0]))];
    unsigned lg = k % 23; /* 2^0 .. 2^22: huge blocks, yet cheap to fault in */
    size_t lo = (size_t)1 << lg >> 1;
    return lo + (size_t)r * ((size_t)1 << lg >> 1) / 65536;
}

static bool is_manual(const ta_arena_t *a)
{
    for (int k = 0; k < NARENAS; k++)
        if (a && a == arenas[k])
            return true;
    return false;
}

static bool cache_limited(int c) { return cache_arena[c] >= 0 && limited[cache_arena[c]]; }

/* A cache on a manual arena keeps blocks of other arenas freed through
 * it and hands them out as its arena's (a known bug of the explicit-cache
 * free path, reported with this target): such blocks are not freed or
 * resized through it, so the rest stays checkable. */
static bool may_take(int c, const block_t *b)
{
    return caches[c] && (cache_arena[c] < 0 || b->arena == arenas[cache_arena[c]]);
}

/* got is the arena want names (NULL: an automatic one). */
static bool in_arena(const ta_arena_t *got, const ta_arena_t *want)
{
    return want ? got == want : got != NULL && !is_manual(got);
}

/* What every block must satisfy when handed out or resized. */
static void check_block(const block_t *b, size_t align)
{
    REQUIRE(((uintptr_t)b->p & (QUANTUM - 1)) == 0);
    REQUIRE(((uintptr_t)b->p & (align - 1)) == 0);
    REQUIRE(b->usable >= b->req);
    REQUIRE(ta_owns(b->p) && ta_check_ptr(b->p) == 0);
    REQUIRE(in_arena(ta_arena_of(b->p), b->arena));
    REQUIRE(ta_arena_of(b->p + b->usable - 1) == ta_arena_of(b->p));
}

/* A new block in slot b through one of the entry points of a context:
 * 0 the default path, 1..NARENAS an arena, then the caches. */
static void do_alloc(fuzz_in_t *in, block_t *b)
{
    unsigned ctx = fuzz_u8(in) % (1 + NARENAS + NCACHES);
    uint8_t how = fuzz_u8(in);
    size_t size = pick_size(in), align = (size_t)1 << (fuzz_u8(in) % 25);
    if (live + size > MAX_LIVE)
        return;
    bool may_fail = false, zero = false, aligned = false;
    ta_arena_t *arena = NULL;
    int cache = -1;
    void *p = NULL;
    if (ctx == 0) {
        switch (how % 6) {
        case 0:
            p = ta_malloc(size);
            break;
        case 1:
            zero = true;
            p = how & 8 ? ta_calloc(size, 1) : ta_calloc(1, size);
            break;
        case 2:
            aligned = true;
            p = ta_aligned_alloc(align, size);
            break;
        case 3:
            aligned = true;
            p = ta_memalign(align, size);
            break;
        case 4: {
            aligned = true;
            int err = ta_posix_memalign(&p, align, size);
            REQUIRE(align >= sizeof(void *) ? err == 0 : err == EINVAL && p == NULL);
            if (err)
                return;
            break;
        }
        default:
            /* not a power of two: refused */
            REQUIRE(ta_aligned_alloc(align * 3, size) == NULL && errno == EINVAL);
            return;
        }
    } else if (ctx <= NARENAS) {
        int k = (int)ctx - 1;
        if (!arenas[k])
            return;
        arena = arenas[k];
        may_fail = limited[k];
        if (how % 3 == 0) {
            zero = true;
            p = ta_arena_calloc(arena, 1, size);
        } else if (how % 3 == 1) {
            aligned = true;
            p = ta_arena_aligned_alloc(arena, align, size);
        } else {
            p = ta_arena_malloc(arena, size);
        }
    } else {
        cache = (int)ctx - 1 - NARENAS;
        if (!caches[cache])
            return;
        arena = cache_arena[cache] >= 0 ? arenas[cache_arena[cache]] : NULL;
        may_fail = cache_limited(cache);
        zero = how & 1;
        p = zero ? ta_tcache_calloc(caches[cache], 1, size) : ta_tcache_malloc(caches[cache], size);
    }
    if (!p) {
        REQUIRE(may_fail && errno == ENOMEM);
        return;
    }
    size_t usable = ta_malloc_usable_size(p);
    bool huge = usable > LARGE_MAX || (aligned && align >= SEGMENT_SIZE / 4);
    *b = (block_t){p, size, usable, next_seed++, arena, cache, aligned, huge};
    check_block(b, aligned ? align : 1);
    if (zero)
        REQUIRE(zeroed(b->p, size));
    fill(b, 0);
    live += b->usable;
}

/* Frees through the block's cache, another cache or the default path,
 * sized where the contract allows. */
static void do_free(fuzz_in_t *in, block_t *b)
{
    verify(b, b->usable);
    uint8_t how = fuzz_u8(in);
    int c = b->cache >= 0 && how & 1 ? b->cache : (int)(how >> 1) % (NCACHES + 1) - 1;
    ta_tcache_t *tc = c >= 0 && may_take(c, b) ? caches[c] : NULL;
    bool sized = !b->unsized && how & 32;
    if (how & 64) {
        REQUIRE((tc ? ta_tcache_free_if_owned(tc, b->p) : ta_free_if_owned(b->p)) == 1);
    } else if (tc) {
        if (sized)
            ta_tcache_free_sized(tc, b->p, b->req);
        else
            ta_tcache_free(tc, b->p);
    } else if (sized) {
        ta_free_sized(b->p, b->req);
    } else {
        ta_free(b->p);
    }
    live -= b->usable;
    b->p = NULL;
}

/* Resizes through the default path, an arena or a cache; the common
 * prefix must survive, and the block lives where it was unless it moved. */
static void do_realloc(fuzz_in_t *in, block_t *b)
{
    verify(b, b->usable);
    uint8_t how = fuzz_u8(in);
    size_t size = pick_size(in);
    if (live + size > MAX_LIVE)
        return;
    ta_arena_t *src = NULL;
    int cache = -1;
    bool may_fail = false;
    unsigned char *q;
    unsigned k = how % (1 + NARENAS + NCACHES);
    if (k >= 1 && k <= NARENAS && arenas[k - 1]) {
        src = arenas[k - 1];
        may_fail = limited[k - 1];
        q = ta_arena_realloc(src, b->p, size);
    } else if (k > NARENAS && may_take((int)k - 1 - NARENAS, b)) {
        cache = (int)k - 1 - NARENAS;
        src = cache_arena[cache] >= 0 ? arenas[cache_arena[cache]] : NULL;
        may_fail = cache_limited(cache);
        q = ta_tcache_realloc(caches[cache], b->p, size);
    } else {
        q = ta_realloc(b->p, size);
    }
    /* growth in place may hit the old arena's limit too */
    for (int j = 0; j < NARENAS; j++)
        may_fail |= b->arena == arenas[j] && limited[j];
    if (!size) {
        REQUIRE(q == NULL);
        live -= b->usable;
        b->p = NULL;
        return;
    }
    if (!q) {
        REQUIRE(may_fail && size > b->usable); /* a shrink never fails */
        verify(b, b->usable);
        return;
    }
    size_t keep = b->req < size ? b->req : size;
    block_t nb = *b;
    nb.p = q;
    verify(&nb, keep);
    /* a huge block moved by remapping its pages stays in its arena */
    bool remapped = b->huge && size > LARGE_MAX && in_arena(ta_arena_of(q), b->arena);
    if (q != b->p && !remapped) {
        nb.arena = src;
        nb.cache = cache;
        nb.unsized = false;
    }
    nb.req = size;
    nb.usable = ta_malloc_usable_size(q);
    nb.huge = q == b->p || remapped ? b->huge : nb.usable > LARGE_MAX;
    if (q == b->p && size <= SMALL_MAX &&
        (nb.usable > SMALL_MAX || size_class(size) != size_class(nb.usable)))
        nb.unsized = true;
    check_block(&nb, 1);
    live = live - b->usable + nb.usable;
    *b = nb;
    fill(b, keep);
}

/* Reset and destroy free every block of the arena, or refuse (EBUSY)
 * while a cache is bound to it. */
static void drop_arena(int k, bool destroy)
{
    bool bound = false;
    for (int c = 0; c < NCACHES; c++)
        bound |= caches[c] && cache_arena[c] == k;
    int err;
    if (destroy) {
        err = ta_arena_destroy(arenas[k]);
    } else {
        char name[64];
        snprintf(name, sizeof(name), "arena.%u.reset", ta_arena_index(arenas[k]));
        err = ta_ctl(name, NULL, NULL, NULL, 0);
    }
    REQUIRE(err == (bound ? EBUSY : 0));
    if (err)
        return;
    for (int s = 0; s < NSLOTS; s++)
        if (slots[s].p && slots[s].arena == arenas[k]) {
            live -= slots[s].usable;
            slots[s].p = NULL;
        }
    if (destroy) {
        arenas[k] = NULL;
        limited[k] = false;
    }
}

static void create_arena(fuzz_in_t *in, int k)
{
    static const int64_t decays[] = {TA_DECAY_DEFAULT, -1, 0, 1, 10000};
    ta_arena_opts o;
    ta_arena_opts_init(&o);
    uint8_t how = fuzz_u8(in);
    o.dirty_decay_ms = decays[how % 5];
    o.muzzy_decay_ms = decays[how / 5 % 5];
    if (how >= 200)
        o.limit = (size_t)fuzz_u16(in) << 10;
    arenas[k] = ta_arena_create(&o);
    REQUIRE(arenas[k] != NULL);
    limited[k] = o.limit != 0;
}

static void set_limit(fuzz_in_t *in, int k)
{
    size_t limit = (size_t)fuzz_u16(in) << 10, old = 0, len = sizeof(old);
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.limit", ta_arena_index(arenas[k]));
    REQUIRE(ta_ctl(name, &old, &len, &limit, sizeof(limit)) == 0);
    REQUIRE(limited[k] == (old != 0));
    limited[k] = limit != 0;
}

static void cache_op(fuzz_in_t *in, int c)
{
    uint8_t how = fuzz_u8(in);
    if (!caches[c]) {
        int k = how % (NARENAS + 1) - 1;
        if (k >= 0 && !arenas[k])
            return;
        caches[c] = ta_tcache_create(k >= 0 ? arenas[k] : NULL);
        REQUIRE(caches[c] != NULL);
        cache_arena[c] = k;
        ta_arena_t *on = ta_tcache_arena(caches[c]);
        REQUIRE(k >= 0 ? on == arenas[k] : on != NULL && !is_manual(on));
    } else if (how & 1) {
        ta_tcache_flush(caches[c]);
        REQUIRE(ta_tcache_cached_bytes(caches[c]) == 0);
    } else {
        ta_tcache_destroy(caches[c]);
        caches[c] = NULL;
        for (int s = 0; s < NSLOTS; s++)
            if (slots[s].cache == c)
                slots[s].cache = -1;
    }
}

static void purge(fuzz_in_t *in)
{
    uint8_t how = fuzz_u8(in);
    int k = how % (NARENAS + 1) - 1;
    if (k >= 0 && !arenas[k])
        return;
    unsigned i = k >= 0 ? ta_arena_index(arenas[k]) : TA_ARENAS_ALL;
    char name[64];
    snprintf(name, sizeof(name), how & 16 ? "arena.%u.purge" : "arena.%u.decay", i);
    REQUIRE(ta_ctl(name, NULL, NULL, NULL, 0) == 0);
}

static void one_op(fuzz_in_t *in)
{
    uint8_t op = fuzz_u8(in);
    block_t *b = &slots[fuzz_u8(in) % NSLOTS];
    int k = op >> 4 & 3;
    switch (op % 12) {
    case 0:
    case 1:
    case 2:
        if (!b->p)
            do_alloc(in, b);
        else
            do_free(in, b);
        break;
    case 3:
    case 4:
        if (b->p)
            do_realloc(in, b);
        else
            do_alloc(in, b);
        break;
    case 5:
        if (!arenas[k])
            create_arena(in, k);
        else
            drop_arena(k, op & 64);
        break;
    case 6:
        if (arenas[k])
            set_limit(in, k);
        break;
    case 7:
        cache_op(in, k);
        break;
    case 8:
        purge(in);
        break;
    case 9:
        REQUIRE(ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
        break;
    default:
        if (b->p) {
            verify(b, b->usable);
            check_block(b, 1);
        }
        break;
    }
}

/* Everything freed: each manual arena holds no active page, then goes. */
static void teardown(void)
{
    fuzz_in_t none = {NULL, 0};
    for (int s = 0; s < NSLOTS; s++)
        if (slots[s].p)
            do_free(&none, &slots[s]);
    REQUIRE(live == 0);
    for (int c = 0; c < NCACHES; c++)
        if (caches[c]) {
            ta_tcache_destroy(caches[c]);
            caches[c] = NULL;
        }
    for (int k = 0; k < NARENAS; k++) {
        if (!arenas[k])
            continue;
        REQUIRE(ctr_get(&arenas[k]->a.stats.pactive) == 0);
        check_arena(&arenas[k]->a);
        REQUIRE(ta_arena_destroy(arenas[k]) == 0);
        arenas[k] = NULL;
        limited[k] = false;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size};
    memset(slots, 0, sizeof(slots));
    for (unsigned op = 0; fuzz_left(&in) && op < MAX_OPS; op++) {
        one_op(&in);
        if (op < 16 || op % 4 == 0)
            check_all_arenas();
        REQUIRE(harness_failures == 0);
    }
    teardown();
    check_all_arenas();
    REQUIRE(harness_failures == 0);
    return 0;
}
