/* tunalloc._hook: the Python-visible switchboard of the allocator hooks.
 * The public API (tunalloc.enable/disable/status) wraps these.
 *
 * Loads in every interpreter, isolated subinterpreters with their own GIL
 * included: what it switches (CPython's allocator table, the core's heap)
 * is process-wide, so the module keeps no per-interpreter state, and the
 * switching itself is left to the main interpreter. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* When each domain last became active (time.time() seconds, 0 while
 * inactive): kept here, not in Python, so every interpreter sees it. */
static _Atomic double active_since[HOOK_NDOMAINS];

static double now_seconds(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool domain_active(int d)
{
    return d == HOOK_ARENA ? hook_arena_active() : hook_domain_active(d);
}

static bool in_main_interpreter(void)
{
    return PyInterpreterState_Get() == PyInterpreterState_Main();
}

bool hook_may_switch(void)
{
    if (in_main_interpreter())
        return true;
    PyErr_SetString(PyExc_RuntimeError,
                    "tunalloc is switched from the main interpreter only: "
                    "the allocator is process-wide (enable it there, "
                    "before starting subinterpreters)");
    return false;
}

static int parse_switch(PyObject *arg)
{
    return hook_may_switch() ? parse_domain(arg) : -1;
}

/* For the Python side, to refuse before its own checks. */
static PyObject *hook_check_switch(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (!hook_may_switch())
        return NULL;
    Py_RETURN_NONE;
}

/* One entry point for both hook kinds keeps the Python side simple. */
static PyObject *hook_enable(PyObject *self, PyObject *arg)
{
    (void)self;
    int d = parse_switch(arg);
    if (d < 0)
        return NULL;
#ifdef Py_GIL_DISABLED
    /* The free-threaded build's collector finds objects by walking
     * mimalloc's heaps, and its lock-free readers rely on mimalloc holding
     * freed memory back until every thread has moved on: blocks of any
     * other allocator break both. */
    if (d == HOOK_MEM || d == HOOK_OBJ) {
        PyErr_Format(PyExc_RuntimeError,
                     "tunalloc cannot serve the %s domain of a free-threaded "
                     "CPython (its garbage collector walks mimalloc's heaps); "
                     "only 'raw' can be enabled there", domain_names[d]);
        return NULL;
    }
#endif
    bool was_active = domain_active(d);
    int err = d == HOOK_ARENA ? hook_arena_enable() : hook_domain_enable(d);
    if (err != 0) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (!was_active)
        atomic_store(&active_since[d], now_seconds());
    Py_RETURN_NONE;
}

/* Disabling a domain never enabled is a harmless no-op. */
static PyObject *hook_disable(PyObject *self, PyObject *arg)
{
    (void)self;
    int d = parse_switch(arg);
    if (d < 0)
        return NULL;
    if (d == HOOK_ARENA)
        hook_arena_disable();
    else
        hook_domain_disable(d);
    atomic_store(&active_since[d], 0.0);
    Py_RETURN_NONE;
}

/* (active, installed, since) of one domain, for tunalloc.status(). */
static PyObject *hook_state(PyObject *self, PyObject *arg)
{
    (void)self;
    int d = parse_domain(arg);
    if (d < 0)
        return NULL;
    bool active = domain_active(d);
    bool inst = d == HOOK_ARENA ? hook_arena_installed() : hook_domain_installed(d);
    return Py_BuildValue("(OOd)", active ? Py_True : Py_False,
                         inst ? Py_True : Py_False, atomic_load(&active_since[d]));
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

static PyObject *hook_is_main_interpreter(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(in_main_interpreter());
}

/* ta_stats_print's report, gathered in C (one Python call per report, not
 * one per printed token) in libc's heap, so building it does not change
 * the heap it describes. Here rather than in the CFFI module because the
 * CFFI backend does not load in isolated subinterpreters. */
typedef struct report {
    char *text;
    size_t len, cap;
    bool failed;
} report_t;

static void report_write(void *opaque, const char *chunk)
{
    report_t *rep = opaque;
    size_t n = strlen(chunk);
    if (rep->failed)
        return;
    if (rep->len + n + 1 > rep->cap) {
        size_t cap = rep->cap ? rep->cap : (size_t)1 << 16;
        while (cap < rep->len + n + 1)
            cap *= 2;
        char *text = realloc(rep->text, cap);
        if (text == NULL) {
            rep->failed = true;
            return;
        }
        rep->text = text;
        rep->cap = cap;
    }
    memcpy(rep->text + rep->len, chunk, n + 1);
    rep->len += n;
}

/* Option letters are checked by the caller (tunalloc._stats). */
static PyObject *hook_stats_report(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *opts = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (opts == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "opts must be a str");
        return NULL;
    }
    report_t rep = {0};
    Py_BEGIN_ALLOW_THREADS
    ta_stats_print(report_write, &rep, opts);
    Py_END_ALLOW_THREADS
    PyObject *out = rep.failed ? PyErr_NoMemory()
                               : PyUnicode_DecodeUTF8(rep.text ? rep.text : "", (Py_ssize_t)rep.len,
                                                      "replace");
    free(rep.text);
    return out;
}

static PyMethodDef hook_methods[] = {
    {"enable", hook_enable, METH_O, "Enable tunalloc for one domain."},
    {"disable", hook_disable, METH_O, "Stop new blocks of one domain."},
    {"state", hook_state, METH_O, "(active, installed, since) of one domain."},
    {"routing", hook_routing, METH_O, "+1/-1 around a thread arena choice."},
    {"backing_index", hook_backing_index, METH_NOARGS,
     "Index of the arena backing pymalloc, or None."},
    {"gil_cache", hook_gil_cache, METH_NOARGS,
     "True if MEM/OBJ use the GIL-guarded cache."},
    {"flush_cache", hook_flush_cache, METH_NOARGS,
     "Flush the GIL-guarded cache."},
    {"check_switch", hook_check_switch, METH_NOARGS,
     "RuntimeError unless this interpreter may enable or disable tunalloc."},
    {"is_main_interpreter", hook_is_main_interpreter, METH_NOARGS,
     "True in the main interpreter, the one that may switch tunalloc."},
    {"numpy_handler", hook_numpy_handler, METH_NOARGS,
     "A new mem_handler capsule for numpy's PyDataMem_SetHandler."},
    {"numpy_set_handler", hook_numpy_set_handler, METH_VARARGS,
     "numpy's PyDataMem_SetHandler(handler) through its C-API table."},
    {"stats_report", hook_stats_report, METH_O,
     "ta_stats_print's report for the given option letters."},
    {"ctl", (PyCFunction)(void (*)(void))hook_ctl, METH_FASTCALL,
     "ta_ctl for (name, type, value): the value read or None; OSError(errno)."},
    {"ctl_child", hook_ctl_child, METH_VARARGS, "ta_ctl_child as a tuple, or None."},
    {"arena_create", hook_arena_create, METH_VARARGS, "A new manual arena's index."},
    {"stats_tree", hook_stats_tree, METH_VARARGS, "The values under a node as nested dicts."},
    {"release_arena", hook_release_arena, METH_VARARGS,
     "Destroy or reset an arena unless blocks of it are live."},
    {"arena_malloc", hook_arena_malloc, METH_VARARGS,
     "Allocate from an arena by index, with the GIL held."},
    {"prof_hook", hook_prof_hook, METH_O, "Register (True) or remove the Python frames hook."},
    {"prof_read", hook_prof_read, METH_NOARGS, "The heap profile's stacks, as tuples."},
    {"prof_count", hook_prof_count, METH_O,
     "MEM and OBJ through the counting callbacks (True, while sampling) or not."},
    {"prof_reading", hook_prof_reading, METH_O,
     "A read of the profile begins (True) or ends: its objects are not sampled."},
    {NULL, NULL, 0, NULL},
};

/* The header's limits, so the package states none of its own. */
static int hook_exec(PyObject *m)
{
    PyObject *max = PyLong_FromLongLong(TA_DECAY_MS_MAX);
    int rc = max == NULL || PyModule_AddObjectRef(m, "DECAY_MS_MAX", max) < 0 ||
                     PyModule_AddIntConstant(m, "ARENAS_ALL", TA_ARENAS_ALL) < 0
                 ? -1
                 : 0;
    Py_XDECREF(max);
    return rc;
}

/* Multi-phase initialisation is what lets a module load in more than one
 * interpreter; nothing is per interpreter but the constants, so no state. */
static PyModuleDef_Slot hook_slots[] = {
    {Py_mod_exec, hook_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef hook_module = {
    PyModuleDef_HEAD_INIT, "tunalloc._hook",
    "Low-level allocator hooks; use tunalloc.enable() instead.", 0,
    hook_methods, hook_slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__hook(void) { return PyModuleDef_Init(&hook_module); }
