/* Alignment sweep: every power of two from 1 byte to 64 MiB with a range
 * of sizes through each aligned entry point, and the argument checks
 * posix_memalign and aligned_alloc must make. */
#include <errno.h>

#include "harness.h"
#include "tunalloc.h"

#define MAX_ALIGN ((size_t)64 << 20)

/* A block must honour the alignment, hold the request and be owned. */
static void check_block(char *p, size_t align, size_t size)
{
    CHECK(p != NULL);
    if (!p)
        return;
    CHECK_EQ((uintptr_t)p & (align - 1), 0);
    CHECK(ta_malloc_usable_size(p) >= size);
    CHECK(ta_owns(p));
    CHECK_EQ(ta_check_ptr(p), 0);
    if (size) {
        p[size - 1] = 'z';
        p[0] = 'a';
        CHECK(p[0] == 'a' && (size == 1 || p[size - 1] == 'z'));
    }
}

/* Sizes around the alignment and a few fixed ones, capped so the biggest
 * alignments do not ask for gigabytes. */
static size_t nth_size(size_t align, int i)
{
    switch (i) {
    case 0: return 1;
    case 1: return 24;
    case 2: return 5000;
    case 3: return align;
    case 4: return align > 1 ? align - 1 : 3;
    case 5: return align + 1;
    case 6: return align * 2 + 17;
    default: return 100000;
    }
}

/* Every power-of-two alignment through all three aligned entry points. */
static void test_sweep(void)
{
    for (size_t align = 1; align <= MAX_ALIGN; align <<= 1) {
        for (int i = 0; i < 8; i++) {
            size_t size = nth_size(align, i);
            void *p = NULL;
            int rc = ta_posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align,
                                       size);
            CHECK_EQ(rc, 0);
            check_block(p, align, size);
            char *q = ta_aligned_alloc(align, size);
            check_block(q, align, size);
            char *m = ta_memalign(align, size);
            check_block(m, align, size);
            ta_free(p);
            ta_free(q);
            ta_free(m);
        }
    }
}

/* Many live aligned blocks at once must not overlap. */
static void test_live_aligned_blocks(void)
{
    enum { N = 400 };
    char *p[N];
    size_t sz[N];
    for (int i = 0; i < N; i++) {
        size_t align = (size_t)1 << (i % 17);
        sz[i] = (size_t)(i * 37 % 3000) + 1;
        p[i] = ta_aligned_alloc(align, sz[i]);
        check_block(p[i], align, sz[i]);
        if (p[i])
            test_fill(p[i], sz[i], (uintptr_t)i);
    }
    for (int i = 0; i < N; i++)
        if (p[i])
            CHECK_EQ(test_verify(p[i], sz[i], (uintptr_t)i), sz[i]);
    for (int i = 0; i < N; i++)
        ta_free(p[i]);
}

/* Bad alignments: EINVAL from posix_memalign, NULL with EINVAL from
 * aligned_alloc. */
static void test_invalid_alignment(void)
{
    static const size_t bad_posix[] = {0, 1, 2, 4, 3, 12, 24, 48, 1000,
                                       ((size_t)1 << 20) + 8, SIZE_MAX};
    for (size_t i = 0; i < sizeof(bad_posix) / sizeof(bad_posix[0]); i++) {
        if (bad_posix[i] && bad_posix[i] >= sizeof(void *) &&
            !(bad_posix[i] & (bad_posix[i] - 1)))
            continue;
        void *p = NULL;
        CHECK_EQ(ta_posix_memalign(&p, bad_posix[i], 16), EINVAL);
    }
    static const size_t bad_c11[] = {0, 3, 24, 48, 1000, SIZE_MAX};
    for (size_t i = 0; i < sizeof(bad_c11) / sizeof(bad_c11[0]); i++) {
        errno = 0;
        CHECK(ta_aligned_alloc(bad_c11[i], 64) == NULL);
        CHECK_EQ(errno, EINVAL);
    }
}

/* Alignments or sizes no mapping can satisfy fail cleanly. */
static void test_impossible_requests(void)
{
    void *p = NULL;
    CHECK_EQ(ta_posix_memalign(&p, 64, SIZE_MAX), ENOMEM);
    CHECK_EQ(ta_posix_memalign(&p, (size_t)1 << 62, 1), ENOMEM);
    errno = 0;
    CHECK(ta_aligned_alloc((size_t)1 << 62, 1) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(ta_aligned_alloc(4096, SIZE_MAX - 100) == NULL);
    CHECK_EQ(errno, ENOMEM);
}

/* Aligned allocation inside a manual arena stays in that arena. */
static void test_arena_aligned(void)
{
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    for (size_t align = 16; align <= ((size_t)8 << 20); align <<= 1) {
        char *p = ta_arena_aligned_alloc(ar, align, 3 * align / 2);
        check_block(p, align, 3 * align / 2);
        CHECK(ta_arena_of(p) == ar);
        ta_free(p);
    }
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    RUN(test_sweep);
    RUN(test_live_aligned_blocks);
    RUN(test_invalid_alignment);
    RUN(test_impossible_requests);
    RUN(test_arena_aligned);
    return TEST_EXIT();
}
