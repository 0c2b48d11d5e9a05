/* Checked mode (check:true, set before the first call) gives the thread
 * cache no slots: every block of every small class is taken one at a
 * time, through a slot of the fill's own. The debug build asserts that
 * no fill stores into a stack with no room (it wrote one pointer past the
 * cache before), and every block comes back valid and distinct. */
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
    for (size_t size = 1; size <= 16384; size += size < 256 ? 16 : size / 4) {
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

int main(void)
{
    setenv("TUNALLOC_CONF", "check:true", 1);
    RUN(test_every_small_class);
    return TEST_EXIT();
}
