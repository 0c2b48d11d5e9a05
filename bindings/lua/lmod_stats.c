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

/* The core's walker (ta_ctl_walk) builds the tables, so Lua shows the
 * tree JSON and Python show: an index component is keyed by its number
 * (s.arenas[0], the merged arenas at tunalloc.ARENAS_ALL). The walker
 * holds no lock across a callback, so a Lua memory error raised in one
 * unwinds cleanly. Stack: ... parent [key table]* while objects are open. */
static void push_key(lua_State *L, const char *name, size_t index)
{
    if (name != NULL)
        lua_pushstring(L, name);
    else
        lua_pushinteger(L, (lua_Integer)index);
}

static void walk_open(void *opaque, const char *name, size_t index)
{
    lua_State *L = opaque;
    luaL_checkstack(L, 4, "tunalloc.stats: namespace too deep");
    push_key(L, name, index);
    lua_newtable(L);
}

static void walk_close(void *opaque)
{
    lua_settable(opaque, -3);
}

static void walk_value(void *opaque, const char *name, size_t index, ta_ctl_type type,
                      const ta_ctl_value *v)
{
    lua_State *L = opaque;
    push_key(L, name, index);
    talua_push_value(L, type, v);
    lua_settable(L, -3);
}

/* stats([node]): a fresh snapshot of "stats" (or any node) as tables. */
static int l_stats(lua_State *L)
{
    static const ta_ctl_visitor to_lua = {walk_open, walk_close, walk_value};
    const char *node = talua_optname(L, 1, "stats", "stats");
    refresh(L);
    lua_newtable(L);
    int err = ta_ctl_walk(node, "", &to_lua, L);
    if (err == ENOENT)
        return luaL_error(L, "tunalloc.stats: unknown name '%s'", node);
    if (err == EINVAL)
        return luaL_error(L, "tunalloc.stats: '%s' is a value, not a node "
                          "(use tunalloc.ctl)", node);
    if (err != 0)
        return talua_ctl_error(L, "stats", node, err);
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
