/* tunalua's REPL, lua5.4's without readline: prompts from _PROMPT and
 * _PROMPT2, a line tried first as an expression ("=x" too, as "return
 * x"), incomplete statements continued over several lines, results shown
 * with the global print, errors with their traceback and no program name. */
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

/* The prompt is pushed, as tostring(_PROMPT) may allocate. */
static const char *push_prompt(lua_State *L, int firstline)
{
    if (lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2") == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushstring(L, firstline ? "> " : ">> ");
        return lua_tostring(L, -1);
    }
    const char *p = luaL_tolstring(L, -1, NULL);
    lua_remove(L, -2);
    return p;
}

/* Pushes the next line without its newline; 0 at end of input. */
static int push_line(lua_State *L, int firstline)
{
    char line[LINE_MAX_LEN];
    fputs(push_prompt(L, firstline), stdout);
    fflush(stdout);
    lua_pop(L, 1);
    if (fgets(line, sizeof line, stdin) == NULL)
        return 0;
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\n')
        line[--len] = '\0';
    if (firstline && line[0] == '=')
        lua_pushfstring(L, "return %s", line + 1);
    else
        lua_pushlstring(L, line, len);
    return 1;
}

/* "return <line>;" first, so a bare expression shows its value. */
static int add_return(lua_State *L)
{
    const char *line = lua_tostring(L, -1);
    const char *ret = lua_pushfstring(L, "return %s;", line);
    int status = luaL_loadbuffer(L, ret, strlen(ret), "=stdin");
    if (status == LUA_OK)
        lua_remove(L, -2);
    else
        lua_pop(L, 2);
    return status;
}

/* Adds lines until the chunk compiles or fails for another reason than
 * its end; leaves the chunk or the error, and removes the text. */
static int multiline(lua_State *L)
{
    for (;;) {
        size_t len;
        const char *code = lua_tolstring(L, 1, &len);
        int status = luaL_loadbuffer(L, code, len, "=stdin");
        if (!incomplete(L, status) || !push_line(L, 0))
            return status;
        lua_remove(L, -2); /* the error */
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
}

/* -1 at end of input, else the status of the chunk left on the stack. */
static int load_line(lua_State *L)
{
    lua_settop(L, 0);
    if (!push_line(L, 1))
        return -1;
    int status = add_return(L);
    if (status != LUA_OK)
        status = multiline(L);
    lua_remove(L, 1);
    return status;
}

/* Results go through the global print, so scripts may redefine it. */
static void print_results(lua_State *L)
{
    int n = lua_gettop(L);
    if (n == 0)
        return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
        fprintf(stderr, "%s: error calling 'print' (%s)\n", tunalua_progname,
                lua_tostring(L, -1));
}

/* Runs protected (inside tunalua's main function) and clears the
 * stack, as lua5.4's does. */
void tunalua_repl(lua_State *L)
{
    int status;
    while ((status = load_line(L)) != -1) {
        if (status == LUA_OK)
            status = tunalua_docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK)
            print_results(L);
        else
            tunalua_report(L, status, NULL);
    }
    lua_settop(L, 0);
    fputs("\n", stdout);
    fflush(stdout);
}
