/* tunalloc.ctl and tunalloc.list: the control namespace from Lua, typed
 * by the namespace's own enumeration so no name list is kept here. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "lmod.h"

static const char *const type_names[] = {
    "node", "bool", "unsigned", "size", "ssize", "uint64", "string",
    "pointer", "action",
};

const char *talua_checkname(lua_State *L, int arg, const char *fn)
{
    size_t len;
    const char *name = luaL_checklstring(L, arg, &len);
    if (strlen(name) != len)
        luaL_error(L, "tunalloc.%s: argument #%d contains a NUL character",
                   fn, arg);
    return name;
}

const char *talua_optname(lua_State *L, int arg, const char *def, const char *fn)
{
    return lua_isnoneornil(L, arg) ? def : talua_checkname(L, arg, fn);
}

/* Index children are enumerated as "<i>", "<j>"...: any decimal index. */
bool talua_is_index(const char *pattern)
{
    size_t n = strlen(pattern);
    return n >= 3 && pattern[0] == '<' && pattern[n - 1] == '>';
}

/* A name component matches its enumerated entry literally or by index. */
static bool matches(const char *pattern, const char *leaf)
{
    if (strcmp(pattern, leaf) == 0)
        return true;
    if (!talua_is_index(pattern) || *leaf == '\0')
        return false;
    return strspn(leaf, "0123456789") == strlen(leaf);
}

/* The namespace has no lookup-by-name for types, but every name's parent
 * lists it, so one enumeration pass finds the entry. */
int talua_ctl_lookup(const char *name, ta_ctl_info *out)
{
    char parent[TALUA_NAME_MAX];
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof parent)
        return ENOENT;
    const char *dot = strrchr(name, '.');
    size_t plen = dot == NULL ? 0 : (size_t)(dot - name);
    memcpy(parent, name, plen);
    parent[plen] = '\0';
    const char *leaf = dot == NULL ? name : dot + 1;
    for (size_t i = 0; ta_ctl_child(parent, i, out) == 0; i++) {
        if (matches(out->name, leaf))
            return 0;
    }
    return ENOENT;
}

/* Integers that do not fit lua_Integer still read as numbers. */
static void push_u64(lua_State *L, uint64_t v)
{
    if (v <= (uint64_t)LUA_MAXINTEGER)
        lua_pushinteger(L, (lua_Integer)v);
    else
        lua_pushnumber(L, (lua_Number)v);
}


/* ta_ctl checks lengths exactly, so each type passes its own size. */
static size_t value_size(ta_ctl_type t)
{
    switch (t) {
    case TA_CTL_BOOL: return sizeof(bool);
    case TA_CTL_UNSIGNED: return sizeof(unsigned);
    case TA_CTL_SIZE: return sizeof(size_t);
    case TA_CTL_SSIZE: return sizeof(ssize_t);
    case TA_CTL_UINT64: return sizeof(uint64_t);
    case TA_CTL_STRING: return sizeof(const char *);
    default: return 0;
    }
}

/* Each ctl type has one natural Lua type: boolean, integer or string. */
void talua_push_value(lua_State *L, ta_ctl_type t, const ta_ctl_value *v)
{
    switch (t) {
    case TA_CTL_BOOL: lua_pushboolean(L, v->b); break;
    case TA_CTL_UNSIGNED: lua_pushinteger(L, v->u); break;
    case TA_CTL_SIZE: push_u64(L, v->z); break;
    case TA_CTL_SSIZE: lua_pushinteger(L, v->s); break;
    case TA_CTL_UINT64: push_u64(L, v->q); break;
    default: lua_pushstring(L, v->str); break;
    }
}

/* Shared by ctl and stats so a value reads the same way in both. */
int talua_ctl_push(lua_State *L, const char *name, const ta_ctl_info *info)
{
    ta_ctl_value v;
    size_t len = value_size(info->type);
    if (len == 0)
        return EPERM;
    memset(&v, 0, sizeof v);
    int err = ta_ctl(name, &v, &len, NULL, 0);
    if (err == 0)
        talua_push_value(L, info->type, &v);
    return err;
}

/* The ctl errno values in the words a script author needs. */
static const char *errno_text(int err)
{
    switch (err) {
    case ENOENT: return "unknown name";
    case EINVAL: return "invalid value or length";
    case EPERM: return "operation not permitted on this name";
    case EFAULT: return "bad address";
    case EAGAIN: return "temporarily unavailable, try again";
    case ENOMEM: return "out of memory";
    case EBUSY: return "busy (still in use)";
    default: return strerror(err);
    }
}

/* Every ctl failure names the function and the name involved. */
int talua_ctl_error(lua_State *L, const char *fn, const char *name, int err)
{
    return luaL_error(L, "tunalloc.%s: '%s': %s", fn, name, errno_text(err));
}

/* Checks that an integer argument fits the ctl type before any write. */
static lua_Integer int_arg(lua_State *L, const char *name, lua_Integer lo,
                           lua_Integer hi)
{
    int isint = 0;
    lua_Integer v = lua_tointegerx(L, 2, &isint);
    if (!isint)
        luaL_error(L, "tunalloc.ctl: '%s' takes an integer, got %s", name,
                   luaL_typename(L, 2));
    if (v < lo || v > hi)
        luaL_error(L, "tunalloc.ctl: '%s': value %I out of range", name, v);
    return v;
}

/* Converts argument 2 to the ctl type, raising on a mismatch. */
static size_t to_value(lua_State *L, const char *name, ta_ctl_type t,
                       ta_ctl_value *v)
{
    switch (t) {
    case TA_CTL_BOOL:
        if (!lua_isboolean(L, 2))
            luaL_error(L, "tunalloc.ctl: '%s' takes a boolean, got %s", name,
                       luaL_typename(L, 2));
        v->b = lua_toboolean(L, 2);
        break;
    case TA_CTL_UNSIGNED: v->u = (unsigned)int_arg(L, name, 0, UINT_MAX); break;
    case TA_CTL_SIZE: v->z = (size_t)int_arg(L, name, 0, LUA_MAXINTEGER); break;
    case TA_CTL_SSIZE:
        v->s = (ssize_t)int_arg(L, name, LUA_MININTEGER, LUA_MAXINTEGER);
        break;
    case TA_CTL_UINT64: v->q = (uint64_t)int_arg(L, name, 0, LUA_MAXINTEGER); break;
    default:
        if (lua_type(L, 2) != LUA_TSTRING)
            luaL_error(L, "tunalloc.ctl: '%s' takes a string, got %s", name,
                       luaL_typename(L, 2));
        v->str = talua_checkname(L, 2, "ctl");
        break;
    }
    return value_size(t);
}

/* arenas.lookup reads an arena index for the pointer written: any Lua
 * object's address works, which answers "which arena holds this". */
static int lookup_pointer(lua_State *L, const char *name)
{
    const void *p = lua_topointer(L, 2);
    if (p == NULL)
        return luaL_error(L, "tunalloc.ctl: '%s' takes an object "
                          "(table, userdata, function...), got %s",
                          name, luaL_typename(L, 2));
    unsigned idx = 0;
    size_t len = sizeof idx;
    int err = ta_ctl(name, &idx, &len, (void *)&p, sizeof p);
    if (err != 0)
        return talua_ctl_error(L, "ctl", name, err);
    lua_pushinteger(L, idx);
    return 1;
}

/* Writing returns the previous value when the name is also readable,
 * as jemalloc's read-and-write does, but in two steps any ctl supports. */
static int write_value(lua_State *L, const char *name, const ta_ctl_info *info)
{
    if (!(info->mode & TA_CTL_WRITE))
        return luaL_error(L, "tunalloc.ctl: '%s' is read-only", name);
    ta_ctl_value v;
    size_t len = to_value(L, name, info->type, &v);
    int nret = 0;
    if (info->mode & TA_CTL_READ) {
        int err = talua_ctl_push(L, name, info);
        if (err != 0)
            return talua_ctl_error(L, "ctl", name, err);
        nret = 1;
    }
    int err = ta_ctl(name, NULL, NULL, &v, len);
    if (err != 0)
        return talua_ctl_error(L, "ctl", name, err);
    return nret;
}

/* The index of arena.<i>.reset or arena.<i>.destroy (a name the
 * namespace resolved, so <i> is decimal digits), or -1 for any other
 * name and for indexes past TA_ARENAS_ALL, which the core answers. */
static lua_Integer released_arena(const char *name, bool *destroy)
{
    if (strncmp(name, "arena.", 6) != 0)
        return -1;
    char *end;
    unsigned long idx = strtoul(name + 6, &end, 10);
    if (*end != '.' || idx > TA_ARENAS_ALL)
        return -1;
    *destroy = strcmp(end + 1, "destroy") == 0;
    return *destroy || strcmp(end + 1, "reset") == 0 ? (lua_Integer)idx : -1;
}

/* ctl(name [, value]): read, write, or trigger an action. */
static int l_ctl(lua_State *L)
{
    const char *name = talua_checkname(L, 1, "ctl");
    bool has_value = !lua_isnoneornil(L, 2);
    ta_ctl_info info;
    if (talua_ctl_lookup(name, &info) != 0)
        return luaL_error(L, "tunalloc.ctl: unknown name '%s'", name);
    if (info.type == TA_CTL_NODE)
        return luaL_error(L, "tunalloc.ctl: '%s' is a node, not a value "
                          "(tunalloc.list shows its children)", name);
    if (info.type == TA_CTL_POINTER)
        return lookup_pointer(L, name);
    if (info.type == TA_CTL_ACTION) {
        if (has_value)
            return luaL_error(L, "tunalloc.ctl: '%s' is an action and takes "
                              "no value", name);
        bool destroy;
        lua_Integer idx = released_arena(name, &destroy);
        if (idx >= 0) {
            /* arena_destroy's and arena_reset's refusal holds here too */
            talua_arena_release(L, "ctl", idx, destroy, false);
            return 0;
        }
        int err = ta_ctl(name, NULL, NULL, NULL, 0);
        return err == 0 ? 0 : talua_ctl_error(L, "ctl", name, err);
    }
    if (has_value)
        return write_value(L, name, &info);
    if (!(info.mode & TA_CTL_READ))
        return luaL_error(L, "tunalloc.ctl: '%s' is write-only", name);
    int err = talua_ctl_push(L, name, &info);
    return err == 0 ? 1 : talua_ctl_error(L, "ctl", name, err);
}

/* One entry of list(): the enumeration made readable from Lua. */
static void push_info(lua_State *L, const ta_ctl_info *info)
{
    lua_createtable(L, 0, 4);
    lua_pushstring(L, info->name);
    lua_setfield(L, -2, "name");
    unsigned t = info->type;
    lua_pushstring(L, t < sizeof type_names / sizeof *type_names
                          ? type_names[t] : "unknown");
    lua_setfield(L, -2, "type");
    lua_pushfstring(L, "%s%s", info->mode & TA_CTL_READ ? "r" : "-",
                    info->mode & TA_CTL_WRITE ? "w" : "-");
    lua_setfield(L, -2, "mode");
    lua_pushstring(L, info->doc ? info->doc : "");
    lua_setfield(L, -2, "doc");
}

/* list([node]): the children of a node, so scripts can discover names. */
static int l_list(lua_State *L)
{
    const char *node = talua_optname(L, 1, "", "list");
    ta_ctl_info info;
    if (*node != '\0') {
        if (talua_ctl_lookup(node, &info) != 0)
            return luaL_error(L, "tunalloc.list: unknown name '%s'", node);
        if (info.type != TA_CTL_NODE)
            return luaL_error(L, "tunalloc.list: '%s' is a value, not a node",
                              node);
    }
    lua_newtable(L);
    for (size_t i = 0; ta_ctl_child(node, i, &info) == 0; i++) {
        push_info(L, &info);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* Registration lives with the functions it registers. */
void talua_open_ctl(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"ctl", l_ctl},
        {"list", l_list},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
}
