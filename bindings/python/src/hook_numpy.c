/* numpy's data-memory handler on tunalloc (NEP 49, numpy >= 1.22): array
 * buffers go through the handler set in the current context, not through
 * PyMem_*, so the allocator hooks never see them.
 *
 * Built without numpy's headers, so the extension builds without numpy
 * and works with whichever numpy is installed: the handler's layout
 * (version 1) and the slot of PyDataMem_SetHandler in numpy's C-API table
 * are part of numpy's ABI since 1.22. */
#include "hook.h"

typedef struct np_allocator {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr, size_t size);
} np_allocator_t;

typedef struct np_handler {
    char name[127];
    uint8_t version;
    np_allocator_t allocator;
} np_handler_t;

/* PyArray_API[304] in numpy/__multiarray_api.h. */
enum { NP_SET_HANDLER_SLOT = 304 };

/* The thread's tunalloc entry points, so use_arena() (thread.arena) and
 * its limit apply: past the limit NULL, which numpy turns into
 * MemoryError. numpy frees with the size it allocated, zero-size arrays
 * included, so sizes map to blocks the same way both ways. */
static void *np_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return ta_malloc(nonzero(size));
}

static void *np_calloc(void *ctx, size_t n, size_t size)
{
    (void)ctx;
    if (calloc_overflows(n, size))
        return NULL;
    if (n == 0 || size == 0)
        return ta_calloc(1, 1);
    return ta_calloc(n, size);
}

/* numpy reallocates only buffers its handler made, so p is tunalloc's. */
static void *np_realloc(void *ctx, void *p, size_t size)
{
    (void)ctx;
    return ta_realloc(p, nonzero(size));
}

static void np_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    if (p != NULL)
        ta_free_sized(p, nonzero(size));
}

static np_handler_t tunalloc_handler = {
    .name = "tunalloc",
    .version = 1,
    .allocator = {NULL, np_malloc, np_calloc, np_realloc, np_free},
};

/* numpy checks the capsule's name; the struct is static, so the capsule
 * owns nothing. */
PyObject *hook_numpy_handler(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyCapsule_New(&tunalloc_handler, "mem_handler", NULL);
}

/* (api, handler or None) -> the handler that was in place. */
PyObject *hook_numpy_set_handler(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *api, *handler;
    if (!PyArg_ParseTuple(args, "OO", &api, &handler))
        return NULL;
    void **table = PyCapsule_GetPointer(api, NULL);
    if (table == NULL)
        return NULL;
    PyObject *(*set_handler)(PyObject *) =
        (PyObject * (*)(PyObject *)) table[NP_SET_HANDLER_SLOT];
    return set_handler(handler == Py_None ? NULL : handler);
}
