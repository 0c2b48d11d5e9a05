/* Checked mode (check:true, set before the first call) gives the thread
 * cache no slots: every block of every small class is taken one at a
 * time, through a slot of the fill's own. The debug build asserts that
 * no fill stores into a stack with no room (it wrote one pointer past the
 * cache before), and every block comes back valid and distinct. */
#include <errno.h>
#include <stdlib.h>

#include "harness.h"
#include "tunalloc.h"

#define NBLOCKS 64

static void test_every_small_class(void)
{
    bool on = false;
    size_t len = sizeof(on);
    CHECK_EQ(ta_ctl("opt.check", &on, &len, NULL, 0), 0);
    CHECK(on);
    for (size_t size = 1; size <= TEST_SMALL_MAX; size += size < 256 ? 16 : size / 4) {
        char *b[NBLOCKS];
        for (int i = 0; i < NBLOCKS; i++) {
            b[i] = i % 2 ? ta_malloc(size) : ta_calloc(1, size);
            CHECK(b[i] != NULL);
            CHECK_EQ(ta_check_ptr(b[i]), 0);
            test_fill(b[i], size, (unsigned)i);
        }
        for (int i = 0; i < NBLOCKS; i++) {
            CHECK_EQ(test_verify(b[i], size, (unsigned)i), size);
            for (int j = 0; j < i; j++)
                CHECK(b[i] != b[j]);
        }
        for (int i = 0; i < NBLOCKS; i++)
            ta_free(b[i]);
    }
}

/* A shrink that could not move (its arena at its limit) keeps the block
 * in its bigger class; the sized free that follows names the smaller
 * size, which fits the block: no report, and the block comes back. */
static void test_sized_free_after_kept_shrink(void)
{
    ta_arena_t *a = ta_arena_create(NULL);
    CHECK(a != NULL);
    if (!a)
        return;
    void *p = ta_arena_malloc(a, 2000);
    CHECK(p != NULL);
    size_t limit = 1;
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.limit", ta_arena_index(a));
    CHECK_EQ(ta_ctl(name, NULL, NULL, &limit, sizeof(limit)), 0);
    void *q = ta_arena_realloc(a, p, 16);
    CHECK(q == p);
    ta_free_sized(q, 16);
    size_t blocks = 1, bytes = 1;
    CHECK_EQ(ta_arena_live(a, &blocks, &bytes), 0);
    CHECK_EQ(blocks, 0);
    CHECK_EQ(bytes, 0);
    CHECK_EQ(ta_arena_destroy(a), 0);
}

/* The hook's free tests no mode of its own: an explicit cache has no
 * slots in checked mode, so each block freed through ta_hook_free is
 * validated and taken back into its slab, never parked unchecked. */
static void hook_free_foreign(void *hook, void *p)
{
    (void)hook;
    CHECK(p == NULL);
}

static void test_hook_free_validates(void)
{
    ta_tcache_t *tc = ta_tcache_create(NULL);
    CHECK(tc != NULL);
    if (!tc)
        return;
    ta_hook_t h = {.alloc_cache = tc, .free_cache = tc, .free_fallback = hook_free_foreign};
    for (size_t size = 16; size <= TEST_SMALL_MAX; size *= 2) {
        void *b[NBLOCKS];
        for (int i = 0; i < NBLOCKS; i++) {
            b[i] = ta_hook_malloc(&h, size);
            CHECK(b[i] != NULL);
            CHECK_EQ(ta_check_ptr(b[i]), 0);
        }
        for (int i = 0; i < NBLOCKS; i++) {
            ta_hook_free(&h, b[i]);
            CHECK_EQ(ta_check_ptr(b[i]), EINVAL);
        }
    }
    ta_hook_free(&h, NULL);
    ta_tcache_destroy(tc);
}

int main(void)
{
    setenv("TUNALLOC_CONF", "check:true", 1);
    RUN(test_every_small_class);
    RUN(test_sized_free_after_kept_shrink);
    RUN(test_hook_free_validates);
    return TEST_EXIT();
}
