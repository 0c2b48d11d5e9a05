/* tunalloc._hook: the Python-visible switchboard of the allocator hooks.
 * The public API (tunalloc.enable/disable/status) wraps these. */
#include <errno.h>
#include <string.h>

#include "hook.h"

static const char *const domain_names[HOOK_NDOMAINS] = {"raw", "mem", "obj",
                                                        "arena"};

/* Domain names are the user's input: anything else is a ValueError. */
static int parse_domain(PyObject *arg)
{
    Py_ssize_t len = 0;
    const char *name = PyUnicode_Check(arg) ? PyUnicode_AsUTF8AndSize(arg, &len) : NULL;
    if (name == NULL) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "domain must be a str, not %.100s",
                         Py_TYPE(arg)->tp_name);
        return -1;
    }
    /* the length check keeps "raw\0x" from passing as "raw" */
    for (int i = 0; i < HOOK_NDOMAINS; i++)
        if (strlen(domain_names[i]) == (size_t)len && strcmp(name, domain_names[i]) == 0)
            return i;
    PyErr_Format(PyExc_ValueError,
                 "unknown domain %R (expected 'raw', 'mem', 'obj' or 'arena')",
                 arg);
    return -1;
}

/* One entry point for both hook kinds keeps the Python side simple. */
static PyObject *hook_enable(PyObject *self, PyObject *arg)
{
    (void)self;
    int d = parse_domain(arg);
    if (d < 0)
        return NULL;
    int err = d == HOOK_ARENA ? hook_arena_enable() : hook_domain_enable(d);
    if (err != 0) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

/* Disabling a domain never enabled is a harmless no-op. */
static PyObject *hook_disable(PyObject *self, PyObject *arg)
{
    (void)self;
    int d = parse_domain(arg);
    if (d < 0)
        return NULL;
    if (d == HOOK_ARENA)
        hook_arena_disable();
    else
        hook_domain_disable(d);
    Py_RETURN_NONE;
}

/* (active, installed) of one domain, for tunalloc.status(). */
static PyObject *hook_state(PyObject *self, PyObject *arg)
{
    (void)self;
    int d = parse_domain(arg);
    if (d < 0)
        return NULL;
    bool active = d == HOOK_ARENA ? hook_arena_active() : hook_domain_active(d);
    bool inst = d == HOOK_ARENA ? hook_arena_installed() : hook_domain_installed(d);
    return Py_BuildValue("(OO)", active ? Py_True : Py_False,
                         inst ? Py_True : Py_False);
}

/* use_arena() brackets its body with +1/-1 so MEM/OBJ leave the shared
 * cache while a thread has picked its own arena. */
static PyObject *hook_routing(PyObject *self, PyObject *arg)
{
    (void)self;
    long delta = PyLong_AsLong(arg);
    if (delta == -1 && PyErr_Occurred())
        return NULL;
    if (delta != 1 && delta != -1) {
        PyErr_SetString(PyExc_ValueError, "delta must be 1 or -1");
        return NULL;
    }
    hook_thread_routing((int)delta);
    Py_RETURN_NONE;
}

/* Index of the arena under pymalloc, or None: users tune it by index. */
static PyObject *hook_backing_index(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    ta_arena_t *a = hook_arena_backing();
    if (a == NULL)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(ta_arena_index(a));
}

/* Whether MEM/OBJ run through the GIL-guarded explicit cache. */
static PyObject *hook_gil_cache(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(hook_gil_cache_used());
}

/* purge() first empties the shared cache so its blocks can be purged. */
static PyObject *hook_flush_cache(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    hook_flush_gil_cache();
    Py_RETURN_NONE;
}

static PyMethodDef hook_methods[] = {
    {"enable", hook_enable, METH_O, "Enable tunalloc for one domain."},
    {"disable", hook_disable, METH_O, "Stop new blocks of one domain."},
    {"state", hook_state, METH_O, "(active, installed) of one domain."},
    {"routing", hook_routing, METH_O, "+1/-1 around a thread arena choice."},
    {"backing_index", hook_backing_index, METH_NOARGS,
     "Index of the arena backing pymalloc, or None."},
    {"gil_cache", hook_gil_cache, METH_NOARGS,
     "True if MEM/OBJ use the GIL-guarded cache."},
    {"flush_cache", hook_flush_cache, METH_NOARGS,
     "Flush the GIL-guarded cache."},
    {"release_arena", hook_release_arena, METH_VARARGS,
     "Destroy or reset an arena unless blocks of it are live."},
    {"arena_malloc", hook_arena_malloc, METH_VARARGS,
     "Allocate from an arena by index, with the GIL held."},
    {"prof_hook", hook_prof_hook, METH_O, "Register (True) or remove the Python frames hook."},
    {"prof_read", hook_prof_read, METH_NOARGS, "The heap profile's stacks, as tuples."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef hook_module = {
    PyModuleDef_HEAD_INIT, "tunalloc._hook",
    "Low-level allocator hooks; use tunalloc.enable() instead.", -1,
    hook_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__hook(void) { return PyModule_Create(&hook_module); }
