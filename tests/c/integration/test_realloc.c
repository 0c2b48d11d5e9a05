/* realloc: content survives every move between small, large and huge
 * blocks, growth and shrinkage within a size class stays in place, and a
 * failed realloc leaves the old block intact. */
#include <errno.h>

#include "harness.h"

static const size_t chain[] = {1, 7, 16, 100, 128, 129, 1000, 4096, 5000,
                               TEST_SMALL_MAX, TEST_SMALL_MAX + 1, 40000, 300000,
                               TEST_LARGE_MAX, TEST_LARGE_MAX + 1, (size_t)9 << 20,
                               (size_t)48 << 20, (size_t)3 << 20, TEST_LARGE_MAX - 1,
                               100000, 20000, 3000, 200, 17, 1};
#define NCHAIN (sizeof(chain) / sizeof(chain[0]))

/* Walks the chain up and down: the common prefix must survive each step. */
static void test_chain(void)
{
    char *p = ta_realloc(NULL, chain[0]);
    CHECK(p != NULL);
    test_fill(p, chain[0], 0);
    for (size_t i = 1; i < NCHAIN && p; i++) {
        size_t keep = chain[i] < chain[i - 1] ? chain[i] : chain[i - 1];
        char *q = ta_realloc(p, chain[i]);
        CHECK(q != NULL);
        if (!q)
            break;
        CHECK_EQ(test_verify(q, keep, i - 1), keep);
        CHECK(ta_malloc_usable_size(q) >= chain[i]);
        test_fill(q, chain[i], i);
        p = q;
    }
    ta_free(p);
}

/* Any new size with the same usable size keeps the block where it is. */
static void test_same_class_in_place(void)
{
    for (size_t s = 1; s <= TEST_SMALL_MAX; s += 1 + s / 9) {
        char *p = ta_malloc(s);
        CHECK(p != NULL);
        if (!p)
            continue;
        size_t u = ta_malloc_usable_size(p);
        test_fill(p, s, s);
        char *q = ta_realloc(p, u);
        CHECK(q == p);
        q = ta_realloc(q, s);
        CHECK(q == p);
        CHECK_EQ(test_verify(q, s, s), s);
        ta_free(q);
    }
}

/* Large blocks shrink in place, freeing their tail. */
static void test_large_shrink_in_place(void)
{
    for (size_t s = (size_t)64 << 10; s <= TEST_LARGE_MAX; s *= 2) {
        char *p = ta_malloc(s);
        CHECK(p != NULL);
        if (!p)
            continue;
        test_fill(p, s, 3);
        char *q = ta_realloc(p, s / 2 + 1);
        CHECK(q == p);
        CHECK_EQ(test_verify(q, s / 2 + 1, 3), s / 2 + 1);
        ta_free(q);
    }
}

/* Many live blocks reallocated in turn: no block clobbers another. */
static void test_many_live(void)
{
    enum { N = 500 };
    char *p[N];
    size_t sz[N];
    uint64_t seed = 77;
    for (int i = 0; i < N; i++) {
        sz[i] = (size_t)(test_rand(&seed) % 3000) + 1;
        p[i] = ta_malloc(sz[i]);
        CHECK(p[i] != NULL);
        test_fill(p[i], sz[i], (uintptr_t)i);
    }
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < N; i++) {
            size_t ns = (size_t)(test_rand(&seed) % (round % 2 ? 70000 : 2000)) + 1;
            char *q = ta_realloc(p[i], ns);
            CHECK(q != NULL);
            if (!q)
                continue;
            size_t keep = ns < sz[i] ? ns : sz[i];
            CHECK_EQ(test_verify(q, keep, (uintptr_t)i), keep);
            test_fill(q, ns, (uintptr_t)i);
            p[i] = q;
            sz[i] = ns;
        }
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ(test_verify(p[i], sz[i], (uintptr_t)i), sz[i]);
    for (int i = 0; i < N; i++)
        ta_free(p[i]);
}

/* A request no mapping can satisfy returns NULL with ENOMEM and leaves the
 * old block valid and unchanged. */
static void test_failed_realloc_keeps_block(void)
{
    static const size_t sizes[] = {100, 50000, (size_t)5 << 20};
    static const size_t huge[] = {SIZE_MAX, SIZE_MAX / 2, (size_t)PTRDIFF_MAX + 1};
    for (size_t i = 0; i < 3; i++) {
        char *p = ta_malloc(sizes[i]);
        CHECK(p != NULL);
        if (!p)
            continue;
        test_fill(p, sizes[i], i);
        for (size_t j = 0; j < 3; j++) {
            errno = 0;
            CHECK(ta_realloc(p, huge[j]) == NULL);
            CHECK_EQ(errno, ENOMEM);
        }
        CHECK_EQ(test_verify(p, sizes[i], i), sizes[i]);
        CHECK_EQ(ta_check_ptr(p), 0);
        ta_free(p);
    }
}

/* realloc inside a manual arena keeps the block in that arena. */
static void test_arena_realloc(void)
{
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    char *p = ta_arena_realloc(ar, NULL, 10);
    CHECK(p != NULL);
    test_fill(p, 10, 1);
    for (size_t i = 0; i < NCHAIN && p; i++) {
        size_t prev = i ? chain[i - 1] : 10;
        size_t keep = chain[i] < prev ? chain[i] : prev;
        char *q = ta_arena_realloc(ar, p, chain[i]);
        CHECK(q != NULL);
        if (!q)
            break;
        CHECK(ta_arena_of(q) == ar);
        CHECK_EQ(test_verify(q, keep, i ? i - 1 : 1), keep);
        test_fill(q, chain[i], i);
        p = q;
    }
    CHECK_EQ(ta_arena_destroy(ar), 0);
}

int main(void)
{
    RUN(test_chain);
    RUN(test_same_class_in_place);
    RUN(test_large_shrink_in_place);
    RUN(test_many_live);
    RUN(test_failed_realloc_keeps_block);
    RUN(test_arena_realloc);
    return TEST_EXIT();
}
