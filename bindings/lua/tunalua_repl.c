/* tunalua's REPL: a plain fgets loop (no readline dependency) that
 * evaluates expressions, continues incomplete statements over several
 * lines, and prints results with the global print, as lua5.4 does. */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "tunalua_repl.h"

#define LINE_MAX_LEN 4096

/* An incomplete statement fails to compile with "<eof>" at the end. */
static int incomplete(lua_State *L, int status)
{
    if (status != LUA_ERRSYNTAX)
        return 0;
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    static const char mark[] = "<eof>";
    size_t ml = sizeof mark - 1;
    return len >= ml && strcmp(msg + len - ml, mark) == 0;
}

/* "return <line>" first, so a bare expression prints its value. */
static int compile(lua_State *L, const char *code)
{
    lua_pushfstring(L, "return %s;", code);
    int status = luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1),
                                 "=stdin");
    lua_remove(L, -2);
    if (status == LUA_OK)
        return status;
    lua_pop(L, 1);
    return luaL_loadbuffer(L, code, strlen(code), "=stdin");
}

/* Results go through the global print, so scripts may redefine it. */
static void print_results(lua_State *L, int base)
{
    int n = lua_gettop(L) - base;
    if (n == 0)
        return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, base + 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK) {
        fprintf(stderr, "error calling print: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
}

/* Runs one complete chunk (on top) and shows results or the error. */
static void execute(lua_State *L, const char *progname, int base)
{
    if (lua_pcall(L, 0, LUA_MULTRET, 0) == LUA_OK) {
        print_results(L, base);
    } else {
        fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
    }
    lua_settop(L, base);
}

/* The pending text lives in a Lua string on the stack, so a line that
 * ends in an incomplete statement costs no C buffer management. */
int tunalua_repl(lua_State *L, const char *progname)
{
    char line[LINE_MAX_LEN];
    int base = lua_gettop(L);
    lua_pushliteral(L, "");
    for (;;) {
        fputs(lua_rawlen(L, -1) == 0 ? "> " : ">> ", stdout);
        fflush(stdout);
        if (fgets(line, sizeof line, stdin) == NULL)
            break;
        line[strcspn(line, "\n")] = '\0';
        lua_pushfstring(L, "%s%s%s", lua_tostring(L, -1),
                        lua_rawlen(L, -1) ? "\n" : "", line);
        lua_remove(L, -2);
        int status = compile(L, lua_tostring(L, -1));
        if (incomplete(L, status)) {
            lua_pop(L, 1);
            continue;
        }
        lua_remove(L, -2);
        if (status == LUA_OK)
            execute(L, progname, base);
        else {
            fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
            lua_settop(L, base);
        }
        lua_pushliteral(L, "");
    }
    lua_settop(L, base);
    fputs("\n", stdout);
    return 0;
}
