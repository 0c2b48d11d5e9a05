/* Internal to the Lua library: the parts of `require "tunalloc"` that
 * live in separate files register into the module table. */
#ifndef TA_LUA_LMOD_H
#define TA_LUA_LMOD_H

#include <stdbool.h>

#include <lauxlib.h>

#include "lstate.h"

#define TALUA_NAME_MAX 256

/* Finds the type and mode of a leaf or node by enumerating its parent;
 * 0 or ENOENT (also for names too long to be real). */
TALUA_HIDDEN int talua_ctl_lookup(const char *name, ta_ctl_info *out);
/* True for an enumerated index child ("<i>", "<j>"), which stands for
 * any decimal index. */
TALUA_HIDDEN bool talua_is_index(const char *pattern);
/* Reads a readable leaf and pushes it; 0 or the ctl error (nothing is
 * pushed then). */
TALUA_HIDDEN int talua_ctl_push(lua_State *L, const char *name,
                                const ta_ctl_info *info);
/* Raises a Lua error naming the function, the ctl name and the errno. */
TALUA_HIDDEN int talua_ctl_error(lua_State *L, const char *fn,
                                 const char *name, int err);
/* Argument arg as a name for fn: a string without NUL characters (the
 * core reads names up to the first NUL, so "version\0x" would pass for
 * "version"). The opt form gives def for none or nil. */
TALUA_HIDDEN const char *talua_checkname(lua_State *L, int arg, const char *fn);
TALUA_HIDDEN const char *talua_optname(lua_State *L, int arg, const char *def,
                                       const char *fn);
/* Destroys or resets arena index unless blocks of it are live (force
 * frees them anyway); raises a Lua error naming fn otherwise. */
TALUA_HIDDEN void talua_arena_release(lua_State *L, const char *fn,
                                      lua_Integer index, bool destroy, bool force);
/* Adds ctl and list to the table on top of the stack. */
TALUA_HIDDEN void talua_open_ctl(lua_State *L);
/* Adds stats, stats_text, stats_json and purge likewise. */
TALUA_HIDDEN void talua_open_stats(lua_State *L);
/* Adds profile_start, profile_stop, profile_snapshot, profile_dump. */
TALUA_HIDDEN void talua_open_prof(lua_State *L);

#endif
