/* Run-time options: the compiled-in defaults, then the compiled-in
 * configuration string, then TUNALLOC_CONF. Parsing runs inside the first
 * malloc, so it uses no allocation and no locale-dependent libc parsing. */
#include "conf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

ta_opts_t ta_opt = {
    .narenas = 0,
    .dirty_decay_ms = 10000,
    .muzzy_decay_ms = 0,
    .background_thread = false,
    .tcache = true,
    .check = false,
    .secure = false,
    .abort_on_error = false,
    .stats_print = false,
    .stats_print_opts = "",
    .arena_limit = 0,
    .prof = false,
    .prof_sample_bytes = 0,
};

const char ta_conf_default[] = "";

#define STATS_PRINT_LETTERS "Jgmabl"

/* Unsigned decimal with an optional binary k/m/g suffix; false on
 * anything else, including overflow, so a typo never becomes a value. */
static bool parse_u64(const char *s, size_t len, bool suffix, uint64_t *out)
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

/* A decay time: "-1" or a decimal, then ta_decay_ms_valid's rule. */
static bool parse_decay(const char *s, size_t len, int64_t *out)
{
    int64_t v = -1;
    if (len != 2 || s[0] != '-' || s[1] != '1') {
        uint64_t u;
        if (!parse_u64(s, len, false, &u) || u > (uint64_t)INT64_MAX)
            return false;
        v = (int64_t)u;
    }
    if (!ta_decay_ms_valid(v))
        return false;
    *out = v;
    return true;
}

/* Only the exact words, so "1" or "TRUE" are reported, not guessed at. */
static bool parse_bool(const char *s, size_t len, bool *out)
{
    if (len == 4 && memcmp(s, "true", 4) == 0)
        *out = true;
    else if (len == 5 && memcmp(s, "false", 5) == 0)
        *out = false;
    else
        return false;
    return true;
}

/* One setter per key keeps each option's rules next to its name. */
static bool set_narenas(ta_opts_t *o, const char *s, size_t len)
{
    uint64_t v;
    if (!parse_u64(s, len, false, &v) || v > MAX_ARENAS / 2)
        return false;
    o->narenas = (unsigned)v;
    return true;
}

static bool set_dirty(ta_opts_t *o, const char *s, size_t len)
{
    return parse_decay(s, len, &o->dirty_decay_ms);
}

static bool set_muzzy(ta_opts_t *o, const char *s, size_t len)
{
    return parse_decay(s, len, &o->muzzy_decay_ms);
}

static bool set_background(ta_opts_t *o, const char *s, size_t len)
{
    return parse_bool(s, len, &o->background_thread);
}

static bool set_tcache(ta_opts_t *o, const char *s, size_t len)
{
    return parse_bool(s, len, &o->tcache);
}

static bool set_check(ta_opts_t *o, const char *s, size_t len)
{
    return parse_bool(s, len, &o->check);
}

static bool set_secure(ta_opts_t *o, const char *s, size_t len)
{
    return parse_bool(s, len, &o->secure);
}

static bool set_abort_on_error(ta_opts_t *o, const char *s, size_t len)
{
    if (!parse_bool(s, len, &o->abort_on_error))
        return false;
    o->abort_on_error_set = true;
    return true;
}

static bool set_stats_print(ta_opts_t *o, const char *s, size_t len)
{
    return parse_bool(s, len, &o->stats_print);
}

/* Only letters ta_stats_print knows, so a typo is reported, not ignored. */
static bool set_stats_print_opts(ta_opts_t *o, const char *s, size_t len)
{
    if (len >= sizeof(o->stats_print_opts))
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\0' || strchr(STATS_PRINT_LETTERS, s[i]) == NULL)
            return false;
    memcpy(o->stats_print_opts, s, len);
    o->stats_print_opts[len] = '\0';
    return true;
}

/* Public so tools built on the API (tunalua's -M) read sizes as
 * TUNALLOC_CONF does. */
int ta_parse_size(const char *s, size_t len, size_t *out)
{
    uint64_t v;
    if (s == NULL || out == NULL || !parse_u64(s, len, true, &v) || v > SIZE_MAX)
        return EINVAL;
    *out = (size_t)v;
    return 0;
}

static bool set_arena_limit(ta_opts_t *o, const char *s, size_t len)
{
    return ta_parse_size(s, len, &o->arena_limit) == 0;
}

static bool set_prof(ta_opts_t *o, const char *s, size_t len)
{
    return parse_bool(s, len, &o->prof);
}

static bool set_prof_sample_bytes(ta_opts_t *o, const char *s, size_t len)
{
    uint64_t v;
    if (!parse_u64(s, len, true, &v) || v == 0 || v > ((uint64_t)1 << 40))
        return false;
    o->prof_sample_bytes = (size_t)v;
    return true;
}

typedef bool conf_setter(ta_opts_t *o, const char *s, size_t len);

static const struct {
    const char *key;
    conf_setter *set;
} conf_keys[] = {
    {"narenas", set_narenas},
    {"dirty_decay_ms", set_dirty},
    {"muzzy_decay_ms", set_muzzy},
    {"background_thread", set_background},
    {"tcache", set_tcache},
    {"check", set_check},
    {"secure", set_secure},
    {"abort_on_error", set_abort_on_error},
    {"stats_print", set_stats_print},
    {"stats_print_opts", set_stats_print_opts},
    {"arena_limit", set_arena_limit},
    {"prof", set_prof},
    {"prof_sample_bytes", set_prof_sample_bytes},
};

/* One "key:value" pair of len bytes; false if malformed. Setters write
 * only on success, so a bad value leaves the option untouched. */
static bool apply_pair(ta_opts_t *o, const char *p, size_t len)
{
    const char *colon = memchr(p, ':', len);
    if (colon == NULL)
        return false;
    size_t klen = (size_t)(colon - p);
    for (size_t k = 0; k < sizeof(conf_keys) / sizeof(conf_keys[0]); k++) {
        const char *key = conf_keys[k].key;
        if (strlen(key) == klen && memcmp(key, p, klen) == 0)
            return conf_keys[k].set(o, colon + 1, len - klen - 1);
    }
    return false;
}

/* Pairs are split in place on commas; long pairs are warned truncated. */
unsigned ta_conf_parse(ta_opts_t *o, const char *s, const char *origin)
{
    unsigned bad = 0;
    for (const char *p = s; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 0 && !apply_pair(o, p, len)) {
            int shown = len > 200 ? 200 : (int)len;
            ta_warn("tunalloc: %s: ignoring malformed option \"%.*s\"", origin, shown, p);
            bad++;
        }
        p = comma ? comma + 1 : NULL;
    }
    return bad;
}

/* getenv does not allocate, so this is safe inside the first malloc. */
void ta_conf_init(void)
{
    ta_conf_parse(&ta_opt, ta_conf_default, "compiled-in default");
    const char *env = getenv("TUNALLOC_CONF");
    if (env != NULL)
        ta_conf_parse(&ta_opt, env, "TUNALLOC_CONF");
    ta_conf_finish(&ta_opt);
}

/* Secure mode validates every free (check) and, unless told otherwise,
 * stops at the first heap error: glibc's answer, not a guess that the
 * program can go on after its heap was misused. */
void ta_conf_finish(ta_opts_t *o)
{
    if (!o->secure)
        return;
    o->check = true;
    if (!o->abort_on_error_set)
        o->abort_on_error = true;
}
