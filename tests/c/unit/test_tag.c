/* Unit test of tag.h.
 * Page tags: every (arena kind, colour, class) encodes to a tag that
 * decodes to the same class and colour, the tags of different colours
 * or arena kinds never meet, and the shared-line classes are exactly
 * those whose size is not a multiple of a cache line. */
#include "harness.h"
#include "sizeclass.h"
#include "tag.h"
#include "tunalloc.h"

static void test_shared_classes_are_not_line_multiples(void)
{
    for (unsigned c = 0; c < NCACHED_CLASSES; c++)
        CHECK_EQ(tag_class_shared(c), tai_class_size[c] % 64 != 0);
    for (unsigned j = 0; j < NSHARED_CLASSES; j++)
        CHECK(tag_class_shared(tag_shared_class[j]));
}

static void test_encode_decode(void)
{
    bool seen[256] = {false};
    for (unsigned colour = 0; colour < NCOLOURS; colour++) {
        for (unsigned c = 0; c < NCACHED_CLASSES; c++) {
            unsigned t = tag_encode(false, colour, c);
            CHECK(t < PB_LARGE);
            CHECK(!tag_is_manual(t));
            CHECK_EQ(tag_class(t), c);
            CHECK_EQ(tag_auto_class(t), c);
            bool coloured = colour && tag_class_shared(c);
            CHECK_EQ(tag_is_coloured(t), coloured);
            CHECK_EQ(tag_colour(t), coloured ? colour : 0);
            /* only colour 0 and the whole-line classes share tags */
            if (coloured || colour == 0) {
                CHECK(!seen[t]);
                seen[t] = true;
            }
        }
    }
    for (unsigned c = 0; c < NCACHED_CLASSES; c++) {
        unsigned t = tag_encode(true, 5, c);
        CHECK(tag_is_manual(t));
        CHECK(!seen[t]);
        CHECK_EQ(tag_class(t), c);
        CHECK(tag_auto_class(t) >= NCACHED_CLASSES);
    }
    CHECK_EQ(tag_class(PB_LARGE), PB_LARGE);
    CHECK_EQ(tag_class(PB_NONE), PB_NONE);
    CHECK_EQ(tag_colour(PB_LARGE), 0);
    CHECK_EQ(tag_arena_colour(NCOLOURS), 0);
    CHECK_EQ(tag_arena_colour(NCOLOURS + 1), 1);
}

int main(void)
{
    /* The class tables are built at first use of the allocator. */
    ta_free(ta_malloc(1));
    RUN(test_shared_classes_are_not_line_multiples);
    RUN(test_encode_decode);
    return TEST_EXIT();
}
