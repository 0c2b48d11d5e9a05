/* The control namespace for tunalloc.ctl(), Arena and stats(), here in
 * the hook extension rather than in the CFFI module: CFFI's backend does
 * not load in isolated subinterpreters, and this module loads in every
 * interpreter. Python resolves names and checks value types
 * (tunalloc._ctlapi); these calls convert between Python and C values,
 * range-check integers against their C type, and return the core's errno
 * for Python to map onto exceptions. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/types.h>

#include "hook.h"

/* One row per namespace type: its name on the Python side (CtlInfo.type)
 * and the size ta_ctl reads and writes. */
typedef struct ctl_type {
    ta_ctl_type type;
    const char *name;
    size_t size;
    uint64_t max; /* unsigned integer types: the largest value */
} ctl_type_t;

static const ctl_type_t ctl_types[] = {
    {TA_CTL_NODE, "node", 0, 0},
    {TA_CTL_BOOL, "bool", sizeof(bool), 0},
    {TA_CTL_UNSIGNED, "unsigned", sizeof(unsigned), UINT_MAX},
    {TA_CTL_SIZE, "size_t", sizeof(size_t), SIZE_MAX},
    {TA_CTL_SSIZE, "ssize_t", sizeof(ssize_t), 0},
    {TA_CTL_UINT64, "uint64_t", sizeof(uint64_t), UINT64_MAX},
    {TA_CTL_STRING, "string", sizeof(const char *), 0},
    {TA_CTL_POINTER, "pointer", sizeof(void *), 0},
    {TA_CTL_ACTION, "action", 0, 0},
};
enum { NCTL_TYPES = sizeof ctl_types / sizeof ctl_types[0] };

static const ctl_type_t *type_row(ta_ctl_type type)
{
    for (size_t i = 0; i < NCTL_TYPES; i++)
        if (ctl_types[i].type == type)
            return &ctl_types[i];
    return NULL;
}

static const ctl_type_t *type_named(const char *name)
{
    for (size_t i = 0; i < NCTL_TYPES; i++)
        if (strcmp(ctl_types[i].name, name) == 0)
            return &ctl_types[i];
    PyErr_Format(PyExc_ValueError, "unknown control type %s", name);
    return NULL;
}

static PyObject *value_object(ta_ctl_type type, const ta_ctl_value *v)
{
    switch (type) {
    case TA_CTL_BOOL:
        return PyBool_FromLong(v->b);
    case TA_CTL_UNSIGNED:
        return PyLong_FromUnsignedLong(v->u);
    case TA_CTL_SIZE:
        return PyLong_FromSize_t(v->z);
    case TA_CTL_SSIZE:
        return PyLong_FromSsize_t((Py_ssize_t)v->s);
    case TA_CTL_UINT64:
        return PyLong_FromUnsignedLongLong(v->q);
    case TA_CTL_STRING:
        if (v->str == NULL)
            Py_RETURN_NONE;
        return PyUnicode_DecodeUTF8(v->str, (Py_ssize_t)strlen(v->str), "replace");
    case TA_CTL_POINTER:
        return PyLong_FromVoidPtr(v->ptr);
    default:
        PyErr_Format(PyExc_RuntimeError, "control value of unknown type %d", (int)type);
        return NULL;
    }
}

/* An int for a value of type t, in range (ValueError otherwise, as for a
 * value the core rejects); the Python side has checked it is an int. */
static bool int_value(const char *name, const ctl_type_t *t, PyObject *obj, ta_ctl_value *v)
{
    if (t->type == TA_CTL_SSIZE) {
        Py_ssize_t s = PyLong_AsSsize_t(obj);
        if (!(s == -1 && PyErr_Occurred())) {
            v->s = (ssize_t)s;
            return true;
        }
    } else {
        unsigned long long q = PyLong_AsUnsignedLongLong(obj);
        if (!(q == (unsigned long long)-1 && PyErr_Occurred()) && q <= t->max) {
            if (t->type == TA_CTL_UNSIGNED)
                v->u = (unsigned)q;
            else if (t->type == TA_CTL_SIZE)
                v->z = (size_t)q;
            else
                v->q = (uint64_t)q;
            return true;
        }
    }
    if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_OverflowError))
        return false;
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError, "%R is out of range for '%s' (%s)", obj, name, t->name);
    return false;
}

/* A str argument as a C string; ValueError if it holds a NUL, which
 * would silently end the C string. */
static const char *c_string(PyObject *obj, const char *what)
{
    Py_ssize_t len;
    const char *s = PyUnicode_Check(obj) ? PyUnicode_AsUTF8AndSize(obj, &len) : NULL;
    if (s == NULL) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "%s must be a str", what);
        return NULL;
    }
    if (strlen(s) != (size_t)len) {
        PyErr_Format(PyExc_ValueError, "%s contains a NUL character", what);
        return NULL;
    }
    return s;
}

/* The bytes to write for a value of type t. */
static bool new_value(const char *name, const ctl_type_t *t, PyObject *obj, ta_ctl_value *v)
{
    if (t->type == TA_CTL_BOOL) {
        int truth = PyObject_IsTrue(obj);
        v->b = truth > 0;
        return truth >= 0;
    }
    if (t->type == TA_CTL_STRING)
        return (v->str = c_string(obj, "a string value")) != NULL;
    if (t->type == TA_CTL_POINTER) {
        v->ptr = PyLong_AsVoidPtr(obj);
        return !(v->ptr == NULL && PyErr_Occurred());
    }
    return int_value(name, t, obj, v);
}

/* ctl(name, type, value) -> the value read, or None. type is the name's
 * type as ctl_child reports it. An action runs (value ignored); a
 * pointer name (arenas.lookup) takes the address value and reads an
 * unsigned; otherwise value None reads and anything else writes. The
 * core's errno comes back as OSError, for the caller to map. The GIL is
 * released around the core's call, which may purge or wait for a lock.
 *
 * Fast-call, and nothing made on success but the value read: use_arena()
 * calls this to switch the thread's arena, and an argument or result
 * tuple made in the arena would stay there on CPython's tuple free list
 * as a live block (the arena could not be destroyed). */
PyObject *hook_ctl(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "ctl takes (name, type, value)");
        return NULL;
    }
    const char *name = c_string(args[0], "a control name");
    const char *type_name = name ? c_string(args[1], "a control type") : NULL;
    const ctl_type_t *t = type_name ? type_named(type_name) : NULL;
    if (t == NULL)
        return NULL;
    PyObject *value = args[2];
    ta_ctl_value in = {0}, out = {0};
    void *oldp = NULL, *newp = NULL;
    size_t oldlen = 0, newlen = 0;
    ta_ctl_type out_type = t->type;
    if (t->type == TA_CTL_POINTER) {
        if (!new_value(name, t, value, &in))
            return NULL;
        newp = &in;
        newlen = t->size;
        oldp = &out;
        oldlen = sizeof out.u;
        out_type = TA_CTL_UNSIGNED;
    } else if (t->type == TA_CTL_NODE) {
        PyErr_Format(PyExc_ValueError, "'%s' is a node, not a value", name);
        return NULL;
    } else if (t->type != TA_CTL_ACTION && value == Py_None) {
        oldp = &out;
        oldlen = t->size;
    } else if (t->type != TA_CTL_ACTION) {
        if (!new_value(name, t, value, &in))
            return NULL;
        newp = &in;
        newlen = t->size;
    }
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = ta_ctl(name, oldp, oldp ? &oldlen : NULL, newp, newlen);
    Py_END_ALLOW_THREADS
    if (err != 0) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (oldp == NULL)
        Py_RETURN_NONE;
    return value_object(out_type, &out);
}

/* ctl_child(node, index) -> (name, type, readable, writable, doc, bound)
 * of the node's child number index, or None past the last one. */
PyObject *hook_ctl_child(PyObject *self, PyObject *args)
{
    (void)self;
    const char *node;
    Py_ssize_t index;
    if (!PyArg_ParseTuple(args, "sn", &node, &index))
        return NULL;
    ta_ctl_info info;
    if (index < 0 || ta_ctl_child(node, (size_t)index, &info) != 0)
        Py_RETURN_NONE;
    const ctl_type_t *t = type_row(info.type);
    PyObject *type = t ? PyUnicode_FromString(t->name) : PyUnicode_FromFormat("%d", (int)info.type);
    if (type == NULL)
        return NULL;
    return Py_BuildValue("(sNOOsz)", info.name, type,
                         (info.mode & TA_CTL_READ) ? Py_True : Py_False,
                         (info.mode & TA_CTL_WRITE) ? Py_True : Py_False,
                         info.doc ? info.doc : "", info.bound);
}

/* arena_create(dirty_decay_ms, muzzy_decay_ms, limit) -> the new manual
 * arena's index; a decay time None inherits the default. OSError with
 * the core's errno if the core refuses. */
PyObject *hook_arena_create(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *decay[2], *limit;
    if (!PyArg_ParseTuple(args, "OOO", &decay[0], &decay[1], &limit))
        return NULL;
    ta_arena_opts opts;
    ta_arena_opts_init(&opts);
    int64_t *slot[2] = {&opts.dirty_decay_ms, &opts.muzzy_decay_ms};
    for (int i = 0; i < 2; i++) {
        if (decay[i] == Py_None)
            continue;
        long long ms = PyLong_AsLongLong(decay[i]);
        if (ms == -1 && PyErr_Occurred())
            return NULL;
        *slot[i] = ms;
    }
    opts.limit = PyLong_AsSize_t(limit);
    if (opts.limit == (size_t)-1 && PyErr_Occurred())
        return NULL;
    ta_arena_t *arena;
    int err;
    Py_BEGIN_ALLOW_THREADS
    errno = 0;
    arena = ta_arena_create(&opts);
    err = errno ? errno : ENOMEM;
    Py_END_ALLOW_THREADS
    if (arena == NULL) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromUnsignedLong(ta_arena_index(arena));
}

/* ---- stats_tree: the walker's values as nested dicts -------------------
 * One C walk (ta_ctl_walk) builds the dicts, so a full stats() costs the
 * walk and one object per value, not a JSON text and its parse. Keys are
 * names as str (each name made once per call: the walker's names are
 * the namespace table's own strings, so their address identifies them)
 * and index components as ints, as in control names. */
enum { TREE_DEPTH = 16, KEY_SLOTS = 256 };

typedef struct tree {
    PyObject *stack[TREE_DEPTH]; /* stack[0] is the result, then open dicts */
    size_t depth;                /* counts opens past a failure too */
    bool failed;                 /* a Python exception is set: build no more */
    const char *names[KEY_SLOTS];
    PyObject *keys[KEY_SLOTS];
} tree_t;

static PyObject *tree_key(tree_t *t, const char *name, size_t index)
{
    if (name == NULL)
        return PyLong_FromSize_t(index);
    size_t slot = ((uintptr_t)name >> 3) % KEY_SLOTS;
    for (size_t probe = 0; probe < KEY_SLOTS; probe++, slot = (slot + 1) % KEY_SLOTS) {
        if (t->names[slot] == name) {
            Py_INCREF(t->keys[slot]);
            return t->keys[slot];
        }
        if (t->names[slot] == NULL) {
            PyObject *key = PyUnicode_InternFromString(name);
            if (key == NULL)
                return NULL;
            t->names[slot] = name;
            t->keys[slot] = key;
            Py_INCREF(key);
            return key;
        }
    }
    return PyUnicode_InternFromString(name);
}

/* Sets parent[key(name, index)] = obj, taking obj's reference. */
static bool tree_put(tree_t *t, const char *name, size_t index, PyObject *obj)
{
    PyObject *key = obj ? tree_key(t, name, index) : NULL;
    bool ok = key != NULL && PyDict_SetItem(t->stack[t->depth], key, obj) == 0;
    Py_XDECREF(key);
    Py_XDECREF(obj);
    t->failed = !ok;
    return ok;
}

static void tree_open(void *opaque, const char *name, size_t index)
{
    tree_t *t = opaque;
    if (!t->failed && t->depth + 1 >= TREE_DEPTH) {
        PyErr_SetString(PyExc_RuntimeError, "control namespace deeper than expected");
        t->failed = true;
    }
    if (!t->failed) {
        PyObject *dict = PyDict_New();
        /* borrowed once stored: the parent holds it */
        if (tree_put(t, name, index, dict))
            t->stack[t->depth + 1] = dict;
    }
    t->depth++;
}

static void tree_close(void *opaque)
{
    tree_t *t = opaque;
    t->depth--;
}

static void tree_value(void *opaque, const char *name, size_t index, ta_ctl_type type,
                       const ta_ctl_value *v)
{
    tree_t *t = opaque;
    if (!t->failed)
        tree_put(t, name, index, value_object(type, v));
}

/* stats_tree(node, omit) -> dict: every readable value under node ("" =
 * the root, "stats", "stats.arenas.3") after refreshing the epoch, with
 * the sections the option letters name left out (as ta_stats_print's).
 * KeyError for an unknown node or a value. Reading creates nothing. */
PyObject *hook_stats_tree(PyObject *self, PyObject *args)
{
    (void)self;
    static const ta_ctl_visitor to_dicts = {tree_open, tree_close, tree_value};
    const char *node, *omit;
    if (!PyArg_ParseTuple(args, "ss", &node, &omit))
        return NULL;
    uint64_t one = 1;
    int err = ta_ctl("epoch", NULL, NULL, &one, sizeof one);
    if (err != 0) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *out = PyDict_New();
    if (out == NULL)
        return NULL;
    tree_t t = {.stack = {out}};
    /* The dicts made here cannot form cycles, and no other code of this
     * interpreter runs until the walk returns (the GIL is held, the
     * callbacks call nothing that could run Python code): collections
     * the new dicts would trigger along the way find nothing. */
    int gc_was_on = PyGC_Disable();
    err = ta_ctl_walk(node, omit, &to_dicts, &t);
    if (gc_was_on)
        PyGC_Enable();
    for (size_t i = 0; i < KEY_SLOTS; i++)
        Py_XDECREF(t.keys[i]);
    if (t.failed || err != 0)
        Py_CLEAR(out);
    if (t.failed)
        return NULL;
    if (err == ENOENT || err == EINVAL)
        PyErr_Format(PyExc_KeyError, "%s: %s", node,
                     err == ENOENT ? "no such node" : "a value, not a node");
    else if (err != 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
    }
    return out;
}
