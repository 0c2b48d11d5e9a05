/* The malloc family's edge cases: malloc(0), free(NULL), calloc zeroing
 * of recycled memory and its overflow check, impossible sizes failing with
 * ENOMEM, usable sizes and sized free. */
#include <errno.h>

#include "harness.h"

static const size_t impossible[] = {SIZE_MAX, SIZE_MAX - 4096, SIZE_MAX / 2,
                                    (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62,
                                    (size_t)1 << 48, ((size_t)1 << 47) + 1};
#define NIMPOSSIBLE (sizeof(impossible) / sizeof(impossible[0]))

/* malloc(0) gives distinct, owned, freeable blocks. */
static void test_malloc_zero(void)
{
    enum { N = 100 };
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = ta_malloc(0);
        CHECK(p[i] != NULL);
        CHECK(ta_owns(p[i]));
        for (int j = 0; j < i; j++)
            CHECK(p[i] != p[j]);
    }
    for (int i = 0; i < N; i++)
        ta_free(p[i]);
    void *c = ta_calloc(0, 10);
    CHECK(c != NULL);
    ta_free(c);
}

/* Freeing NULL in every form is a no-op. */
static void test_free_null(void)
{
    ta_free(NULL);
    ta_free_sized(NULL, 0);
    ta_free_sized(NULL, 100);
    CHECK_EQ(ta_malloc_usable_size(NULL), 0);
    void *p = ta_malloc(10);
    CHECK(p != NULL);
    ta_free(p);
}

/* Memory written with junk and freed comes back zeroed from calloc, at
 * every size kind. */
static void test_calloc_zeroes_recycled(void)
{
    static const size_t sizes[] = {1, 16, 100, 1000, 4000, TEST_SMALL_MAX,
                                   TEST_SMALL_MAX + 1, 100000, TEST_LARGE_MAX,
                                   TEST_LARGE_MAX + 1, (size_t)7 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int round = 0; round < 8; round++) {
            enum { K = 8 };
            char *p[K];
            for (int k = 0; k < K; k++) {
                p[k] = ta_malloc(sizes[i]);
                CHECK(p[k] != NULL);
                if (p[k])
                    memset(p[k], 0xa5, ta_malloc_usable_size(p[k]));
            }
            for (int k = 0; k < K; k++)
                ta_free(p[k]);
            for (int k = 0; k < K; k++) {
                p[k] = ta_calloc(1, sizes[i]);
                CHECK(p[k] != NULL);
                if (p[k])
                    CHECK(test_all_zero(p[k], sizes[i]));
            }
            for (int k = 0; k < K; k++)
                ta_free(p[k]);
        }
    }
    char *q = ta_calloc(1000, 1000);
    CHECK(q && test_all_zero(q, 1000000));
    ta_free(q);
}

/* n*size overflowing size_t is NULL with ENOMEM, not a short block. */
static void test_calloc_overflow(void)
{
    static const size_t pairs[][2] = {{SIZE_MAX, 2}, {2, SIZE_MAX}, {SIZE_MAX / 2 + 1, 2},
                                      {(size_t)1 << 32, (size_t)1 << 32},
                                      {(size_t)1 << 33, (size_t)1 << 31}, {SIZE_MAX, SIZE_MAX}};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        errno = 0;
        CHECK(ta_calloc(pairs[i][0], pairs[i][1]) == NULL);
        CHECK_EQ(errno, ENOMEM);
    }
}

/* Impossible requests fail with ENOMEM through every entry point, a
 * failed realloc or posix_memalign leaves what it was given untouched, and
 * the allocator keeps working afterwards. */
static void test_impossible_sizes(void)
{
    unsigned char *keep = ta_malloc(5000);
    CHECK(keep != NULL);
    if (!keep)
        return;
    test_fill(keep, 5000, 77);
    for (size_t i = 0; i < NIMPOSSIBLE; i++) {
        errno = 0;
        CHECK(ta_malloc(impossible[i]) == NULL);
        CHECK_EQ(errno, ENOMEM);
        errno = 0;
        CHECK(ta_calloc(1, impossible[i]) == NULL);
        CHECK_EQ(errno, ENOMEM);
        errno = 0;
        CHECK(ta_realloc(NULL, impossible[i]) == NULL);
        CHECK_EQ(errno, ENOMEM);
        errno = 0;
        CHECK(ta_aligned_alloc(64, impossible[i]) == NULL);
        CHECK_EQ(errno, ENOMEM);
        errno = 0;
        CHECK(ta_aligned_alloc(4096, impossible[i]) == NULL);
        CHECK_EQ(errno, ENOMEM);
        errno = 0;
        CHECK(ta_memalign(64, impossible[i]) == NULL);
        CHECK_EQ(errno, ENOMEM);
        void *out = keep;
        CHECK_EQ(ta_posix_memalign(&out, 64, impossible[i]), ENOMEM);
        CHECK(out == keep);
        errno = 0;
        CHECK(ta_realloc(keep, impossible[i]) == NULL);
        CHECK_EQ(errno, ENOMEM);
        CHECK_EQ(test_verify(keep, 5000, 77), 5000);
    }
    errno = 0;
    CHECK(ta_calloc(SIZE_MAX / 2, 3) == NULL);
    CHECK_EQ(errno, ENOMEM);
    CHECK(ta_aligned_alloc((size_t)1 << 62, 10) == NULL);
    ta_free(keep);
    void *p = ta_malloc(100);
    CHECK(p != NULL);
    ta_free(p);
}

/* Usable size covers the request and all of it is writable. */
static void test_usable_size(void)
{
    for (size_t s = 0; s < 70000; s += 1 + s / 5) {
        char *p = ta_malloc(s);
        CHECK(p != NULL);
        if (!p)
            continue;
        size_t u = ta_malloc_usable_size(p);
        CHECK(u >= s);
        memset(p, 0x11, u);
        ta_free(p);
    }
}

/* Sized free with the requested size releases blocks of every kind; the
 * memory is reused without corruption. */
static void test_free_sized(void)
{
    enum { N = 300 };
    char *p[N];
    size_t sz[N];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            sz[i] = (size_t)((i * 7919) % (i % 10 == 0 ? 3000000 : 20000));
            p[i] = ta_malloc(sz[i]);
            CHECK(p[i] != NULL);
            test_fill(p[i], sz[i], (uintptr_t)i);
        }
        for (int i = 0; i < N; i++)
            CHECK_EQ(test_verify(p[i], sz[i], (uintptr_t)i), sz[i]);
        for (int i = 0; i < N; i++)
            ta_free_sized(p[i], sz[i]);
    }
    char *r = ta_realloc(NULL, 50);
    r = ta_realloc(r, 5000);
    CHECK(r != NULL);
    ta_free_sized(r, 5000);
}

int main(void)
{
    RUN(test_malloc_zero);
    RUN(test_free_null);
    RUN(test_calloc_zeroes_recycled);
    RUN(test_calloc_overflow);
    RUN(test_impossible_sizes);
    RUN(test_usable_size);
    RUN(test_free_sized);
    return TEST_EXIT();
}
