/* The interactive loop of tunalua. */
#ifndef TUNALUA_REPL_H
#define TUNALUA_REPL_H

#include <lua.h>

/* Reads statements from stdin until end of file; 0 on a normal end. */
int tunalua_repl(lua_State *L, const char *progname);

#endif
