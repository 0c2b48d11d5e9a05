/* tunalua's pieces shared between its command line and its REPL. */
#ifndef TUNALUA_REPL_H
#define TUNALUA_REPL_H

#include <lua.h>

extern const char *tunalua_progname;

/* Calls the function below nargs arguments, protected, with a traceback
 * on error and Ctrl-C turned into an "interrupted!" error. */
int tunalua_docall(lua_State *L, int nargs, int nres);
/* Prints (prefixed "pname: " unless pname is NULL) and pops an error. */
int tunalua_report(lua_State *L, int status, const char *pname);

/* Reads, evaluates and prints until end of input, as lua5.4 does; call
 * it protected: it empties the stack. */
void tunalua_repl(lua_State *L);

#endif
