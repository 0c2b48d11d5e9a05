/* JSON statistics from the namespace walker (ta_ctl_walk), so the output
 * holds every readable number the namespace has and cannot drift from
 * it: objects nest as names do, index components become keys ("0",
 * "4096"), and leaves that fail to read (absent arenas) are left out. */
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "ctl_json.h"

typedef struct jw {
    stats_out_t *out;
    bool first;   /* no member written yet in the current object */
    size_t depth; /* objects open, the "tunalloc" one included */
} jw_t;

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
    tai_stats_emit(w->out, "%s", buf);
}

/* Numbers print in full precision; Python's json reads them exactly. */
static void emit_value(jw_t *w, ta_ctl_type type, const ta_ctl_value *v)
{
    switch (type) {
    case TA_CTL_BOOL:
        tai_stats_emit(w->out, "%s", v->b ? "true" : "false");
        break;
    case TA_CTL_UNSIGNED:
    case TA_CTL_POINTER:
        tai_stats_emit(w->out, "%u", v->u);
        break;
    case TA_CTL_SIZE:
        tai_stats_emit(w->out, "%zu", v->z);
        break;
    case TA_CTL_SSIZE:
        tai_stats_emit(w->out, "%lld", (long long)v->s);
        break;
    case TA_CTL_STRING:
        emit_string(w, v->str);
        break;
    default:
        tai_stats_emit(w->out, "%llu", (unsigned long long)v->q);
        break;
    }
}

/* Separator, indentation and key of a member of the current object. */
static void open_member(jw_t *w, const char *name, size_t index)
{
    char key[24];
    if (name == NULL) {
        snprintf(key, sizeof(key), "%zu", index);
        name = key;
    }
    tai_stats_emit(w->out, "%s%*s\"%s\": ", w->first ? "\n" : ",\n", (int)(2 * w->depth + 2),
                  "", name);
    w->first = false;
}

static void json_open(void *opaque, const char *name, size_t index)
{
    jw_t *w = opaque;
    open_member(w, name, index);
    tai_stats_emit(w->out, "{");
    w->first = true;
    w->depth++;
}

static void json_close(void *opaque)
{
    jw_t *w = opaque;
    w->depth--;
    tai_stats_emit(w->out, "\n%*s}", (int)(2 * w->depth + 2), "");
    w->first = false;
}

static void json_value(void *opaque, const char *name, size_t index, ta_ctl_type type,
                       const ta_ctl_value *v)
{
    jw_t *w = opaque;
    open_member(w, name, index);
    emit_value(w, type, v);
}

/* Wrapped in {"tunalloc": ...} as jemalloc wraps its own in "jemalloc". */
void tai_stats_json(stats_out_t *o, const char *opts)
{
    /* On the stack: a static one would be relocated at every load. */
    const ta_ctl_visitor json = {json_open, json_close, json_value};
    jw_t w = {.out = o, .first = true, .depth = 1};
    tai_stats_emit(o, "{\n  \"tunalloc\": {");
    ta_ctl_walk("", opts, &json, &w);
    tai_stats_emit(o, "\n  }\n}\n");
}
