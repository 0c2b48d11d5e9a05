/* JSON statistics by walking the control namespace itself, so the output
 * holds every readable number the namespace has and cannot drift from
 * it: objects nest as names do, index components become keys ("0",
 * "4096"), and leaves that fail to read (absent arenas) are left out. */
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "ctl.h"
#include "stats.h"

typedef struct jw {
    stats_out_t *out;
    const char *opts;
    bool first; /* no member written yet in the current object */
    size_t mib[CTL_MAX_DEPTH];
    const char *names[CTL_MAX_DEPTH]; /* NULL for index components */
} jw_t;

/* Option letters are single characters anywhere in the string. */
static bool opt_set(const jw_t *w, char c) { return strchr(w->opts, c) != NULL; }

/* Sections are recognised by their path, since tables are static data. */
static bool name_is(const jw_t *w, size_t d, const char *s)
{
    return w->names[d] != NULL && strcmp(w->names[d], s) == 0;
}

/* The malloc_stats_print letters: g general (constant) information,
 * m merged arena, a per-arena, b bins, l large classes. */
static bool omitted(const jw_t *w, size_t depth, const char *name, size_t idx)
{
    if (name != NULL) {
        if (depth == 0 && opt_set(w, 'g') &&
            (!strcmp(name, "version") || !strcmp(name, "opt") || !strcmp(name, "arenas")))
            return true;
        if (opt_set(w, 'b') && (!strcmp(name, "bins") || !strcmp(name, "bin")))
            return true;
        return opt_set(w, 'l') && (!strcmp(name, "lextents") || !strcmp(name, "lextent"));
    }
    bool stats_arena = depth == 2 && name_is(w, 0, "stats") && name_is(w, 1, "arenas");
    bool arena = depth == 1 && name_is(w, 0, "arena");
    if (stats_arena && idx == MAX_ARENAS)
        return opt_set(w, 'm');
    return (stats_arena || arena) && opt_set(w, 'a');
}

/* Through the normal checks; w->mib holds the leaf's full MIB. Leaves with
 * read side effects or inputs are never read by a dump. */
static bool read_leaf(const jw_t *w, const ctl_node_t *n, ta_ctl_value *v)
{
    if (!(n->mode & TA_CTL_READ) || (n->flags & CTL_NODUMP))
        return false;
    size_t len = ta_ctl_read_size(n);
    return ta_ctl_call(n, w->mib, v, &len, NULL, 0) == 0;
}

/* The valid indexes of an indexed node in order: from 0 while valid, then
 * the all-arenas index if valid; SIZE_MAX starts and ends the sequence. */
static size_t next_index(const ctl_node_t *n, size_t i)
{
    size_t next = i == SIZE_MAX ? 0 : i + 1;
    if (next < MAX_ARENAS && n->valid(next))
        return next;
    if (next <= MAX_ARENAS && n->valid(MAX_ARENAS))
        return MAX_ARENAS;
    return SIZE_MAX;
}

static bool any_value(jw_t *w, const ctl_node_t *n, size_t depth);

/* One child (name NULL for an index) unless the options omit it. */
static bool kid_has_value(jw_t *w, const ctl_node_t *kid, const char *name, size_t v,
                          size_t depth)
{
    if (omitted(w, depth, name, v))
        return false;
    w->mib[depth] = v;
    w->names[depth] = name;
    return any_value(w, kid, depth + 1);
}

/* Objects with nothing readable or nothing left after the omissions
 * (destroyed arenas, write-only groups) are left out, not printed empty. */
static bool any_value(jw_t *w, const ctl_node_t *n, size_t depth)
{
    ta_ctl_value v;
    if (n->nkids == 0 && n->ikid == NULL)
        return read_leaf(w, n, &v);
    if (depth >= CTL_MAX_DEPTH)
        return false;
    if (n->ikid) {
        for (size_t i = next_index(n, SIZE_MAX); i != SIZE_MAX; i = next_index(n, i))
            if (kid_has_value(w, n->ikid, NULL, i, depth))
                return true;
        return false;
    }
    for (size_t k = 0; k < n->nkids; k++)
        if (kid_has_value(w, &n->kids[k], n->kids[k].name, k, depth))
            return true;
    return false;
}

/* Escapes as JSON requires; strings here are short (version, letters). */
static void emit_string(jw_t *w, const char *s)
{
    char buf[128];
    size_t k = 0;
    buf[k++] = '"';
    for (; *s && k < sizeof(buf) - 8; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[k++] = '\\';
            buf[k++] = (char)c;
        } else if (c < 0x20) {
            k += (size_t)snprintf(buf + k, sizeof(buf) - k, "\\u%04x", c);
        } else {
            buf[k++] = (char)c;
        }
    }
    buf[k++] = '"';
    buf[k] = '\0';
    ta_stats_emit(w->out, "%s", buf);
}

/* Numbers print in full precision; Python's json reads them exactly. */
static void emit_value(jw_t *w, const ctl_node_t *n, const ta_ctl_value *v)
{
    switch (n->type) {
    case TA_CTL_BOOL:
        ta_stats_emit(w->out, "%s", v->b ? "true" : "false");
        break;
    case TA_CTL_UNSIGNED:
    case TA_CTL_POINTER:
        ta_stats_emit(w->out, "%u", v->u);
        break;
    case TA_CTL_SIZE:
        ta_stats_emit(w->out, "%zu", v->z);
        break;
    case TA_CTL_SSIZE:
        ta_stats_emit(w->out, "%lld", (long long)v->s);
        break;
    case TA_CTL_STRING:
        emit_string(w, v->str);
        break;
    default:
        ta_stats_emit(w->out, "%llu", (unsigned long long)v->q);
        break;
    }
}

/* Separator and indentation before a member of the current object. */
static void open_member(jw_t *w, size_t depth, const char *key)
{
    ta_stats_emit(w->out, "%s%*s\"%s\": ", w->first ? "\n" : ",\n", (int)(2 * depth + 2), "",
                  key);
    w->first = false;
}

static void walk_kids(jw_t *w, const ctl_node_t *n, size_t depth);

/* A leaf that cannot be read right now (absent arena) is simply omitted. */
static void member(jw_t *w, const ctl_node_t *n, const char *key, size_t depth)
{
    if (n->nkids == 0 && n->ikid == NULL) {
        ta_ctl_value v;
        if (!read_leaf(w, n, &v))
            return;
        open_member(w, depth, key);
        emit_value(w, n, &v);
        return;
    }
    if (!any_value(w, n, depth))
        return;
    open_member(w, depth, key);
    ta_stats_emit(w->out, "{");
    w->first = true;
    walk_kids(w, n, depth);
    ta_stats_emit(w->out, "\n%*s}", (int)(2 * depth + 2), "");
    w->first = false;
}

/* n sits at depth components; its members go one level deeper. */
static void walk_kids(jw_t *w, const ctl_node_t *n, size_t depth)
{
    if (depth >= CTL_MAX_DEPTH)
        return;
    if (n->ikid == NULL) {
        for (size_t k = 0; k < n->nkids; k++) {
            if (omitted(w, depth, n->kids[k].name, 0))
                continue;
            w->mib[depth] = k;
            w->names[depth] = n->kids[k].name;
            member(w, &n->kids[k], n->kids[k].name, depth + 1);
        }
        return;
    }
    w->names[depth] = NULL;
    for (size_t i = next_index(n, SIZE_MAX); i != SIZE_MAX; i = next_index(n, i)) {
        if (omitted(w, depth, NULL, i))
            continue;
        char key[24];
        snprintf(key, sizeof(key), "%zu", i);
        w->mib[depth] = i;
        member(w, n->ikid, key, depth + 1);
    }
}

/* Wrapped in {"tunalloc": ...} as jemalloc wraps its own in "jemalloc". */
void ta_stats_json(stats_out_t *o, const char *opts)
{
    jw_t w = {.out = o, .opts = opts, .first = true};
    ta_stats_emit(o, "{\n  \"tunalloc\": {");
    walk_kids(&w, &ta_ctl_root, 0);
    ta_stats_emit(o, "\n  }\n}\n");
}
