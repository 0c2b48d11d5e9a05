/* tunalua: the lua5.4 interpreter's command line -- its options, LUA_INIT,
 * messages and exit codes -- on a state that runs on tunalloc, with
 * options of its own on top: a memory limit, the GC mode, counters. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "ta_lua.h"
#include "tunalua_repl.h"

const char *tunalua_progname = "tunalua";

typedef struct options {
    bool has_i, has_v, has_e, has_E;
    int bad;    /* argv index of a bad option, or 0 */
    int script; /* argv index of the script, or argc */
    /* tunalua's own */
    size_t limit;
    ta_lua_gc gc;
    bool stats;
    bool system_alloc; /* --alloc=system: the C library's malloc */
    const char *bad_size; /* -M's argument when it is not a size */
    const char *profile; /* --profile=FILE: heap profile written at exit */
} options;

static void message(const char *pname, const char *msg)
{
    if (pname != NULL)
        fprintf(stderr, "%s: ", pname);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
}

/* lua5.4's summary, then tunalua's own options. */
static void print_usage(const char *bad)
{
    const char *p = tunalua_progname;
    if ((bad[1] == 'e' || bad[1] == 'l' || bad[1] == 'M') && bad[2] == '\0')
        fprintf(stderr, "%s: '%s' needs argument\n", p, bad);
    else
        fprintf(stderr, "%s: unrecognized option '%s'\n", p, bad);
    fprintf(stderr,
            "usage: %s [options] [script [args]]\n"
            "Available options are:\n"
            "  -e stat   execute string 'stat'\n"
            "  -i        enter interactive mode after executing 'script'\n"
            "  -l mod    require library 'mod' into global 'mod'\n"
            "  -l g=mod  require library 'mod' into global 'g'\n"
            "  -v        show version information\n"
            "  -E        ignore environment variables\n"
            "  -W        turn warnings on\n"
            "  --        stop handling options\n"
            "  -         stop handling options and execute stdin\n"
            "  -M size        memory limit for the script (k, m, g suffixes)\n"
            "  --gc=MODE      incremental or generational (default)\n"
            "  --stats        print the state's allocation counters at exit\n"
            "  --profile=FILE sample the heap; write its live profile (pprof) at exit\n"
            "  --alloc=system run on the C library's malloc instead (the same\n"
            "                 interpreter, to compare allocators; no -M, --stats)\n",
            p);
    fflush(stderr);
}

static void print_version(void)
{
    printf("%s (tunalloc %s)\n", LUA_COPYRIGHT, TA_VERSION);
    fflush(stdout);
}

/* tunalua's long options; false if a is none of them. */
static bool long_option(const char *a, options *o)
{
    if (strcmp(a, "--stats") == 0)
        o->stats = true;
    else if (strcmp(a, "--gc=incremental") == 0)
        o->gc = TA_LUA_GC_INCREMENTAL;
    else if (strcmp(a, "--gc=generational") == 0)
        o->gc = TA_LUA_GC_GENERATIONAL;
    else if (strcmp(a, "--alloc=system") == 0)
        o->system_alloc = true;
    else if (strncmp(a, "--profile=", 10) == 0 && a[10] != '\0')
        o->profile = a + 10;
    else
        return false;
    return true;
}

/* lua5.4's rules: options end at the first non-option ("-" is the stdin
 * script, "--" stops them); -e, -l (and -M) take the rest of their
 * argument or the next one, which must not look like an option. Sets
 * o->bad on the first bad one. */
static void collect_args(int argc, char **argv, options *o)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        o->script = i;
        if (a[0] != '-' || a[1] == '\0')
            return;
        switch (a[1]) {
        case '-':
            if (a[2] == '\0') {
                o->script = i + 1;
                return;
            }
            if (!long_option(a, o)) {
                o->bad = i;
                return;
            }
            break;
        case 'E':
        case 'W':
        case 'i':
        case 'v':
            if (a[2] != '\0') {
                o->bad = i;
                return;
            }
            o->has_E |= a[1] == 'E';
            o->has_i |= a[1] == 'i';
            o->has_v |= a[1] == 'i' || a[1] == 'v';
            break;
        case 'e':
        case 'l':
        case 'M': {
            const char *arg = a + 2;
            if (*arg == '\0') {
                arg = argv[++i];
                if (arg == NULL || arg[0] == '-') {
                    o->bad = i - 1;
                    return;
                }
            }
            o->has_e |= a[1] == 'e';
            if (a[1] == 'M' && ta_parse_size(arg, strlen(arg), &o->limit) != 0)
                o->bad_size = arg;
            break;
        }
        default:
            o->bad = i;
            return;
        }
    }
    o->script = i;
}

/* Ctrl-C while Lua runs: the next hook event raises "interrupted!", so
 * the script can be stopped without killing the interpreter's state. */
static lua_State *running;

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

static void on_sigint(int sig)
{
    signal(sig, SIG_DFL); /* a second Ctrl-C kills, as in lua5.4 */
    lua_sethook(running, stop_hook,
                LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
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

int tunalua_docall(lua_State *L, int nargs, int nres)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    running = L;
    signal(SIGINT, on_sigint);
    int status = lua_pcall(L, nargs, nres, base);
    signal(SIGINT, SIG_DFL);
    lua_remove(L, base);
    return status;
}

int tunalua_report(lua_State *L, int status, const char *pname)
{
    if (status != LUA_OK) {
        message(pname, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    return status;
}

static int report(lua_State *L, int status)
{
    return tunalua_report(L, status, tunalua_progname);
}

static int dochunk(lua_State *L, int status)
{
    if (status == LUA_OK)
        status = tunalua_docall(L, 0, 0);
    return report(L, status);
}

static int dostring(lua_State *L, const char *s, const char *name)
{
    return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l mod or -l g=mod. */
static int dolibrary(lua_State *L, const char *spec)
{
    const char *eq = strchr(spec, '=');
    const char *mod = eq ? eq + 1 : spec;
    lua_getglobal(L, "require");
    lua_pushstring(L, mod);
    int status = tunalua_docall(L, 1, 1);
    if (status == LUA_OK) {
        lua_pushlstring(L, spec, eq ? (size_t)(eq - spec) : strlen(spec));
        lua_insert(L, -2);
        lua_setglobal(L, lua_tostring(L, -2));
        lua_pop(L, 1);
    }
    return report(L, status);
}

/* arg[0] is the script, arg[1..] its arguments, negatives the rest. */
static void create_arg_table(lua_State *L, int argc, char **argv, int script)
{
    if (script == argc)
        script = 0;
    int narg = argc - (script + 1);
    lua_createtable(L, narg > 0 ? narg : 0, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* The script's varargs are arg[1..#arg] as they are when it starts (an
 * -e chunk may have changed them); "-" is stdin unless after "--". */
static int handle_script(lua_State *L, char **argv, int script)
{
    const char *fname = argv[script];
    if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0)
        fname = NULL;
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        if (lua_getglobal(L, "arg") != LUA_TTABLE)
            luaL_error(L, "'arg' is not a table");
        int n = (int)luaL_len(L, -1);
        luaL_checkstack(L, n + 3, "too many arguments to script");
        for (int i = 1; i <= n; i++)
            lua_rawgeti(L, -i, i);
        lua_remove(L, -n - 1);
        status = tunalua_docall(L, n, LUA_MULTRET);
    }
    return report(L, status);
}

/* LUA_INIT_5_4, else LUA_INIT: a chunk, or @file. */
static int handle_luainit(lua_State *L)
{
    const char *name = "=LUA_INIT_" LUA_VERSION_MAJOR "_" LUA_VERSION_MINOR;
    const char *init = getenv(name + 1);
    if (init == NULL) {
        name = "=LUA_INIT";
        init = getenv(name + 1);
    }
    if (init == NULL)
        return LUA_OK;
    if (init[0] == '@')
        return dochunk(L, luaL_loadfile(L, init + 1));
    return dostring(L, init, name);
}

/* -e, -l and -W in command-line order; false once one fails. */
static bool run_args(lua_State *L, char **argv, int script)
{
    for (int i = 1; i < script; i++) {
        char opt = argv[i][1];
        if (opt == 'e' || opt == 'l' || opt == 'M') {
            const char *extra = argv[i] + 2;
            if (*extra == '\0')
                extra = argv[++i];
            int status = LUA_OK;
            if (opt == 'e')
                status = dostring(L, extra, "=(command line)");
            else if (opt == 'l')
                status = dolibrary(L, extra);
            if (status != LUA_OK)
                return false;
        } else if (opt == 'W') {
            lua_warning(L, "@on", 0);
        }
    }
    return true;
}

/* Warnings as luaL_newstate's states give them (lua_newstate, which
 * tunalloc's states come from, installs none): off until "@on", on
 * stderr prefixed "Lua warning: ", pieces joined until the last. */
static void warn_off(void *ud, const char *msg, int tocont);
static void warn_on(void *ud, const char *msg, int tocont);

static void warn_cont(void *ud, const char *msg, int tocont)
{
    fputs(msg, stderr);
    if (tocont) {
        lua_setwarnf(ud, warn_cont, ud);
    } else {
        fputs("\n", stderr);
        fflush(stderr);
        lua_setwarnf(ud, warn_on, ud);
    }
}

/* "@on" / "@off" switch; other control messages are ignored. */
static bool warn_control(void *ud, const char *msg, int tocont)
{
    if (tocont || msg[0] != '@')
        return false;
    if (strcmp(msg, "@off") == 0)
        lua_setwarnf(ud, warn_off, ud);
    else if (strcmp(msg, "@on") == 0)
        lua_setwarnf(ud, warn_on, ud);
    return true;
}

static void warn_off(void *ud, const char *msg, int tocont)
{
    warn_control(ud, msg, tocont);
}

static void warn_on(void *ud, const char *msg, int tocont)
{
    if (warn_control(ud, msg, tocont))
        return;
    fputs("Lua warning: ", stderr);
    warn_cont(ud, msg, tocont);
}

typedef struct main_args {
    int argc;
    char **argv;
    const options *o;
    bool ok;
} main_args;

/* -E: package.path and cpath as Lua opens them with LUA_NOENV set. The
 * tunalloc state opened its libraries before the limit applied, so they
 * are set back here rather than opened again. */
static void ignore_env(lua_State *L, bool libs_open)
{
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    if (!libs_open)
        return;
    lua_getglobal(L, "package");
    lua_pushliteral(L, LUA_PATH_DEFAULT);
    lua_setfield(L, -2, "path");
    lua_pushliteral(L, LUA_CPATH_DEFAULT);
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
}

/* lua5.4's order: version, environment, -e/-l/-W, the script, then -i;
 * with nothing to run, a REPL on a terminal or the program on stdin.
 * Everything that touches the state runs protected, so even a tiny -M
 * limit ends in a message instead of a panic. */
static int pmain(lua_State *L)
{
    main_args *m = lua_touserdata(L, 1);
    const options *o = m->o;
    if (o->has_v)
        print_version();
    if (o->has_E)
        ignore_env(L, !o->system_alloc);
    if (o->system_alloc)
        luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_tunalloc);
    lua_setfield(L, -2, "tunalloc");
    lua_pop(L, 1);
    if (o->profile) {
        luaL_requiref(L, "tunalloc", luaopen_tunalloc, 0);
        lua_getfield(L, -1, "profile_start");
        lua_call(L, 0, 0);
        lua_pop(L, 1);
    }
    create_arg_table(L, m->argc, m->argv, o->script);
    if (!o->has_E && handle_luainit(L) != LUA_OK)
        return 0;
    if (!run_args(L, m->argv, o->script))
        return 0;
    if (o->script < m->argc && handle_script(L, m->argv, o->script) != LUA_OK)
        return 0;
    if (o->has_i) {
        tunalua_repl(L);
    } else if (o->script == m->argc && !o->has_e && !o->has_v) {
        if (isatty(STDIN_FILENO)) {
            print_version();
            tunalua_repl(L);
        } else if (dochunk(L, luaL_loadfile(L, NULL)) != LUA_OK) {
            return 0;
        }
    }
    m->ok = true;
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
    lua_State *L = ta_lua_newstate(&opts);
    if (L != NULL)
        lua_setwarnf(L, warn_off, L);
    return L;
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
    o.gc = TA_LUA_GC_GENERATIONAL;
    if (argv[0] != NULL && argv[0][0] != '\0')
        tunalua_progname = argv[0];
    collect_args(argc, argv, &o);
    if (o.bad != 0) {
        print_usage(argv[o.bad]);
        return EXIT_FAILURE;
    }
    if (o.bad_size != NULL) {
        fprintf(stderr, "%s: bad size '%s' for -M (digits, then k, m or g)\n",
                tunalua_progname, o.bad_size);
        return EXIT_FAILURE;
    }
    if (o.system_alloc && (o.limit != 0 || o.stats || o.profile)) {
        message(tunalua_progname, "-M, --stats and --profile need the tunalloc allocator");
        return EXIT_FAILURE;
    }
    lua_State *L = o.system_alloc ? system_state(o.gc) : tunalloc_state(&o);
    if (L == NULL) {
        fprintf(stderr, "%s: cannot create state: %s\n", tunalua_progname,
                strerror(errno));
        return EXIT_FAILURE;
    }
    main_args m = {argc, argv, &o, false};
    lua_pushcfunction(L, pmain);
    lua_pushlightuserdata(L, &m);
    int status = report(L, lua_pcall(L, 1, 0, 0));
    if (o.stats)
        print_stats(L);
    int err = o.profile ? ta_prof_dump(o.profile, "pprof") : 0;
    if (err)
        fprintf(stderr, "%s: %s: %s\n", tunalua_progname, o.profile, strerror(err));
    if (o.system_alloc)
        lua_close(L);
    else
        ta_lua_close(L);
    return m.ok && status == LUA_OK && !err ? EXIT_SUCCESS : EXIT_FAILURE;
}
