/* PyMem_SetAllocator wrappers for the RAW, MEM and OBJ domains. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "hook.h"

/* CPython 3.11 and older call MEM and OBJ with the (one, shared) GIL held
 * and PYTHONMALLOC=debug enforces it, so one explicit cache guarded by the
 * GIL is race-free there. From 3.12 (per-interpreter GIL) or without a
 * GIL that proof is gone, and each thread's own cache serves them, as it
 * serves RAW on every version. */
#if PY_VERSION_HEX < 0x030C0000 && !defined(Py_GIL_DISABLED)
#define HOOK_GIL_CACHE 1
#else
#define HOOK_GIL_CACHE 0
#endif

/* hook comes first: the core's callbacks hand its address to the
 * fallbacks, which are this file's and need the rest. */
typedef struct domain {
    ta_hook_t hook;
    PyMemAllocatorDomain id;
    PyMemAllocatorEx prev;
    atomic_bool installed;
    atomic_bool active;
} domain_t;

static domain_t domains[3] = {
    {.id = PYMEM_DOMAIN_RAW},
    {.id = PYMEM_DOMAIN_MEM},
    {.id = PYMEM_DOMAIN_OBJ},
};

static ta_tcache_t *gil_cache;
static atomic_int routing_threads;

void hook_thread_routing(int delta)
{
    atomic_fetch_add_explicit(&routing_threads, delta, memory_order_relaxed);
    hook_refresh_fast_paths();
}

/* Whether domain i goes through the GIL-guarded cache (ta_hook_*) rather
 * than each thread's own (ta_hook_thread_*). */
static bool uses_gil_cache(int i)
{
    return HOOK_GIL_CACHE && i != HOOK_RAW;
}

/* The caches the core's hook callbacks use. Through the shared cache:
 * while a domain may allocate from it (active, no thread routing to an
 * arena of the thread's choice) and while frees may go through it (no
 * routing, no tunalloc-backed pymalloc arenas to tell apart). Through the
 * thread's cache (which follows the thread's arena choice itself): while
 * the domain is active, and while no pymalloc arena is to be told apart.
 * Else NULL and the fallbacks below decide. Recomputed whenever what they
 * summarise changes; all of those happen with the main interpreter's GIL
 * held, so the updates do not race one another. */
void hook_refresh_fast_paths(void)
{
    bool shared = gil_cache != NULL &&
                  atomic_load_explicit(&routing_threads, memory_order_relaxed) == 0;
    bool unbacked = hook_arena_backing() == NULL;
    for (int i = HOOK_RAW; i <= HOOK_OBJ; i++) {
        domain_t *d = &domains[i];
        bool active = atomic_load(&d->active);
        ta_tcache_t *alloc_cache, *free_cache;
        if (uses_gil_cache(i)) {
            alloc_cache = shared && active ? gil_cache : NULL;
            free_cache = shared && unbacked ? gil_cache : NULL;
        } else {
            alloc_cache = active ? TA_HOOK_THREAD : NULL;
            free_cache = unbacked ? TA_HOOK_THREAD : NULL;
        }
        __atomic_store_n(&d->hook.alloc_cache, alloc_cache, __ATOMIC_RELAXED);
        __atomic_store_n(&d->hook.free_cache, free_cache, __ATOMIC_RELAXED);
    }
}

/* The GIL-guarded cache, or NULL when a thread chose its own arena (the
 * shared cache would put that thread's objects in the wrong arena). */
static inline ta_tcache_t *shared_cache(void)
{
    if (atomic_load_explicit(&routing_threads, memory_order_relaxed) != 0)
        return NULL;
    return gil_cache;
}

/* Resizes p (not NULL) on the thread-safe path. A foreign block stays
 * with its allocator: its old size is unknown, so it cannot be moved over
 * by copying. */
static void *raw_realloc(void *ctx, void *p, size_t size)
{
    domain_t *d = ctx;
    if (hook_owns_block(p))
        return ta_realloc(p, nonzero(size));
    return d->prev.realloc(d->prev.ctx, p, size);
}

/* The thread-cache callbacks (ta_hook_thread_*) serve hits; they switch
 * the allocation calls off (NULL alloc_cache) only while the domain is
 * disabled, so their fallbacks hand those to the saved allocator. */
static void *prev_malloc(void *ctx, size_t size)
{
    domain_t *d = ctx;
    return d->prev.malloc(d->prev.ctx, size);
}

static void *prev_calloc(void *ctx, size_t n, size_t size)
{
    domain_t *d = ctx;
    return d->prev.calloc(d->prev.ctx, n, size);
}

/* A NULL p (a list's first growth, say) is a malloc, served as one. */
static void *thread_realloc(void *ctx, void *p, size_t size)
{
    return p == NULL ? ta_hook_thread_malloc(ctx, size) : raw_realloc(ctx, p, size);
}

/* The same while the profile samples (hook_count_entries): the malloc
 * counts. */
static void *thread_count_realloc(void *ctx, void *p, size_t size)
{
    return p == NULL ? ta_hook_thread_count_malloc(ctx, size) : raw_realloc(ctx, p, size);
}

/* Ownership, not the enabled flag, decides: blocks made before disable()
 * must still go back to tunalloc. The test is made again even where the
 * core has just found p foreign: without a GIL, free_cache may have been
 * switched on in between. */
static void thread_free_fallback(void *ctx, void *p)
{
    domain_t *d = ctx;
    if (p == NULL || !hook_free_block(NULL, p))
        d->prev.free(d->prev.ctx, p);
}

#if HOOK_GIL_CACHE
/* MEM/OBJ with the GIL held: malloc, calloc and free are the core's hook
 * callbacks (ta_hook_*), which serve hits from the shared cache and fall
 * back to raw_malloc, raw_calloc and the free below for the rest: NULL,
 * foreign blocks, and every block while the shared free path is off
 * (thread routing, tunalloc-backed pymalloc arenas). */

/* The domain's switch, written by enable() and disable(). */
static inline bool is_active(const domain_t *d)
{
    return atomic_load_explicit(&d->active, memory_order_relaxed);
}

/* The thread-safe entry points, for the calls the shared cache does not
 * take while it is switched off. */
static void *raw_malloc(void *ctx, size_t size)
{
    domain_t *d = ctx;
    if (!is_active(d))
        return d->prev.malloc(d->prev.ctx, size);
    return ta_malloc(nonzero(size));
}

/* Zero-size counts map to one byte so the block is distinct. */
static void *raw_calloc(void *ctx, size_t n, size_t size)
{
    domain_t *d = ctx;
    if (!is_active(d))
        return d->prev.calloc(d->prev.ctx, n, size);
    if (calloc_overflows(n, size))
        return NULL;
    if (n == 0 || size == 0)
        return ta_calloc(1, 1);
    return ta_calloc(n, size);
}

static void gil_free_fallback(void *ctx, void *p)
{
    domain_t *d = ctx;
    if (p == NULL)
        return;
    /* With the free cache on, ta_hook_free has already found p foreign;
     * the GIL keeps the cache pointer from changing in between. */
    bool foreign = __atomic_load_n(&d->hook.free_cache, __ATOMIC_RELAXED) != NULL;
    if (foreign || !hook_free_block(shared_cache(), p))
        d->prev.free(d->prev.ctx, p);
}

/* Same contract as raw_realloc, through the shared cache. A NULL p (a
 * list's first growth, say) is a malloc, served as one. */
static void *gil_realloc(void *ctx, void *p, size_t size)
{
    if (p == NULL)
        return ta_hook_malloc(ctx, size);
    ta_tcache_t *tc = shared_cache();
    if (tc == NULL || !hook_owns_block(p))
        return raw_realloc(ctx, p, size);
    return ta_tcache_realloc(tc, p, nonzero(size));
}

/* The same while the profile samples (hook_count_entries): the malloc
 * counts. */
static void *gil_count_realloc(void *ctx, void *p, size_t size)
{
    return p == NULL ? ta_hook_count_malloc(ctx, size) : gil_realloc(ctx, p, size);
}
#endif

/* Whether MEM and OBJ allocate through the core's counting callbacks
 * (ta_hook_count_*), set while the heap profile samples (hook_prof.c). */
static bool counting;

/* The wrapper set for domain i, bound to its saved state: the core's
 * hook callbacks, so a hit runs no code of this file. */
static PyMemAllocatorEx wrapper_for(int i)
{
    domain_t *d = &domains[i];
    bool count = counting && i != HOOK_RAW;
#if HOOK_GIL_CACHE
    if (uses_gil_cache(i)) {
        d->hook.malloc_fallback = raw_malloc;
        d->hook.calloc_fallback = raw_calloc;
        d->hook.free_fallback = gil_free_fallback;
        return (PyMemAllocatorEx){d, count ? ta_hook_count_malloc : ta_hook_malloc,
                                  count ? ta_hook_count_calloc : ta_hook_calloc,
                                  count ? gil_count_realloc : gil_realloc, ta_hook_free};
    }
#endif
    d->hook.malloc_fallback = prev_malloc;
    d->hook.calloc_fallback = prev_calloc;
    d->hook.free_fallback = thread_free_fallback;
    return (PyMemAllocatorEx){d, count ? ta_hook_thread_count_malloc : ta_hook_thread_malloc,
                              ta_hook_thread_calloc, count ? thread_count_realloc : thread_realloc,
                              ta_hook_thread_free};
}

/* Switches MEM and OBJ to the counting callbacks or back, with the GIL
 * held (they are called only with it). RAW, which threads call without
 * it, keeps its callbacks: its calls on a cache the counting ones took
 * over miss into the core's slow paths, counted there. A domain under
 * the debug hooks or another wrapper is left as it is. */
void hook_count_entries(bool on)
{
    counting = on;
    for (int i = HOOK_MEM; i <= HOOK_OBJ; i++) {
        domain_t *d = &domains[i];
        PyMemAllocatorEx cur;
        PyMem_GetAllocator(d->id, &cur);
        if (!atomic_load(&d->installed) || cur.ctx != d)
            continue;
        PyMemAllocatorEx mine = wrapper_for(i);
        PyMem_SetAllocator(d->id, &mine);
    }
}

/* The cache is made once, on the first MEM/OBJ enable, with the GIL held.
 * It serves every thread, so it is bound to automatic arena 0, not to the
 * calling thread's: inside use_arena() that would be the chosen arena,
 * which would then take the whole interpreter's objects for good. */
static int ensure_gil_cache(domain_t *d)
{
#if HOOK_GIL_CACHE
    if (d->id != PYMEM_DOMAIN_RAW && gil_cache == NULL) {
        gil_cache = ta_tcache_create(ta_arena_get(0));
        if (gil_cache == NULL)
            return errno ? errno : ENOMEM;
    }
#else
    (void)d;
#endif
    return 0;
}

/* CPython's debug hooks (PYTHONMALLOC=debug, -X dev, debug builds) must
 * stay on top, where they pad and check every block, tunalloc's included,
 * and catch MEM/OBJ calls made without the GIL (which the GIL-guarded
 * cache relies on). Whether they are on is only known before any wrapper
 * is installed: CPython names its allocator set only while it is one it
 * knows. The name is exported up to 3.13 (declared internal there); on
 * later versions the hooks are not looked for and tunalloc wraps them as
 * any other allocator. */
#if PY_VERSION_HEX >= 0x030D0000 && PY_VERSION_HEX < 0x030E0000
PyAPI_FUNC(const char *) _PyMem_GetCurrentAllocatorName(void);
#endif

/* The context of a debug hook, as CPython 3.6 to 3.13 lay it out: the
 * domain's letter, then the allocator below the hook. */
typedef struct debug_api {
    char api_id;
    PyMemAllocatorEx alloc;
} debug_api_t;

static int debug_hooks = -1; /* unknown until the first install */
/* Each domain's debug hook malloc, seen while CPython named the set. */
static void *(*debug_malloc[3])(void *, size_t);

static bool debug_hooks_on(void)
{
    if (debug_hooks < 0) {
#if PY_VERSION_HEX < 0x030E0000
        const char *name = _PyMem_GetCurrentAllocatorName();
        debug_hooks = name != NULL && strstr(name, "debug") != NULL;
#else
        debug_hooks = 0;
#endif
        for (int i = 0; debug_hooks && i < 3; i++) {
            PyMemAllocatorEx top;
            PyMem_GetAllocator(domains[i].id, &top);
            debug_malloc[i] = top.malloc;
        }
    }
    return debug_hooks;
}

/* The allocator under domain d's debug hook, or NULL if what is on top is
 * not that hook (another hook was put over it since). */
static const PyMemAllocatorEx *below_debug_hook(int i, const PyMemAllocatorEx *top)
{
    static const char letters[] = {'r', 'm', 'o'};
    if (top->malloc != debug_malloc[i] || top->ctx == NULL)
        return NULL;
    const debug_api_t *api = top->ctx;
    if (api->api_id != letters[i] || api->alloc.malloc == NULL)
        return NULL;
    return &api->alloc;
}

/* Puts the wrappers of d in place: under CPython's debug hook when there
 * is one (PyMem_SetupDebugHooks puts the hook back on top of them), else
 * over whatever allocator is there. Between the two calls a RAW block
 * another thread allocates would lack the hook's pads, so enable tunalloc
 * at start-up (TUNALLOC_PYTHON) when running with the debug hooks. */
static void install(int i)
{
    domain_t *d = &domains[i];
    bool debug = debug_hooks_on();
    PyMemAllocatorEx top;
    PyMem_GetAllocator(d->id, &top);
    const PyMemAllocatorEx *below = debug ? below_debug_hook(i, &top) : NULL;
    d->prev = below ? *below : top;
    PyMemAllocatorEx mine = wrapper_for(i);
    PyMem_SetAllocator(d->id, &mine);
    if (below)
        PyMem_SetupDebugHooks();
}

/* Called with the GIL held, which serialises enable/disable calls. */
int hook_domain_enable(int i)
{
    domain_t *d = &domains[i];
    int err = ensure_gil_cache(d);
    if (err != 0)
        return err;
    if (!atomic_load(&d->installed)) {
        install(i);
        atomic_store(&d->installed, true);
    }
    atomic_store(&d->active, true);
    hook_refresh_fast_paths();
    return 0;
}

/* The wrappers stay installed: live tunalloc blocks still need them. */
void hook_domain_disable(int i)
{
    atomic_store(&domains[i].active, false);
    hook_refresh_fast_paths();
}

bool hook_domain_active(int i) { return atomic_load(&domains[i].active); }

bool hook_domain_installed(int i) { return atomic_load(&domains[i].installed); }

bool hook_gil_cache_used(void) { return HOOK_GIL_CACHE && gil_cache != NULL; }

/* Called with the GIL held, so the shared cache is not in use meanwhile. */
void hook_flush_gil_cache(void)
{
    if (gil_cache != NULL)
        ta_tcache_flush(gil_cache);
}
