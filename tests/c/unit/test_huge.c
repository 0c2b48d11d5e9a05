/* Unit test of huge.c.
 * Huge blocks reuse freed mappings: a smaller block takes part of a cached
 * one and the rest stays cached; a bigger one is filled with cached pages
 * moved in by mremap, from several mappings at once. Checked: contents,
 * zeroing, ownership of every unit, stats that add up, page faults not
 * taken for reused pages, and realloc of a block gathered from pieces.
 * Linked with --wrap=mremap, so tests can make the kernel refuse a move
 * part way, which no real kernel can be made to do on demand. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"
#include "huge.h"
#include "owner_map.h"

#define MIB ((size_t)1 << 20)

/* The outcome of each coming fixed mremap ('y' moves, 'n' refuses) and
 * whether in-place extensions are refused; past the script, all moves. */
static const char *move_script = "";
static bool refuse_extend;

void *__real_mremap(void *old, size_t old_size, size_t new_size, int flags, ...);

void *__wrap_mremap(void *old, size_t old_size, size_t new_size, int flags, ...)
{
    void *target = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        target = va_arg(ap, void *);
        va_end(ap);
        if (*move_script != '\0' && *move_script++ == 'n') {
            errno = ENOMEM;
            return MAP_FAILED;
        }
    } else if (refuse_extend) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    return __real_mremap(old, old_size, new_size, flags, target);
}

/* msync fails with ENOMEM exactly when part of the range is not mapped. */
static bool unmapped(const char *p, size_t len)
{
    for (size_t off = 0; off < len; off += 4096)
        if (msync((void *)(p + off), 4096, MS_ASYNC) == 0 || errno != ENOMEM)
            return false;
    return true;
}

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static arena_t *internal(ta_arena_t *ar) { return &((struct ta_arena *)ar)->a; }

static size_t cached_mappings(ta_arena_t *ar)
{
    size_t n = 0;
    for (huge_t *s = internal(ar)->huge_cache; s; s = s->next)
        n++;
    return n;
}

/* Every page gets a pattern of its block and page number. */
static void fill_pattern(unsigned char *p, size_t size, unsigned char tag)
{
    for (size_t off = 0; off < size; off += 4096)
        p[off] = (unsigned char)(tag + off / 4096);
    p[size - 1] = tag;
}

static int pattern_ok(const unsigned char *p, size_t size, unsigned char tag)
{
    for (size_t off = 0; off < size; off += 4096)
        if (p[off] != (unsigned char)(tag + off / 4096))
            return 0;
    return p[size - 1] == tag;
}

/* Every unit a live block covers is owned, as the head of the mapping
 * for the first and a tail for the rest. */
static void check_owned(const void *p, size_t size)
{
    const char *base = (const char *)head_of(p);
    CHECK_EQ(tai_owner_map_unit(base), OWNER_HEAD);
    for (size_t off = SEGMENT_SIZE; off < (size_t)((const char *)p + size - base);
         off += SEGMENT_SIZE)
        CHECK_EQ(tai_owner_map_unit(base + off), OWNER_TAIL);
    CHECK(ta_owns((const char *)p + size - 1));
}

/* Mapped bytes and dirty pages agree with the arena's lists. */
static void check_stats(ta_arena_t *ar)
{
    arena_t *a = internal(ar);
    uint64_t mapped = 0, dirty = 0;
    for (huge_t *s = a->huge_live; s; s = s->next)
        mapped += s->map_size;
    for (huge_t *s = a->huge_cache; s; s = s->next) {
        mapped += s->map_size;
        dirty += s->usize >> tai_lg_page;
        CHECK(s->usize <= s->map_size);
    }
    for (segment_t *s = a->segments; s; s = s->next)
        mapped += SEGMENT_SIZE;
    CHECK_EQ(ctr_get(&a->stats.mapped), mapped);
    CHECK(ctr_get(&a->stats.pdirty) >= dirty);
}

/* A test's end: its last block freed and its arena destroyed, with the
 * stats checked on both sides of the free. */
static void free_last(ta_arena_t *ar, void *p)
{
    check_stats(ar);
    ta_free(p);
    check_stats(ar);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* A 40 MiB mapping serves a 6 MiB block; its other units stay cached and
 * serve a second block. */
static void test_split_serves_smaller_blocks(void)
{
    ta_arena_t *ar = test_keeping_arena();
    unsigned char *big = ta_arena_malloc(ar, 40 * MIB);
    CHECK(big != NULL);
    fill_pattern(big, 40 * MIB, 1);
    ta_free(big);
    CHECK_EQ(cached_mappings(ar), 1);
    unsigned char *a = ta_arena_malloc(ar, 6 * MIB);
    CHECK(a == big);
    CHECK_EQ(cached_mappings(ar), 1); /* the split-off tail */
    check_stats(ar);
    long before = minor_faults();
    unsigned char *b = ta_arena_malloc(ar, 20 * MIB);
    CHECK(b != NULL);
    fill_pattern(a, 6 * MIB, 2);
    fill_pattern(b, 20 * MIB, 3);
    if (!TEST_SANITIZED)
        CHECK(minor_faults() - before < (long)(MIB / 4096));
    CHECK(pattern_ok(a, 6 * MIB, 2));
    CHECK(pattern_ok(b, 20 * MIB, 3));
    check_owned(a, 6 * MIB);
    check_owned(b, 20 * MIB);
    check_stats(ar);
    ta_free(a);
    ta_free(b);
    check_stats(ar);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* Three freed 6 MiB blocks fill one 16 MiB block: its pages are the
 * cached ones, so writing them takes (almost) no page faults. */
static void test_gather_fills_bigger_block(void)
{
    ta_arena_t *ar = test_keeping_arena();
    unsigned char *part[3];
    for (int i = 0; i < 3; i++) {
        part[i] = ta_arena_malloc(ar, 6 * MIB);
        CHECK(part[i] != NULL);
        fill_pattern(part[i], 6 * MIB, (unsigned char)(10 + i));
    }
    for (int i = 0; i < 3; i++)
        ta_free(part[i]);
    CHECK_EQ(cached_mappings(ar), 3);
    long before = minor_faults();
    unsigned char *p = ta_arena_malloc(ar, 16 * MIB);
    CHECK(p != NULL);
    fill_pattern(p, 16 * MIB, 20);
    if (!TEST_SANITIZED)
        CHECK(minor_faults() - before < (long)(4 * MIB / 4096));
    CHECK(pattern_ok(p, 16 * MIB, 20));
    check_owned(p, 16 * MIB);
    free_last(ar, p);
}

/* calloc over reused pages reads zero everywhere, whichever way the
 * pages were reused. */
static void test_calloc_on_reused_pages(void)
{
    ta_arena_t *ar = test_keeping_arena();
    size_t sizes[] = {30 * MIB, 5 * MIB, 9 * MIB, 3 * MIB};
    unsigned char *p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = ta_arena_malloc(ar, sizes[i]);
        CHECK(p[i] != NULL);
        memset(p[i], 0xab, sizes[i]);
    }
    for (int i = 0; i < 4; i++)
        ta_free(p[i]);
    size_t want[] = {7 * MIB, 33 * MIB, (size_t)2 * MIB + 4096, 12 * MIB};
    for (int i = 0; i < 4; i++) {
        unsigned char *z = ta_arena_calloc(ar, 1, want[i]);
        CHECK(z != NULL);
        size_t nonzero = 0;
        for (size_t j = 0; j < want[i]; j += 512)
            nonzero += z[j] != 0;
        CHECK_EQ(nonzero, 0);
        CHECK_EQ(z[want[i] - 1], 0);
        memset(z, 0xcd, want[i]);
        p[i] = z;
    }
    for (int i = 0; i < 4; i++)
        ta_free(p[i]);
    check_stats(ar);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* A block gathered from several mappings spans several VMAs; growing and
 * shrinking it keeps its contents and its ownership. */
static void test_realloc_gathered_block(void)
{
    ta_arena_t *ar = test_keeping_arena();
    unsigned char *part[4];
    for (int i = 0; i < 4; i++) {
        part[i] = ta_arena_malloc(ar, 7 * MIB);
        CHECK(part[i] != NULL);
        memset(part[i], 0x11, 7 * MIB);
    }
    for (int i = 0; i < 4; i++)
        ta_free(part[i]);
    unsigned char *p = ta_arena_malloc(ar, 18 * MIB);
    CHECK(p != NULL);
    fill_pattern(p, 18 * MIB, 40);
    unsigned char *q = ta_arena_realloc(ar, p, 50 * MIB);
    CHECK(q != NULL);
    for (size_t off = 0; off < 18 * MIB; off += 4096)
        CHECK_EQ(q[off], (unsigned char)(40 + off / 4096));
    fill_pattern(q, 50 * MIB, 41);
    check_owned(q, 50 * MIB);
    unsigned char *r = ta_arena_realloc(ar, q, 9 * MIB);
    CHECK(r != NULL);
    for (size_t off = 0; off < 9 * MIB; off += 4096)
        CHECK_EQ(r[off], (unsigned char)(41 + off / 4096));
    check_owned(r, 9 * MIB);
    free_last(ar, r);
}

/* A purge unmaps every cached piece: nothing dirty or mapped is left,
 * and the pieces' units are no longer owned. */
static void test_purge_returns_pieces(void)
{
    ta_arena_t *ar = test_keeping_arena();
    unsigned char *big = ta_arena_malloc(ar, 48 * MIB);
    CHECK(big != NULL);
    memset(big, 1, 48 * MIB);
    ta_free(big);
    unsigned char *small = ta_arena_malloc(ar, 5 * MIB);
    CHECK(small == big);
    CHECK(cached_mappings(ar) >= 1);
    char name[64];
    snprintf(name, sizeof name, "arena.%u.purge", ta_arena_index(ar));
    CHECK_EQ(ta_ctl(name, NULL, NULL, NULL, 0), 0);
    CHECK_EQ(cached_mappings(ar), 0);
    CHECK(!ta_owns(big + 40 * MIB));
    check_owned(small, 5 * MIB);
    ta_free(small);
    CHECK_EQ(ta_ctl(name, NULL, NULL, NULL, 0), 0);
    CHECK_EQ(cached_mappings(ar), 0);
    check_stats(ar);
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

/* A realloc that cannot extend in place and meets the given moves; the
 * script must be used up, or the path under test did not run. */
static void *realloc_scripted(ta_arena_t *ar, void *p, size_t size, const char *script)
{
    refuse_extend = true;
    move_script = script;
    void *q = ta_arena_realloc(ar, p, size);
    CHECK_EQ(*move_script, '\0');
    refuse_extend = false;
    move_script = "";
    return q;
}

/* Growth by moving, where the kernel takes the whole mapping once, then
 * only its first unit: that unit stays moved (another mapping may sit
 * where it was) and the rest of the block is copied after it. */
static void test_grow_when_move_stops_part_way(void)
{
    ta_arena_t *ar = test_keeping_arena();
    unsigned char *p = ta_arena_malloc(ar, 10 * MIB);
    CHECK(p != NULL);
    fill_pattern(p, 10 * MIB, 50);
    char *old_base = (char *)head_of(p);
    size_t old_map = head_huge(head_of(p))->map_size;
    /* all at once: no; unit by unit: one, then no */
    unsigned char *q = realloc_scripted(ar, p, 30 * MIB, "nyn");
    CHECK(q != NULL && q != p);
    CHECK(pattern_ok(q, 10 * MIB, 50));
    fill_pattern(q, 30 * MIB, 51);
    CHECK(pattern_ok(q, 30 * MIB, 51));
    check_owned(q, 30 * MIB);
    for (size_t off = 0; off < old_map; off += SEGMENT_SIZE)
        CHECK_EQ(tai_owner_map_unit(old_base + off), OWNER_NONE);
    CHECK(unmapped(old_base, old_map));
    free_last(ar, q);
}

/* Growth filled from a cached mapping, where the kernel moves one of the
 * units taken from it: the block keeps that unit and fresh pages for the
 * rest, the units taken but not moved are unmapped, and the untaken part
 * of the mapping stays cached. */
static void test_fill_when_move_stops_part_way(void)
{
    ta_arena_t *ar = test_keeping_arena();
    unsigned char *p = ta_arena_malloc(ar, 5 * MIB);
    unsigned char *b = ta_arena_malloc(ar, 20 * MIB);
    CHECK(p != NULL && b != NULL);
    fill_pattern(p, 5 * MIB, 60);
    memset(b, 0x77, 20 * MIB);
    ta_free(b);
    CHECK_EQ(cached_mappings(ar), 1);
    char *cached = (char *)internal(ar)->huge_cache;
    size_t cached_map = internal(ar)->huge_cache->map_size;
    /* the block moves; then from the cache: no, one, no */
    unsigned char *q = realloc_scripted(ar, p, 25 * MIB, "ynyn");
    CHECK(q != NULL);
    CHECK(pattern_ok(q, 5 * MIB, 60));
    fill_pattern(q, 25 * MIB, 61);
    CHECK(pattern_ok(q, 25 * MIB, 61));
    check_owned(q, 25 * MIB);
    CHECK_EQ(cached_mappings(ar), 1);
    /* the block grew from two units to seven and asked the cache for
     * four: the mapping's last four, of which one moved and three were
     * unmapped; its first two stay cached */
    CHECK(internal(ar)->huge_cache == (huge_t *)cached);
    CHECK_EQ(internal(ar)->huge_cache->map_size, cached_map - 4 * SEGMENT_SIZE);
    CHECK(unmapped(cached + cached_map - 3 * SEGMENT_SIZE, 3 * SEGMENT_SIZE));
    free_last(ar, q);
}

int main(void)
{
    RUN(test_split_serves_smaller_blocks);
    RUN(test_gather_fills_bigger_block);
    RUN(test_calloc_on_reused_pages);
    RUN(test_realloc_gathered_block);
    RUN(test_purge_returns_pieces);
    RUN(test_grow_when_move_stops_part_way);
    RUN(test_fill_when_move_stops_part_way);
    return TEST_EXIT();
}
