/* Run-time options: the compiled-in defaults, then TUNALLOC_CONF. Parsing runs inside the first
 * malloc, so it uses no allocation and no locale-dependent libc parsing. */
#include "conf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tai_opts_t tai_opt = {
#define TA_OPT(name, kind, def, doc) .name = def,
#include "opts.def"
#undef TA_OPT
};

#define STATS_PRINT_LETTERS "Jgmabl"

/* Unsigned decimal with an optional binary k/m/g suffix; false on
 * anything else, including overflow, so a typo never becomes a value. */
COLD static bool parse_u64(const char *s, size_t len, bool suffix, uint64_t *out)
{
    static const char suffixes[] = "kKmMgG";
    uint64_t mult = 1;
    if (suffix && len > 0) {
        const char *k = strchr(suffixes, s[len - 1]);
        if (k != NULL && *k != '\0') {
            mult = (uint64_t)1 << (10 * (1 + (k - suffixes) / 2));
            len--;
        }
    }
    if (len == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v > UINT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

/* A decay time: "-1" or a decimal, then tai_decay_ms_valid's rule. */
COLD static bool parse_decay(const char *s, size_t len, int64_t *out)
{
    int64_t v = -1;
    if (len != 2 || s[0] != '-' || s[1] != '1') {
        uint64_t u;
        if (!parse_u64(s, len, false, &u) || u > (uint64_t)INT64_MAX)
            return false;
        v = (int64_t)u;
    }
    if (!tai_decay_ms_valid(v))
        return false;
    *out = v;
    return true;
}

/* Only the exact words, so "1" or "TRUE" are reported, not guessed at. */
COLD static bool parse_bool(const char *s, size_t len, bool *out)
{
    if (len == 4 && memcmp(s, "true", 4) == 0)
        *out = true;
    else if (len == 5 && memcmp(s, "false", 5) == 0)
        *out = false;
    else
        return false;
    return true;
}

/* Arena counts: half the arena slots, the rest are for manual arenas. */
COLD static bool parse_arenas(const char *s, size_t len, unsigned *out)
{
    uint64_t v;
    if (!parse_u64(s, len, false, &v) || v > MAX_ARENAS / 2)
        return false;
    *out = (unsigned)v;
    return true;
}

/* Only letters ta_stats_print knows, so a typo is reported, not ignored. */
COLD static bool parse_letters(const char *s, size_t len, tai_opt_letters *out)
{
    if (len >= sizeof(*out))
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\0' || strchr(STATS_PRINT_LETTERS, s[i]) == NULL)
            return false;
    memcpy(*out, s, len);
    (*out)[len] = '\0';
    return true;
}

/* Public so tools built on the API (tunalua's -M) read sizes as
 * TUNALLOC_CONF does. */
COLD int ta_parse_size(const char *s, size_t len, size_t *out)
{
    uint64_t v;
    if (s == NULL || out == NULL || !parse_u64(s, len, true, &v) || v > SIZE_MAX)
        return EINVAL;
    *out = (size_t)v;
    return 0;
}

COLD static bool parse_bytes(const char *s, size_t len, size_t *out)
{
    return ta_parse_size(s, len, out) == 0;
}

/* Sampling intervals: a positive byte count (k/m/g suffixes) up to
 * 1 TiB; 0 stays the option's default, "prof.sample_bytes' own". */
COLD static bool parse_sample(const char *s, size_t len, size_t *out)
{
    uint64_t v;
    if (!parse_u64(s, len, true, &v) || v == 0 || v > ((uint64_t)1 << 40))
        return false;
    *out = (size_t)v;
    return true;
}

/* Percentages: a decimal up to TA_OPT_PERCENT_MAX (a thousand times). */
COLD static bool parse_percent(const char *s, size_t len, unsigned *out)
{
    uint64_t v;
    if (!parse_u64(s, len, false, &v) || v > TA_OPT_PERCENT_MAX)
        return false;
    *out = (unsigned)v;
    return true;
}

/* Setters write only on success, so a bad value leaves the option as it
 * was; each option's rule is its kind's parser. */
#define TA_OPT(name, kind, def, doc)                                                       \
    COLD static bool set_##name(tai_opts_t *o, const char *s, size_t len)                   \
    {                                                                                      \
        return parse_##kind(s, len, &o->name);                                             \
    }
#include "opts.def"
#undef TA_OPT

typedef bool conf_setter(tai_opts_t *o, const char *s, size_t len);

static const struct {
    const char *key;
    conf_setter *set;
} conf_keys[] = {
#define TA_OPT(name, kind, def, doc) {#name, set_##name},
#include "opts.def"
#undef TA_OPT
};

/* One "key:value" pair of len bytes; false if malformed. */
COLD static bool apply_pair(tai_opts_t *o, const char *p, size_t len)
{
    const char *colon = memchr(p, ':', len);
    if (colon == NULL)
        return false;
    size_t klen = (size_t)(colon - p);
    for (size_t k = 0; k < sizeof(conf_keys) / sizeof(conf_keys[0]); k++) {
        const char *key = conf_keys[k].key;
        if (strlen(key) != klen || memcmp(key, p, klen) != 0)
            continue;
        if (!conf_keys[k].set(o, colon + 1, len - klen - 1))
            return false;
        o->given |= 1u << k; /* conf_keys is in TA_OPT_ID order */
        return true;
    }
    return false;
}

/* Pairs are split in place on commas; long pairs are warned truncated. */
COLD unsigned tai_conf_parse(tai_opts_t *o, const char *s, const char *origin)
{
    unsigned bad = 0;
    for (const char *p = s; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 0 && !apply_pair(o, p, len)) {
            int shown = len > 200 ? 200 : (int)len;
            tai_warn("tunalloc: %s: ignoring malformed option \"%.*s\"", origin, shown, p);
            bad++;
        }
        p = comma ? comma + 1 : NULL;
    }
    return bad;
}

/* getenv does not allocate, so this is safe inside the first malloc. */
void tai_conf_init(void)
{
    const char *env = getenv("TUNALLOC_CONF");
    if (env != NULL)
        tai_conf_parse(&tai_opt, env, "TUNALLOC_CONF");
    tai_conf_finish(&tai_opt);
}

/* Secure mode validates every free (check) and, unless told otherwise,
 * stops at the first heap error: glibc's answer, not a guess that the
 * program can go on after its heap was misused. */
void tai_conf_finish(tai_opts_t *o)
{
    if (!o->secure)
        return;
    o->check = true;
    if (!(o->given & TA_OPT_BIT(abort_on_error)))
        o->abort_on_error = true;
}

/* A value as parse_<kind> reads it back; every kind fits in 32 bytes. */
static void format_arenas(char *b, size_t n, const unsigned *v) { snprintf(b, n, "%u", *v); }
static void format_decay(char *b, size_t n, const int64_t *v) { snprintf(b, n, "%" PRId64, *v); }
static void format_bool(char *b, size_t n, const bool *v)
{
    snprintf(b, n, "%s", *v ? "true" : "false");
}
static void format_letters(char *b, size_t n, const tai_opt_letters *v) { snprintf(b, n, "%s", *v); }
static void format_bytes(char *b, size_t n, const size_t *v) { snprintf(b, n, "%zu", *v); }
static void format_sample(char *b, size_t n, const size_t *v) { format_bytes(b, n, v); }
static void format_percent(char *b, size_t n, const unsigned *v) { format_arenas(b, n, v); }

/* Appends "[sep]key:value" whole or not at all. */
COLD static bool append_pair(char *buf, size_t cap, size_t *len, char sep, const char *key,
                             const char *value)
{
    int n = snprintf(buf + *len, cap - *len, "%.*s%s:%s", *len ? 1 : 0, &sep, key, value);
    if (n < 0 || (size_t)n >= cap - *len) {
        buf[*len] = '\0';
        return false;
    }
    *len += (size_t)n;
    return true;
}

COLD size_t tai_conf_format(const tai_opts_t *o, char *buf, size_t cap, char sep)
{
    size_t len = 0;
    char value[32];
    if (cap == 0)
        return 0;
    buf[0] = '\0';
#define TA_OPT(name, kind, def, doc)                                                       \
    format_##kind(value, sizeof(value), &o->name);                                         \
    if (!append_pair(buf, cap, &len, sep, #name, value))                                   \
        return len;
#include "opts.def"
#undef TA_OPT
    return len;
}
