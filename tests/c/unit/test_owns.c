/* Unit test of owner_map.c.
 * ta_owns and the owner map behind it: true for every address of memory
 * tunalloc manages, false for anything else (stack, static data, glibc's
 * heap, foreign mappings), including after tunalloc unmaps memory. */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"
#include "owner_map.h"
#include "sizeclass.h"
#include "tunalloc.h"

/* glibc's own allocator, reachable even when malloc is interposed. */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);

static char static_buf[4096];
static const char static_ro[] = "read-only data";

/* The map itself: set, query at the edges, clear, on memory mapped here
 * (so nothing tunalloc uses is disturbed). */
static void test_owner_map_unit(void)
{
    size_t span = 3 * SEGMENT_SIZE;
    char *raw = mmap(NULL, span + SEGMENT_SIZE, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(raw != MAP_FAILED);
    if (raw == MAP_FAILED)
        return;
    char *seg = (char *)align_up((uintptr_t)raw, SEGMENT_SIZE);
    CHECK(!tai_owner_map_get(seg));
    CHECK(tai_owner_map_set(seg, span, OWNER_HEAD));
    CHECK(tai_owner_map_get(seg));
    CHECK(tai_owner_map_get(seg + 1));
    CHECK(tai_owner_map_get(seg + SEGMENT_SIZE + 12345));
    CHECK(tai_owner_map_get(seg + span - 1));
    CHECK(!tai_owner_map_get(seg + span));
    CHECK(!tai_owner_map_get(seg - 1));
    CHECK(tai_owner_map_set(seg + SEGMENT_SIZE, SEGMENT_SIZE, OWNER_NONE));
    CHECK(tai_owner_map_get(seg));
    CHECK(!tai_owner_map_get(seg + SEGMENT_SIZE));
    CHECK(tai_owner_map_get(seg + 2 * SEGMENT_SIZE));
    CHECK(tai_owner_map_set(seg, span, OWNER_NONE));
    CHECK(!tai_owner_map_get(seg));
    CHECK(!tai_owner_map_get(seg + span - 1));
    /* beyond the user address space: refused, never owned */
    CHECK(!tai_owner_map_get((void *)(uintptr_t)0xffff800000001000ull));
    CHECK(!tai_owner_map_set((void *)(uintptr_t)0xffff800000000000ull, SEGMENT_SIZE, OWNER_HEAD));
    munmap(raw, span + SEGMENT_SIZE);
}

/* Every byte of a block, first to last usable, is owned. */
static void check_block_owned(const char *p, size_t size)
{
    size_t u = ta_malloc_usable_size(p);
    CHECK(ta_owns(p));
    CHECK(ta_owns(p + size / 2));
    CHECK(ta_owns(p + u - 1));
    for (size_t off = 0; off < u; off += 65536)
        CHECK(ta_owns(p + off));
}

/* Small, large, huge, over-aligned and manual-arena blocks: all owned. */
static void test_owned_blocks(void)
{
    static const size_t sizes[] = {1, 16, 100, 4000, 16384, 20000, 200000,
                                   LARGE_MAX, LARGE_MAX + 1, 9u << 20, 70u << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *p = ta_malloc(sizes[i]);
        CHECK(p != NULL);
        if (!p)
            continue;
        check_block_owned(p, sizes[i]);
        ta_free(p);
    }
    char *a = ta_aligned_alloc((size_t)16 << 20, (size_t)5 << 20);
    CHECK(a != NULL);
    if (a) {
        check_block_owned(a, (size_t)5 << 20);
        ta_free(a);
    }
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (ar) {
        char *q = ta_arena_malloc(ar, 300);
        CHECK(q && ta_owns(q));
        CHECK(ta_arena_destroy(ar) == 0);
    }
}

/* Any address inside a block names the block's arena, also past the
 * first segment unit of a huge block, where the block's own bytes (here
 * a pattern that reads as a wild pointer) lie where a header would. */
static void check_arena_of_inside(char *p, size_t size, ta_arena_t *want)
{
    memset(p, 0x5a, size);
    size_t u = ta_malloc_usable_size(p);
    for (size_t off = 0; off < u; off += 256 * 1024)
        CHECK(ta_arena_of(p + off) == want);
    CHECK(ta_arena_of(p + u - 1) == want);
}

static void test_arena_of_interior(void)
{
    static const size_t sizes[] = {100, 20000, LARGE_MAX, 9u << 20, 70u << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *p = ta_malloc(sizes[i]);
        CHECK(p != NULL);
        if (!p)
            continue;
        check_arena_of_inside(p, sizes[i], ta_arena_of(p));
        CHECK(ta_arena_of(p) != NULL);
        ta_free(p);
    }
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    char *q = ta_arena_malloc(ar, (size_t)12 << 20);
    char *r = ta_arena_aligned_alloc(ar, (size_t)8 << 20, (size_t)9 << 20);
    CHECK(q != NULL && r != NULL);
    if (q)
        check_arena_of_inside(q, (size_t)12 << 20, ar);
    if (r)
        check_arena_of_inside(r, (size_t)9 << 20, ar);
    CHECK(ta_arena_destroy(ar) == 0);
}

/* Foreign memory of every kind the bindings meet must read as not owned. */
static void test_foreign_not_owned(void)
{
    char stack_buf[256];
    int local = 0;
    CHECK(!ta_owns(NULL));
    CHECK(!ta_owns(stack_buf));
    CHECK(!ta_owns(&local));
    CHECK(!ta_owns(static_buf));
    CHECK(!ta_owns(static_ro));
    CHECK(!ta_owns((const void *)test_owner_map_unit));
    CHECK(!ta_owns((void *)(uintptr_t)1));
    CHECK(!ta_owns((void *)UINTPTR_MAX));
    CHECK(!ta_owns((void *)(uintptr_t)0xffff800000000000ull));
    static const size_t sizes[] = {8, 200, 5000, 100000, 200000, 5u << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *g = __libc_malloc(sizes[i]);
        char *m = malloc(sizes[i]);
        CHECK(g && m);
        if (g)
            CHECK(!ta_owns(g) && !ta_owns(g + sizes[i] - 1));
        if (m)
            CHECK(!ta_owns(m) && !ta_owns(m + sizes[i] - 1));
        __libc_free(g);
        free(m);
    }
}

/* Foreign mappings made right after tunalloc mapped odd-sized huge blocks
 * tend to land in the holes those leave; none of them may be owned. */
static void test_foreign_mappings_near_huge_blocks(void)
{
    enum { NBLOCKS = 6, NMAPS = 48 };
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *blocks[NBLOCKS];
    void *maps[NMAPS];
    size_t map_size[NMAPS];
    for (int i = 0; i < NBLOCKS; i++) {
        blocks[i] = ta_malloc(SEGMENT_SIZE + (size_t)(i + 1) * 3 * page);
        CHECK(blocks[i] != NULL);
    }
    for (int i = 0; i < NMAPS; i++) {
        map_size[i] = page << (i % 8);
        maps[i] = mmap(NULL, map_size[i], PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(maps[i] != MAP_FAILED);
        if (maps[i] == MAP_FAILED)
            continue;
        CHECK(!ta_owns(maps[i]));
        CHECK(!ta_owns((char *)maps[i] + map_size[i] - 1));
    }
    for (int i = 0; i < NMAPS; i++)
        if (maps[i] != MAP_FAILED)
            munmap(maps[i], map_size[i]);
    for (int i = 0; i < NBLOCKS; i++)
        ta_free(blocks[i]);
}

/* After a huge block is freed, its address either still belongs to
 * tunalloc (kept for reuse: owned) or was unmapped, in which case a foreign
 * mapping placed exactly there must not be owned. */
static void test_freed_huge_blocks(void)
{
    ta_arena_opts o;
    ta_arena_opts_init(&o);
    o.dirty_decay_ms = 0;
    o.muzzy_decay_ms = 0;
    ta_arena_t *ar = ta_arena_create(&o);
    CHECK(ar != NULL);
    if (!ar)
        return;
    for (int i = 1; i <= 4; i++) {
        size_t size = (size_t)i * 3 * (LARGE_MAX + 4096);
        char *p = ta_arena_malloc(ar, size);
        CHECK(p != NULL);
        if (!p)
            continue;
        memset(p, 1, 4096);
        ta_free(p);
        void *q = mmap(p, 4096, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (q == MAP_FAILED) {
            CHECK(errno == EEXIST);
            CHECK(ta_owns(p));
        } else {
            CHECK(q == p);
            CHECK(!ta_owns(p));
            munmap(q, 4096);
        }
    }
    CHECK(ta_arena_destroy(ar) == 0);
}

int main(void)
{
    RUN(test_owner_map_unit);
    RUN(test_owned_blocks);
    RUN(test_arena_of_interior);
    RUN(test_foreign_not_owned);
    RUN(test_foreign_mappings_near_huge_blocks);
    RUN(test_freed_huge_blocks);
    return TEST_EXIT();
}
