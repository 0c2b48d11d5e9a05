/* Heap profiling from Lua: profile_start, profile_stop, profile_snapshot
 * and profile_dump, and the Lua frames of sampled blocks.
 *
 * The core asks for frames inside lua_Alloc, at a sample, and names the
 * explicit cache the block comes from; each profiled state registers its
 * cache, so the hook knows which state allocates. It then walks that
 * state with lua_getstack and lua_getinfo("Sln"), which in Lua 5.4
 * allocate nothing and push nothing, so no collection can start and the
 * stack is left as it was. The strings kept are the function's source
 * name (inside its prototype, alive while the function is on the stack)
 * and names from constants or static text, so they outlive the hook.
 * What makes the walk safe is that every CallInfo is consistent whenever
 * Lua allocates: up to 5.4.4 a stack grows by allocating the new stack
 * before the old one's pointers change. From 5.4.5 on, stack pointers are
 * turned into offsets around the stack's own reallocation, so there the
 * hook gives no Lua frames (C frames only). Which release that is, is
 * read from the running library's lua_ident, not from the headers this
 * file was built with: a module is loaded by whatever 5.4 host asks for
 * it. A coroutine's allocations are
 * attributed to where the main thread resumed it: the allocator is told
 * the state, not the running thread. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "lmod.h"

#define MAX_PROFILED 256
#define LUA_FRAMES 16

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    ta_tcache_t *tc;
    lua_State *L;
} reg[MAX_PROFILED];
static unsigned nreg;

/* Every state's close looks here (talua_prof_forget), so the lock is held
 * across fork, as lstate.c's list lock is: a child forked while another
 * thread closes a state must find it free. Until the first registration
 * (which sets the handlers up first) there is nothing to look at, and no
 * lock is taken. */
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static atomic_bool reg_used;
static void reg_take(void) { pthread_mutex_lock(&reg_lock); }
static void reg_give(void) { pthread_mutex_unlock(&reg_lock); }
static void reg_fork_handlers(void)
{
    pthread_atfork(reg_take, reg_give, reg_give);
    atomic_store_explicit(&reg_used, true, memory_order_release);
}

static lua_State *registered(ta_tcache_t *tc)
{
    lua_State *L = NULL;
    pthread_mutex_lock(&reg_lock);
    for (unsigned i = 0; i < nreg && !L; i++)
        if (reg[i].tc == tc)
            L = reg[i].L;
    pthread_mutex_unlock(&reg_lock);
    return L;
}

/* The registration ends with the cache, not with a finalizer: a state
 * may be started again by its own finalizers while it closes, after any
 * finalizer of ours ran, and a registration left behind would have a
 * later cache at the same address walk the closed state. */
void talua_prof_forget(ta_tcache_t *tc)
{
    if (!atomic_load_explicit(&reg_used, memory_order_acquire))
        return;
    pthread_mutex_lock(&reg_lock);
    for (unsigned i = 0; i < nreg; i++)
        if (reg[i].tc == tc) {
            reg[i] = reg[--nreg];
            break;
        }
    pthread_mutex_unlock(&reg_lock);
}

static bool add_registered(ta_tcache_t *tc, lua_State *L)
{
    bool ok = true;
    pthread_once(&reg_once, reg_fork_handlers);
    pthread_mutex_lock(&reg_lock);
    unsigned i = 0;
    while (i < nreg && reg[i].tc != tc)
        i++;
    if (i == nreg) {
        ok = nreg < MAX_PROFILED;
        if (ok)
            reg[nreg++].tc = tc;
    }
    if (ok)
        reg[i].L = L;
    pthread_mutex_unlock(&reg_lock);
    return ok;
}

/* Whether the running Lua library keeps its call records valid while it
 * allocates (releases 5.4.0 to 5.4.4): its lua_ident reads "$LuaVersion:
 * Lua 5.4.R  Copyright ...". Anything else, or text not read, is not. */
static bool walk_is_safe(void)
{
    const char *v = strstr(lua_ident, "Lua 5.4.");
    if (v == NULL)
        return false;
    v += strlen("Lua 5.4.");
    unsigned release = 0;
    int digits = 0;
    for (; *v >= '0' && *v <= '9' && digits < 4; v++, digits++)
        release = release * 10 + (unsigned)(*v - '0');
    return digits > 0 && release <= 4;
}

/* Set by profile_start, read by the hook. */
static atomic_bool walk_safe;

static const char *source_name(const char *source)
{
    if (source[0] == '@' || source[0] == '=')
        return source + 1;
    return "(load)";
}

static int lua_frames(void *ctx, ta_tcache_t *cache, ta_prof_frame *out, int max)
{
    (void)ctx;
    lua_State *L = cache ? registered(cache) : NULL;
    if (!L || !atomic_load_explicit(&walk_safe, memory_order_relaxed))
        return 0;
    int n = 0;
    lua_Debug ar;
    for (int level = 0; n < max && n < LUA_FRAMES && lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sln", &ar))
            break;
        if (ar.name)
            out[n].function = ar.name;
        else if (!strcmp(ar.what, "main"))
            out[n].function = "main chunk";
        else
            out[n].function = strcmp(ar.what, "C") ? "(anonymous)" : "(C function)";
        out[n].file = source_name(ar.source);
        out[n].line = ar.currentline < 0 ? 0 : ar.currentline;
        n++;
    }
    return n;
}

static talua_state *check_state(lua_State *L, const char *fn)
{
    talua_state *s = talua_of(L);
    if (s == NULL)
        luaL_error(L, "tunalloc.%s: this state does not allocate through "
                   "tunalloc (call tunalloc.install() first)", fn);
    return s;
}

static void set_size_ctl(lua_State *L, const char *name, size_t v)
{
    int err = ta_ctl(name, NULL, NULL, &v, sizeof(v));
    if (err)
        talua_ctl_error(L, "profile_start", name, err);
}

static void set_bool_ctl(lua_State *L, const char *fn, const char *name, bool v)
{
    int err = ta_ctl(name, NULL, NULL, &v, sizeof(v));
    if (err)
        talua_ctl_error(L, fn, name, err);
}

/* profile_start{sample_bytes = n}: samples about one block per n bytes
 * (default 512 KiB), with this state's Lua frames. */
static int l_profile_start(lua_State *L)
{
    lua_Integer rate = 512 * 1024;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        if (lua_getfield(L, 1, "sample_bytes") != LUA_TNIL) {
            int isnum;
            rate = lua_tointegerx(L, -1, &isnum);
            luaL_argcheck(L, isnum && rate > 0 && rate <= (lua_Integer)1 << 40, 1,
                          "sample_bytes must be an integer from 1 to 2^40");
        }
        lua_pop(L, 1);
    }
    talua_state *s = check_state(L, "profile_start");
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    lua_State *main = lua_tothread(L, -1);
    lua_pop(L, 1);
    if (!add_registered(s->sized.cache, main))
        return luaL_error(L, "tunalloc.profile_start: more than %d states profiled",
                          MAX_PROFILED);
    atomic_store_explicit(&walk_safe, walk_is_safe(), memory_order_relaxed);
    ta_prof_set_frames_hook(lua_frames, NULL);
    set_size_ctl(L, "prof.sample_bytes", (size_t)rate);
    set_bool_ctl(L, "profile_start", "prof.active", true);
    talua_set_counting(L, s, true);
    return 0;
}

/* profile_stop(): sampling ends (for every state: the profile is the
 * process's); sampled blocks stay in it until freed. This state goes
 * back to the plain lua_Alloc; another profiled state keeps counting
 * (correct, a test more per allocation) until it calls profile_stop
 * itself, as only a state's own thread may switch its allocator. */
static int l_profile_stop(lua_State *L)
{
    set_bool_ctl(L, "profile_stop", "prof.active", false);
    talua_state *s = talua_of(L);
    if (s != NULL)
        talua_set_counting(L, s, false);
    return 0;
}

/* Stacks are gathered in C first (the reader holds a copy of the profile
 * that a Lua error unwinding through it would leak), then turned into
 * Lua values under lua_pcall, and the C side is freed either way. */
typedef struct entry {
    char key[600];
    double v[4]; /* bytes, blocks, alloc_bytes, alloc_blocks */
} entry;

typedef struct gather {
    entry *e;
    size_t n, cap;
    bool failed;
} gather;

/* A stack's key: its Lua frames outermost first, "file:line (function)"
 * joined by " > " (cut at the key's size); "[no Lua frame]" without. */
static void make_key(char *key, size_t size, const ta_prof_stack *st)
{
    size_t len = 0;
    key[0] = '\0';
    if (!st->n_frames)
        snprintf(key, size, "[no Lua frame]");
    for (unsigned k = st->n_frames; k-- > 0 && len + 1 < size;) {
        const ta_prof_frame *f = &st->frames[k];
        int w = snprintf(key + len, size - len, "%s:%d (%s)%s", f->file, f->line, f->function,
                         k ? " > " : "");
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

static int add_stack(void *arg, const ta_prof_stack *st)
{
    gather *g = arg;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        entry *e = ta_realloc(g->e, cap * sizeof(*e));
        if (!e) {
            g->failed = true;
            return ENOMEM;
        }
        g->e = e;
        g->cap = cap;
    }
    entry *e = &g->e[g->n++];
    make_key(e->key, sizeof(e->key), st);
    e->v[0] = st->live_bytes_est;
    e->v[1] = st->live_blocks_est;
    e->v[2] = st->alloc_bytes_est;
    e->v[3] = st->alloc_blocks_est;
    return 0;
}

static int build_snapshot(lua_State *L)
{
    static const char *const fields[4] = {"bytes", "blocks", "alloc_bytes", "alloc_blocks"};
    const gather *g = lua_touserdata(L, 1);
    lua_newtable(L);
    for (size_t i = 0; i < g->n; i++) {
        if (lua_getfield(L, -1, g->e[i].key) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_createtable(L, 0, 4);
            for (int k = 0; k < 4; k++) {
                lua_pushinteger(L, 0);
                lua_setfield(L, -2, fields[k]);
            }
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, g->e[i].key);
        }
        for (int k = 0; k < 4; k++) {
            lua_getfield(L, -1, fields[k]);
            lua_Integer old = lua_tointeger(L, -1);
            lua_pop(L, 1);
            lua_pushinteger(L, old + (lua_Integer)(g->e[i].v[k] + 0.5));
            lua_setfield(L, -2, fields[k]);
        }
        lua_pop(L, 1);
    }
    return 1;
}

/* profile_snapshot(): a table from stack key to {bytes, blocks,
 * alloc_bytes, alloc_blocks} (estimates of all blocks); two snapshots
 * diff key by key. Its own allocations, the table's included, are a
 * read's: not sampled. */
static int l_profile_snapshot(lua_State *L)
{
    gather g = {0};
    talua_state *s = talua_of(L);
    ta_prof_read_begin(s ? s->sized.cache : NULL);
    int err = ta_prof_read(add_stack, &g);
    if (err) {
        ta_prof_read_end();
        ta_free(g.e);
        return luaL_error(L, "tunalloc.profile_snapshot: %s", strerror(err));
    }
    lua_pushcfunction(L, build_snapshot);
    lua_pushlightuserdata(L, &g);
    int status = lua_pcall(L, 1, 1, 0);
    ta_prof_read_end();
    ta_free(g.e);
    if (status != LUA_OK)
        return lua_error(L);
    return 1;
}

/* profile_dump(path [, "pprof" | "folded"]): true, or nil and a message. */
static int l_profile_dump(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *fmt = luaL_optstring(L, 2, "pprof");
    luaL_argcheck(L, !strcmp(fmt, "pprof") || !strcmp(fmt, "folded"), 2,
                  "format must be \"pprof\" or \"folded\"");
    int err = ta_prof_dump(path, fmt);
    if (err) {
        luaL_pushfail(L);
        lua_pushfstring(L, "%s: %s", path, strerror(err));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

void talua_open_prof(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"profile_start", l_profile_start},
        {"profile_stop", l_profile_stop},
        {"profile_snapshot", l_profile_snapshot},
        {"profile_dump", l_profile_dump},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
}
