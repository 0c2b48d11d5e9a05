/* The thread cache's fast paths file every block in its own class: a
 * free after a pop of another class (ta_free guesses the last pop's bin),
 * a sized free whose size names another class than the block's (the size
 * picks the bin, the block's page must agree), and a realloc that stays
 * in its class or run returns the block itself, while one to size 0
 * frees it. Blocks come back LIFO from their class's stack, so a block
 * filed in the wrong class shows as a pointer returned for the wrong
 * size. The entry points with inline fast paths each start a cache line
 * of their own, so their code's layout does not move with the rest of
 * the library's. */
#include <stdint.h>

#include "harness.h"

/* A free right after a pop of another class goes to its own class. */
static void test_free_after_other_pop(void)
{
    void *a = ta_malloc(64), *b = ta_malloc(128);
    CHECK(a != NULL && b != NULL);
    ta_free(a); /* the last pop was of b's class */
    void *c = ta_malloc(128);
    CHECK(c != a);
    void *d = ta_malloc(64);
    CHECK(d == a);
    ta_free(b);
    ta_free(c);
    void *e = ta_malloc(64);
    CHECK(e != b && e != c);
    ta_free(d);
    ta_free(e);
}

/* A size that names another class than the block's: the block goes to
 * its own class, never to the size's. */
static void test_sized_free_other_class(void)
{
    static const size_t pairs[][2] = {{100, 20}, {20, 100}, {3000, 1000}, {30000, 17000}};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        size_t real = pairs[i][0], named = pairs[i][1];
        void *p = ta_malloc(real);
        CHECK(p != NULL);
        ta_free_sized(p, named);
        void *q = ta_malloc(named);
        CHECK(q != p);
        void *r = ta_malloc(real);
        CHECK(r == p);
        ta_free_sized(r, real);
        ta_free_sized(q, named);
    }
}

/* A sized free of the right size hands the block back to its class. */
static void test_sized_free_same_class(void)
{
    for (size_t size = 8; size <= TEST_TCACHE_MAX; size = size * 3 / 2) {
        void *p = ta_malloc(size);
        CHECK(p != NULL);
        ta_free_sized(p, size);
        CHECK(ta_malloc(size) == p);
        ta_free_sized(p, size);
    }
}

/* A realloc within the block's class (small, cached large) or within the
 * run's pages keeps the block; to 0 it frees it. */
static void test_realloc_in_place(void)
{
    static const size_t steps[][2] = {
        {10, 16}, {100, 112}, {112, 97}, {17000, 20480}, {20480, 16385}, {40000, 40960}, {40960, 36865}};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        size_t from = steps[i][0], to = steps[i][1], kept = from < to ? from : to;
        char *p = ta_malloc(from);
        CHECK(p != NULL);
        test_fill(p, kept, i);
        char *q = ta_realloc(p, to);
        CHECK(q == p);
        CHECK_EQ(test_verify(q, kept, i), kept);
        CHECK(ta_malloc_usable_size(q) >= to);
        CHECK(ta_realloc(q, 0) == NULL);
        if (from <= TEST_TCACHE_MAX) {
            void *r = ta_malloc(from); /* freed, and filed in its class */
            CHECK(r == p);
            ta_free(r);
        }
    }
}

/* A 16-byte shift of malloc and free (one more PLT entry) made their
 * loop 1.9x slower on one CPU of the machine they were measured on;
 * aligned, the functions' own layout is fixed whatever precedes them. */
static void test_hot_entries_aligned(void)
{
    const uintptr_t entries[] = {
        (uintptr_t)ta_malloc,      (uintptr_t)ta_calloc,        (uintptr_t)ta_free,
        (uintptr_t)ta_free_sized,  (uintptr_t)ta_sized_alloc,   (uintptr_t)ta_sized_free,
        (uintptr_t)ta_sized_resize, (uintptr_t)ta_hook_malloc,  (uintptr_t)ta_hook_free,
        (uintptr_t)ta_hook_thread_malloc, (uintptr_t)ta_hook_thread_free,
    };
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
        CHECK(entries[i] % 64 == 0);
}

int main(void)
{
    RUN(test_hot_entries_aligned);
    RUN(test_free_after_other_pop);
    RUN(test_sized_free_other_class);
    RUN(test_sized_free_same_class);
    RUN(test_realloc_in_place);
    return TEST_EXIT();
}
