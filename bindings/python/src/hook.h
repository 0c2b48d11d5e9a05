/* The CPython allocator hook: tunalloc installed as a wrapper over the
 * allocators in place for the RAW, MEM and OBJ domains and for pymalloc's
 * arenas. Shared between the domain wrappers, the arena hook and the
 * module glue. */
#ifndef TUNALLOC_PY_HOOK_H
#define TUNALLOC_PY_HOOK_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tunalloc.h"

/* Index of each hookable domain; HOOK_ARENA is pymalloc's arena hook. */
enum { HOOK_RAW, HOOK_MEM, HOOK_OBJ, HOOK_ARENA, HOOK_NDOMAINS };

/* Installs the wrappers of domain d once (saving the allocator in place)
 * and routes its new blocks to tunalloc. 0 or an errno value. */
int hook_domain_enable(int d);
/* Routes new blocks of domain d back to the saved allocator; frees of
 * tunalloc's blocks keep reaching tunalloc. */
void hook_domain_disable(int d);
bool hook_domain_active(int d);
bool hook_domain_installed(int d);
/* True once MEM/OBJ allocate through the GIL-guarded explicit cache. */
bool hook_gil_cache_used(void);
/* Returns the shared cache's blocks to their arenas (before a purge). */
void hook_flush_gil_cache(void);

int hook_arena_enable(void);
void hook_arena_disable(void);
bool hook_arena_active(void);
bool hook_arena_installed(void);
/* The tunalloc arena that backs pymalloc's arenas, or NULL before the
 * arena domain was first enabled; read on every free, hence inline. */
extern _Atomic(ta_arena_t *) hook_backing;

static inline ta_arena_t *hook_arena_backing(void)
{
    return atomic_load_explicit(&hook_backing, memory_order_relaxed);
}

/* Nonzero while some thread has routed its allocations to an arena of
 * its choice: the shared MEM/OBJ cache would bypass that choice. */
void hook_thread_routing(int delta);
/* Re-derives the cache pointers of each domain's ta_hook_t after enable,
 * disable, thread routing or the arena hook changed. */
void hook_refresh_fast_paths(void);
/* PyMem_SetAllocator swaps a process-wide table that interpreters with
 * their own GIL read meanwhile, and the domain flags are serialised by
 * the main interpreter's GIL: only the main interpreter may switch.
 * True there; elsewhere false with RuntimeError set (hook_module.c). */
bool hook_may_switch(void);
/* MEM and OBJ through the core's counting callbacks (on) or the plain
 * ones, as the heap profile samples or not (hook_domains.c). */
void hook_count_entries(bool on);

/* tunalloc._hook.release_arena and arena_malloc (hook_lifecycle.c). */
PyObject *hook_release_arena(PyObject *self, PyObject *args);
PyObject *hook_arena_malloc(PyObject *self, PyObject *args);

/* True if p is a block tunalloc handed to one of the domain hooks, as
 * opposed to foreign memory or a pymalloc block inside a tunalloc-backed
 * pymalloc arena. */
static inline bool hook_owns_block(void *p)
{
    if (!ta_owns(p))
        return false;
    ta_arena_t *backing = hook_arena_backing();
    return backing == NULL || ta_arena_of(p) != backing;
}

/* Frees p to tunalloc (through tc if given) if it is one of the hooks'
 * blocks and returns true; false leaves p for the previous allocator.
 * Without a tunalloc-backed pymalloc arena, ownership is the whole test
 * and one fused lookup does it. */
static inline bool hook_free_block(ta_tcache_t *tc, void *p)
{
    if (hook_arena_backing() == NULL)
        return tc ? ta_tcache_free_if_owned(tc, p) : ta_free_if_owned(p);
    if (!hook_owns_block(p))
        return false;
    if (tc)
        ta_tcache_free(tc, p);
    else
        ta_free(p);
    return true;
}

/* Zero-size requests must still give distinct, freeable pointers. */
static inline size_t nonzero(size_t size) { return size ? size : 1; }

/* calloc's product must not wrap: a wrapped size would under-allocate. */
static inline bool calloc_overflows(size_t n, size_t size)
{
    return size != 0 && n > SIZE_MAX / size;
}

/* numpy's data-memory handler (hook_numpy.c): a new "mem_handler" capsule
 * for tunalloc, and numpy's PyDataMem_SetHandler called through the C-API
 * table in api (numpy's _ARRAY_API capsule). */
PyObject *hook_numpy_handler(PyObject *self, PyObject *unused);
PyObject *hook_numpy_set_handler(PyObject *self, PyObject *args);
/* The control namespace (hook_ctl.c), for every interpreter: ctl(name,
 * type, value), ctl_child(node, i), arena_create(dirty, muzzy, limit) and
 * stats_tree(node, omit). */
PyObject *hook_ctl(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *hook_ctl_child(PyObject *self, PyObject *args);
PyObject *hook_arena_create(PyObject *self, PyObject *args);
PyObject *hook_stats_tree(PyObject *self, PyObject *args);
/* Heap profiling (hook_prof.c): the Python frames hook and the reader. */
PyObject *hook_prof_hook(PyObject *self, PyObject *on);
PyObject *hook_prof_read(PyObject *self, PyObject *unused);
PyObject *hook_prof_count(PyObject *self, PyObject *on);
PyObject *hook_prof_reading(PyObject *self, PyObject *on);

#endif
