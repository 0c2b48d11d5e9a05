/* tunalua: a lua5.4-like interpreter whose state runs on tunalloc, with
 * a memory limit and a choice of GC mode. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "ta_lua.h"
#include "tunalua_repl.h"

static const char *progname = "tunalua";

typedef struct options {
    size_t limit;
    ta_lua_gc gc;
    bool interactive, version, stats;
    bool system_alloc; /* --alloc=system: the C library's malloc */
    const char *profile; /* --profile=FILE: heap profile written at exit */
    int script; /* argv index of the script, or argc */
} options;

/* Bad command lines say what was wrong before the summary. */
static void usage(const char *why)
{
    fprintf(stderr,
            "%s: %s\n"
            "usage: %s [options] [script [args]]\n"
            "  -e stat        execute string 'stat'\n"
            "  -l mod         require 'mod' into global 'mod' (-l g=mod too)\n"
            "  -i             enter interactive mode after the script\n"
            "  -v             show version information\n"
            "  -M size        memory limit for the script (k, m, g suffixes)\n"
            "  --gc=MODE      incremental or generational (default)\n"
            "  --stats        print the state's allocation counters at exit\n"
            "  --profile=FILE sample the heap; write its live profile (pprof) at exit\n"
            "  --alloc=system run on the C library's malloc instead (the same\n"
            "                 interpreter, to compare allocators; no -M, --stats)\n"
            "  --             stop handling options\n"
            "  -              run stdin and stop handling options\n",
            progname, why, progname);
}

/* Sizes as people write them: 512k, 64m, 1g. */
static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *s == '-')
        return false;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if (*end != '\0' || v > (SIZE_MAX >> shift))
        return false;
    *out = (size_t)v << shift;
    return true;
}

/* Options that take the next argument; returns false on a bad one. */
static bool parse_option(int argc, char **argv, int *i, options *o)
{
    const char *a = argv[*i];
    if (strcmp(a, "-e") == 0 || strcmp(a, "-l") == 0 || strcmp(a, "-M") == 0) {
        if (++*i >= argc) {
            usage("option needs an argument");
            return false;
        }
        if (a[1] == 'M' && !parse_size(argv[*i], &o->limit)) {
            usage("bad size for -M");
            return false;
        }
        return true;
    }
    if (strcmp(a, "-i") == 0)
        o->interactive = true;
    else if (strcmp(a, "-v") == 0)
        o->version = true;
    else if (strcmp(a, "--stats") == 0)
        o->stats = true;
    else if (strcmp(a, "--gc=incremental") == 0)
        o->gc = TA_LUA_GC_INCREMENTAL;
    else if (strcmp(a, "--gc=generational") == 0)
        o->gc = TA_LUA_GC_GENERATIONAL;
    else if (strcmp(a, "--alloc=system") == 0)
        o->system_alloc = true;
    else if (strncmp(a, "--profile=", 10) == 0 && a[10] != '\0')
        o->profile = a + 10;
    else {
        usage("unrecognized option");
        return false;
    }
    return true;
}

/* First pass: everything needed before the state exists. */
static bool parse_args(int argc, char **argv, options *o)
{
    o->gc = TA_LUA_GC_GENERATIONAL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (!parse_option(argc, argv, &i, o))
            return false;
    }
    o->script = i;
    if (o->system_alloc && (o->limit != 0 || o->stats || o->profile)) {
        usage("-M, --stats and --profile need the tunalloc allocator");
        return false;
    }
    return true;
}

/* Errors carry a traceback, as lua5.4 prints them. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)",
                              luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Prints and pops an error so every caller handles failures alike. */
static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
        fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}

/* Calls the function below nargs arguments, protected, with traceback. */
static int docall(lua_State *L, int nargs, int nres)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nres, base);
    lua_remove(L, base);
    return status;
}

/* -e chunks run protected, with the same reporting as scripts. */
static int dostring(lua_State *L, const char *s, const char *name)
{
    int status = luaL_loadbuffer(L, s, strlen(s), name);
    if (status == LUA_OK)
        status = docall(L, 0, 0);
    return report(L, status);
}

/* -l mod or -l g=mod, as lua5.4 does it. */
static int dolibrary(lua_State *L, const char *spec)
{
    const char *eq = strchr(spec, '=');
    const char *mod = eq ? eq + 1 : spec;
    lua_getglobal(L, "require");
    lua_pushstring(L, mod);
    int status = docall(L, 1, 1);
    if (status == LUA_OK) {
        if (eq)
            lua_pushlstring(L, spec, (size_t)(eq - spec));
        else
            lua_pushstring(L, mod);
        lua_insert(L, -2);
        lua_setglobal(L, lua_tostring(L, -2));
        lua_pop(L, 1);
    }
    return report(L, status);
}

/* arg[0] is the script, arg[1..] its arguments, negatives the rest. */
static void create_arg_table(lua_State *L, int argc, char **argv, int script)
{
    int narg = argc - (script + 1);
    lua_createtable(L, narg > 0 ? narg : 0, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* The script's arguments are also its varargs (...); "-" is stdin. */
static int dscript(lua_State *L, int argc, char **argv, int script)
{
    const char *fname = strcmp(argv[script], "-") == 0 ? NULL : argv[script];
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        int n = argc - script - 1;
        luaL_checkstack(L, n + 3, "too many arguments to script");
        for (int i = script + 1; i < argc; i++)
            lua_pushstring(L, argv[i]);
        status = docall(L, n, LUA_MULTRET);
    }
    return report(L, status);
}

/* Runs -e and -l in command-line order, after the state exists. */
static int run_args(lua_State *L, char **argv, int script)
{
    for (int i = 1; i < script; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-M") == 0) {
            i++;
        } else if (strcmp(a, "-e") == 0) {
            if (dostring(L, argv[++i], "=(command line)") != LUA_OK)
                return 1;
        } else if (strcmp(a, "-l") == 0) {
            if (dolibrary(L, argv[++i]) != LUA_OK)
                return 1;
        }
    }
    return 0;
}


/* lua5.4's order: -e/-l, then the script, then -i; with nothing to run,
 * a REPL on a terminal or the program on stdin. */
static int run(lua_State *L, int argc, char **argv, const options *o)
{
    if (run_args(L, argv, o->script) != 0)
        return 1;
    bool ran_e = false;
    for (int i = 1; i < o->script; i++)
        ran_e |= strcmp(argv[i], "-e") == 0;
    if (o->script < argc) {
        if (dscript(L, argc, argv, o->script) != LUA_OK)
            return 1;
    } else if (!ran_e && !o->interactive && !o->version) {
        if (isatty(STDIN_FILENO))
            return tunalua_repl(L, progname);
        int status = luaL_loadfile(L, NULL);
        if (status == LUA_OK)
            status = docall(L, 0, 0);
        return report(L, status) != LUA_OK;
    }
    if (o->interactive)
        return tunalua_repl(L, progname);
    return 0;
}

typedef struct main_args {
    int argc;
    char **argv;
    const options *o;
    int rc;
} main_args;

/* Everything that touches the state runs protected, so even a tiny -M
 * limit ends in a message instead of a panic. */
static int pmain(lua_State *L)
{
    main_args *m = lua_touserdata(L, 1);
    if (m->o->system_alloc)
        luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_tunalloc);
    lua_setfield(L, -2, "tunalloc");
    lua_pop(L, 1);
    if (m->o->profile) {
        luaL_requiref(L, "tunalloc", luaopen_tunalloc, 0);
        lua_getfield(L, -1, "profile_start");
        lua_call(L, 0, 0);
        lua_pop(L, 1);
    }
    int script = m->o->script < m->argc ? m->o->script : 0;
    create_arg_table(L, m->argc, m->argv, script);
    m->rc = run(L, m->argc, m->argv, m->o);
    return 0;
}

/* --stats: the per-state counters, on stderr so output stays clean. */
static void print_stats(lua_State *L)
{
    ta_lua_stats_t st;
    if (ta_lua_stats(L, &st) != 0)
        return;
    fprintf(stderr,
            "tunalua: in_use %zu  peak %zu  limit %zu  allocs %llu  frees "
            "%llu  reallocs %llu  refused %llu  arena %u\n",
            st.in_use, st.peak, st.limit, (unsigned long long)st.nalloc,
            (unsigned long long)st.nfree, (unsigned long long)st.nrealloc,
            (unsigned long long)st.nfail, st.arena);
}

/* The default: a state on its own tunalloc cache, under -M if given. */
static lua_State *tunalloc_state(const options *o)
{
    ta_lua_opts opts;
    ta_lua_opts_init(&opts);
    opts.limit = o->limit;
    opts.gc = o->gc;
    return ta_lua_newstate(&opts);
}

/* The stock allocator with everything else alike, so a comparison of
 * allocators (LD_PRELOAD one under this) does not also compare two
 * interpreter builds; the libraries open later, protected, in pmain. */
static lua_State *system_state(ta_lua_gc gc)
{
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    lua_gc(L, gc == TA_LUA_GC_INCREMENTAL ? LUA_GCINC : LUA_GCGEN, 0, 0, 0);
    return L;
}

/* Options first (the limit and GC mode shape the state), then the
 * state, then everything else protected inside it. */
int main(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    if (argv[0] != NULL && argv[0][0] != '\0')
        progname = argv[0];
    if (!parse_args(argc, argv, &o))
        return 1;
    if (o.version)
        printf("%s (tunalloc %s)\n", LUA_COPYRIGHT, TA_VERSION);
    lua_State *L = o.system_alloc ? system_state(o.gc) : tunalloc_state(&o);
    if (L == NULL) {
        fprintf(stderr, "%s: cannot create state: %s\n", progname,
                strerror(errno));
        return 1;
    }
    main_args m = {argc, argv, &o, 1};
    lua_pushcfunction(L, pmain);
    lua_pushlightuserdata(L, &m);
    if (report(L, lua_pcall(L, 1, 0, 0)) != LUA_OK)
        m.rc = 1;
    if (o.stats)
        print_stats(L);
    int err = o.profile ? ta_prof_dump(o.profile, "pprof") : 0;
    if (err) {
        fprintf(stderr, "%s: %s: %s\n", progname, o.profile, strerror(err));
        m.rc = 1;
    }
    if (o.system_alloc)
        lua_close(L);
    else
        ta_lua_close(L);
    return m.rc;
}
