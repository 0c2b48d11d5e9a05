/* ta_parse_size: the one size parser behind TUNALLOC_CONF and tunalua's
 * -M. Digits with an optional binary suffix, bounded by len; everything
 * else is EINVAL and leaves *out alone. */
#include <errno.h>
#include <stdint.h>

#include "harness.h"
#include "tunalloc.h"

static int parse(const char *s, size_t *out)
{
    return ta_parse_size(s, strlen(s), out);
}

int main(void)
{
    static const struct {
        const char *s;
        size_t want;
    } good[] = {{"0", 0},          {"123", 123},
                {"1k", 1024},      {"2K", 2048},
                {"64m", 64u << 20}, {"3M", 3u << 20},
                {"1g", (size_t)1 << 30}, {"5G", (size_t)5 << 30},
                {"18446744073709551615", SIZE_MAX},
                {"17179869183g", (size_t)17179869183 << 30}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        size_t v = 7;
        CHECK_EQ(parse(good[i].s, &v), 0);
        CHECK_EQ(v, good[i].want);
    }
    static const char *const bad[] = {"", "k", "-1", "+1", " 1", "1 ", "1kb", "1t",
                                      "0x10", "1.5m", "18446744073709551616",
                                      "17179869184g", "99999999999999999999k"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t v = 7;
        CHECK_EQ(parse(bad[i], &v), EINVAL);
        CHECK_EQ(v, 7);
    }
    /* Only the first len bytes count: TUNALLOC_CONF values are not
     * terminated. */
    size_t v = 0;
    CHECK_EQ(ta_parse_size("12k,narenas:1", 3, &v), 0);
    CHECK_EQ(v, 12u << 10);
    CHECK_EQ(ta_parse_size("12k", 0, &v), EINVAL);
    CHECK_EQ(ta_parse_size(NULL, 1, &v), EINVAL);
    CHECK_EQ(ta_parse_size("1", 1, NULL), EINVAL);
    return TEST_EXIT();
}
