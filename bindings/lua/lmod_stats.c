/* tunalloc.stats (nested tables), stats_text, stats_json and purge. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lmod.h"

/* Stats are a snapshot: writing epoch refreshes it first. */
static void refresh(lua_State *L)
{
    uint64_t one = 1;
    int err = ta_ctl("epoch", NULL, NULL, &one, sizeof one);
    if (err != 0)
        talua_ctl_error(L, "stats", "epoch", err);
}

/* A missing counter means no indexed children to show, not an error. */
static unsigned read_count(const char *name)
{
    unsigned n = 0;
    size_t len = sizeof n;
    return ta_ctl(name, &n, &len, NULL, 0) == 0 ? n : 0;
}

/* Index children get their range from the counter that sizes them; a
 * node with no known counter is left out rather than guessed at. */
static unsigned index_count(const char *path, bool *with_all)
{
    const char *dot = strrchr(path, '.');
    const char *last = dot == NULL ? path : dot + 1;
    *with_all = false;
    if (strcmp(last, "arenas") == 0) {
        *with_all = true;
        return read_count("arenas.narenas");
    }
    if (strcmp(last, "bins") == 0 || strcmp(last, "bin") == 0)
        return read_count("arenas.nbins");
    if (strcmp(last, "lextents") == 0 || strcmp(last, "lextent") == 0)
        return read_count("arenas.nlextents");
    return 0;
}

static bool push_node(lua_State *L, const char *path);

/* Pushes what a name holds (a value, or a table for a node) and says
 * whether it pushed: actions, inputs and unreadable names show nothing. */
static bool push_entry(lua_State *L, const char *path, const ta_ctl_info *info)
{
    if (info->type == TA_CTL_NODE)
        return push_node(L, path);
    if (!(info->mode & TA_CTL_READ) || info->type == TA_CTL_ACTION ||
        info->type == TA_CTL_POINTER)
        return false;
    return talua_ctl_push(L, path, info) == 0;
}

/* Indexed children are keyed by their index (0-based, as in the names);
 * the all-arenas merge is keyed "all". */
static bool add_indexed(lua_State *L, const char *path, const ta_ctl_info *info)
{
    bool with_all;
    unsigned n = index_count(path, &with_all);
    bool any = false;
    char child[TALUA_NAME_MAX];
    for (unsigned i = 0; i < n + with_all; i++) {
        unsigned idx = i < n ? i : TA_ARENAS_ALL;
        int len = snprintf(child, sizeof child, "%s.%u", path, idx);
        if (len < 0 || (size_t)len >= sizeof child || !push_entry(L, child, info))
            continue;
        if (idx == TA_ARENAS_ALL)
            lua_setfield(L, -2, "all");
        else
            lua_rawseti(L, -2, idx);
        any = true;
    }
    return any;
}

/* Builds the node's table from the enumeration; empty nodes (an arena
 * slot that was destroyed) are dropped so the result shows what exists. */
static bool push_node(lua_State *L, const char *path)
{
    luaL_checkstack(L, 4, "tunalloc.stats: namespace too deep");
    lua_newtable(L);
    bool any = false;
    ta_ctl_info info;
    char child[TALUA_NAME_MAX];
    for (size_t i = 0; ta_ctl_child(path, i, &info) == 0; i++) {
        if (talua_is_index(info.name)) {
            any |= add_indexed(L, path, &info);
            continue;
        }
        int len = snprintf(child, sizeof child, "%s%s%s", path,
                           *path ? "." : "", info.name);
        if (len < 0 || (size_t)len >= sizeof child || !push_entry(L, child, &info))
            continue;
        lua_setfield(L, -2, info.name);
        any = true;
    }
    if (!any)
        lua_pop(L, 1);
    return any;
}

/* stats([node]): a fresh snapshot of "stats" (or any node) as tables. */
static int l_stats(lua_State *L)
{
    const char *node = talua_optname(L, 1, "stats", "stats");
    ta_ctl_info info = {0};
    if (*node != '\0' && talua_ctl_lookup(node, &info) != 0)
        return luaL_error(L, "tunalloc.stats: unknown name '%s'", node);
    if (*node != '\0' && info.type != TA_CTL_NODE)
        return luaL_error(L, "tunalloc.stats: '%s' is a value, not a node "
                          "(use tunalloc.ctl)", node);
    refresh(L);
    if (!push_node(L, node))
        lua_newtable(L);
    return 1;
}

/* The printer's text is gathered outside Lua: raising a Lua error from
 * inside ta_stats_print would unwind through the allocator. The box is
 * a userdata so its __gc frees the text if pushing it raises. */
typedef struct text_box {
    char *p;
    size_t len, cap;
    bool oom;
} text_box;

/* ta_stats_print's callback: grows the buffer, never raises. */
static void box_append(void *opaque, const char *text)
{
    text_box *b = opaque;
    size_t n = strlen(text);
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = ta_realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, text, n + 1);
    b->len += n;
}

/* Frees the text if an error skipped the normal release. */
static int box_gc(lua_State *L)
{
    text_box *b = lua_touserdata(L, 1);
    ta_free(b->p);
    b->p = NULL;
    return 0;
}

/* Letters are those of malloc_stats_print; J is added for JSON. */
static int print_stats(lua_State *L, bool json)
{
    const char *opts = talua_optname(L, 1, "", json ? "stats_json" : "stats_text");
    if (strspn(opts, "gmabl") != strlen(opts))
        return luaL_error(L, "tunalloc.stats_%s: unknown option letter in "
                          "'%s' (use g m a b l)", json ? "json" : "text", opts);
    char letters[16];
    if (strlen(opts) + 2 > sizeof letters)
        return luaL_error(L, "tunalloc.stats: option string too long");
    snprintf(letters, sizeof letters, "%s%s", opts, json ? "J" : "");
    text_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    ta_stats_print(box_append, b, letters);
    if (b->oom)
        return luaL_error(L, "tunalloc.stats: out of memory");
    lua_pushlstring(L, b->p ? b->p : "", b->len);
    ta_free(b->p);
    b->p = NULL;
    return 1;
}

static int l_stats_text(lua_State *L) { return print_stats(L, false); }
static int l_stats_json(lua_State *L) { return print_stats(L, true); }

/* purge([arena]): give dirty pages back now; default every arena. */
static int l_purge(lua_State *L)
{
    lua_Integer idx = luaL_optinteger(L, 1, TA_ARENAS_ALL);
    luaL_argcheck(L, idx >= 0 && idx <= TA_ARENAS_ALL, 1,
                  "arena index out of range");
    char name[64];
    snprintf(name, sizeof name, "arena.%u.purge", (unsigned)idx);
    int err = ta_ctl(name, NULL, NULL, NULL, 0);
    if (err != 0)
        return talua_ctl_error(L, "purge", name, err);
    return 0;
}

/* Registration lives with the functions it registers. */
void talua_open_stats(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"stats", l_stats},
        {"stats_text", l_stats_text},
        {"stats_json", l_stats_json},
        {"purge", l_purge},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
}
