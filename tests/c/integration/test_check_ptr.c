/* ta_check_ptr: 0 exactly for the start of a live block; EINVAL for
 * interior, foreign, freed-back and never-handed-out addresses, without
 * ever crashing. */
#include <errno.h>
#include <sys/mman.h>

#include "harness.h"
#include "tunalloc.h"

extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);

static int static_word;

/* Block starts of every kind are good; addresses inside them are not. */
static void test_live_blocks(void)
{
    static const size_t sizes[] = {1,      48,      700,     9000,   20000,
                                   100000, 600000, 1000000, (size_t)3 << 20, (size_t)6 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *p = ta_malloc(sizes[i]);
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK_EQ(ta_check_ptr(p), 0);
        CHECK_EQ(ta_check_ptr(p + 1), EINVAL);
        if (sizes[i] > 8)
            CHECK_EQ(ta_check_ptr(p + 8), EINVAL);
        if (sizes[i] > 16)
            CHECK_EQ(ta_check_ptr(p + 16), EINVAL);
        if (sizes[i] > 8192)
            CHECK_EQ(ta_check_ptr(p + 4096), EINVAL);
        ta_free(p);
    }
}

/* Nothing tunalloc did not hand out passes. */
static void test_foreign(void)
{
    char buf[64];
    CHECK_EQ(ta_check_ptr(NULL), EINVAL);
    CHECK_EQ(ta_check_ptr(buf), EINVAL);
    CHECK_EQ(ta_check_ptr(&static_word), EINVAL);
    CHECK_EQ(ta_check_ptr((void *)(uintptr_t)16), EINVAL);
    CHECK_EQ(ta_check_ptr((void *)(uintptr_t)0xffff800000000000ull), EINVAL);
    CHECK_EQ(ta_check_ptr((void *)UINTPTR_MAX), EINVAL);
    void *g = __libc_malloc(100);
    CHECK_EQ(ta_check_ptr(g), EINVAL);
    __libc_free(g);
    void *m = mmap(NULL, 1 << 16, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    if (m != MAP_FAILED) {
        CHECK_EQ(ta_check_ptr(m), EINVAL);
        munmap(m, 1 << 16);
    }
}

/* In a manual arena (no thread cache) a freed block goes straight back to
 * its slab or run, and a region never handed out is no block either. */
static void test_freed_and_fresh(void)
{
    ta_arena_t *ar = ta_arena_create(NULL);
    CHECK(ar != NULL);
    if (!ar)
        return;
    char *a = ta_arena_malloc(ar, 64);
    char *b = ta_arena_malloc(ar, 64);
    CHECK(a && b);
    if (!a || !b)
        return;
    char *next = a < b ? b + (b - a) : a + (a - b);
    CHECK(ta_owns(next));
    CHECK_EQ(ta_check_ptr(next), EINVAL);
    ta_free(a);
    CHECK_EQ(ta_check_ptr(a), EINVAL);
    CHECK_EQ(ta_check_ptr(b), 0);
    char *big = ta_arena_malloc(ar, 100000);
    CHECK(big != NULL);
    CHECK_EQ(ta_check_ptr(big), 0);
    ta_free(big);
    CHECK_EQ(ta_check_ptr(big), EINVAL);
    ta_free(b);
    CHECK_EQ(ta_arena_destroy(ar), 0);
    CHECK_EQ(ta_check_ptr(b), EINVAL);
}

int main(void)
{
    RUN(test_live_blocks);
    RUN(test_foreign);
    RUN(test_freed_and_fresh);
    return TEST_EXIT();
}
