/* Python frames for tunalloc's heap profile. The core calls the frames
 * hook on the allocating thread at each sample, inside an allocation.
 * There the public frame API is unsafe: PyEval_GetFrame and
 * PyFrame_GetBack create frame objects, and creating an object inside an
 * allocation may run the garbage collector (3.11 collects on the spot)
 * or build a second frame object for a frame whose first is being made
 * right now. So, as tracemalloc does, the hook walks the interpreter's
 * own frame records, which allocates nothing: code object, instruction
 * offset and the line that offset maps to. It reads them only while this
 * thread holds the GIL; allocations made without it (the RAW domain from
 * threads that released it) get C frames only, which snapshots label. */
#define Py_BUILD_CORE_MODULE 1
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <stdio.h>

#include "internal/pycore_frame.h"

#include "hook.h"

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030E0000
#error "hook_prof.c reads the frame records of CPython 3.11 to 3.13"
#endif

#if PY_VERSION_HEX >= 0x030D0000
#define CURRENT_FRAME(ts) ((ts)->current_frame)
#define FRAME_CODE(f) (PyCode_Check((f)->f_executable) ? (PyCodeObject *)(f)->f_executable : NULL)
#define THREAD_STATE() PyThreadState_GetUnchecked()
#else
#define CURRENT_FRAME(ts) ((ts)->cframe->current_frame)
#define FRAME_CODE(f) ((f)->f_code)
#define THREAD_STATE() _PyThreadState_UncheckedGet()
#endif

/* A name without allocating: compact ASCII strings (nearly every
 * identifier and path) hold their bytes inline; others are not decoded. */
static const char *ascii_name(PyObject *s)
{
    if (s && PyUnicode_Check(s) && PyUnicode_IS_COMPACT_ASCII(s))
        return (const char *)PyUnicode_DATA(s);
    return "<non-ascii>";
}

/* Lines by (code object, instruction), cached: PyCode_Addr2Line decodes
 * the code's line table from its start, about 800 instructions a frame,
 * which made the Python frames a third of a sample's cost. The cache is
 * the main interpreter's only (its GIL guards it; a subinterpreter with
 * a GIL of its own looks lines up uncached), and an entry's code object
 * may die and its address be reused: each code object cached carries a
 * code extra (co_extra, CPython's slot for tools such as this) whose free
 * function runs as the code object is freed and drops its entries. */
#define LINE_CACHE 1024

typedef struct {
    PyCodeObject *code;
    int lasti, line;
} line_entry_t;

static line_entry_t line_cache[LINE_CACHE];
static Py_ssize_t line_extra = -1; /* the code extra's index in the main interpreter */

static void line_code_freed(void *code)
{
    for (size_t i = 0; i < LINE_CACHE; i++)
        if (line_cache[i].code == code)
            line_cache[i].code = NULL;
}

/* Marks code with the extra, so its death clears its entries; without
 * allocating unless the code has no extras yet (then CPython allocates
 * its small array, an ordinary allocation inside the profiler). Any
 * exception raised meanwhile is dropped and the one pending put back, as
 * this runs inside an allocation. */
static bool line_mark(PyCodeObject *code)
{
    void *extra = NULL;
    if (_PyCode_GetExtra((PyObject *)code, line_extra, &extra) == 0 && extra)
        return true;
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *pending = PyErr_GetRaisedException();
    bool ok = _PyCode_SetExtra((PyObject *)code, line_extra, code) == 0;
    PyErr_SetRaisedException(pending);
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    bool ok = _PyCode_SetExtra((PyObject *)code, line_extra, code) == 0;
    PyErr_Restore(type, value, tb);
#endif
    return ok;
}

static int line_of(PyCodeObject *code, int lasti, bool main)
{
    if (!main)
        return PyCode_Addr2Line(code, lasti * (int)sizeof(_Py_CODEUNIT));
    if (line_extra < 0 && (line_extra = _PyEval_RequestCodeExtraIndex(line_code_freed)) < 0)
        return PyCode_Addr2Line(code, lasti * (int)sizeof(_Py_CODEUNIT));
    uintptr_t h = ((uintptr_t)code >> 4) * 0x9E3779B97F4A7C15ULL + (uintptr_t)lasti;
    line_entry_t *e = &line_cache[(h ^ h >> 29) & (LINE_CACHE - 1)];
    if (e->code == code && e->lasti == lasti)
        return e->line;
    int line = PyCode_Addr2Line(code, lasti * (int)sizeof(_Py_CODEUNIT));
    if (line_mark(code))
        *e = (line_entry_t){code, lasti, line};
    return line;
}

static int py_frames(void *ctx, ta_tcache_t *cache, ta_prof_frame *out, int max)
{
    (void)ctx;
    (void)cache;
    if (!PyGILState_Check())
        return 0;
    PyThreadState *ts = THREAD_STATE();
    if (!ts)
        return 0;
    bool main = ts->interp == PyInterpreterState_Main();
    int n = 0;
    for (_PyInterpreterFrame *f = CURRENT_FRAME(ts); f && n < max; f = f->previous) {
        if (_PyFrame_IsIncomplete(f))
            continue;
        PyCodeObject *code = FRAME_CODE(f);
        if (!code)
            continue;
        out[n].function = ascii_name(code->co_qualname);
        out[n].file = ascii_name(code->co_filename);
        out[n].line = line_of(code, _PyInterpreterFrame_LASTI(f), main);
        n++;
    }
    return n;
}

/* prof_hook(on): registers or removes the frames hook. */
PyObject *hook_prof_hook(PyObject *self, PyObject *on)
{
    (void)self;
    int v = PyObject_IsTrue(on);
    if (v < 0)
        return NULL;
    ta_prof_set_frames_hook(v ? py_frames : NULL, NULL);
    Py_RETURN_NONE;
}

/* prof_count(on): MEM and OBJ allocate through the core's counting
 * callbacks (on, while the profile samples), so that a freed block is the
 * next one taken as without sampling, or through the plain ones. It
 * switches the domains' callbacks, so the main interpreter only. */
PyObject *hook_prof_count(PyObject *self, PyObject *on)
{
    (void)self;
    int v = PyObject_IsTrue(on);
    if (v < 0 || !hook_may_switch())
        return NULL;
    hook_count_entries(v);
    Py_RETURN_NONE;
}

/* The explicit cache MEM and OBJ allocate through (the GIL-guarded one),
 * or NULL for the thread's own: read from OBJ's installed callbacks, whose
 * context is a ta_hook_t when they are the core's. */
static ta_tcache_t *obj_cache(void)
{
    PyMemAllocatorEx a;
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &a);
    if (a.malloc != ta_hook_malloc && a.malloc != ta_hook_count_malloc)
        return NULL;
    return __atomic_load_n(&((ta_hook_t *)a.ctx)->alloc_cache, __ATOMIC_RELAXED);
}

/* prof_reading(on): a read of the profile by this thread begins or ends
 * (ta_prof_read_begin): the objects a snapshot or a dump builds are
 * neither sampled nor counted. */
PyObject *hook_prof_reading(PyObject *self, PyObject *on)
{
    (void)self;
    int v = PyObject_IsTrue(on);
    if (v < 0)
        return NULL;
    if (v)
        ta_prof_read_begin(obj_cache());
    else
        ta_prof_read_end();
    Py_RETURN_NONE;
}

/* A C frame's name from the dynamic symbol table, else object+offset.
 * snprintf, as PyUnicode_FromFormat has no %zx (3.11 copies it out as
 * it is). */
static PyObject *c_frame_name(uintptr_t pc)
{
    char buf[320];
    Dl_info info;
    int found = dladdr((void *)pc, &info);
    if (found && info.dli_sname)
        return PyUnicode_FromString(info.dli_sname);
    if (found && info.dli_fname) {
        const char *base = strrchr(info.dli_fname, '/');
        snprintf(buf, sizeof buf, "%.256s+0x%zx", base ? base + 1 : info.dli_fname,
                 (size_t)(pc - (uintptr_t)info.dli_fbase));
    } else {
        snprintf(buf, sizeof buf, "0x%zx", (size_t)pc);
    }
    return PyUnicode_DecodeFSDefault(buf);
}

/* One read's state: the list it fills, and the names of the C frames
 * seen so far. dladdr scans a library's symbols, and a profile holds the
 * same few hundred return addresses in thousands of stacks. */
typedef struct {
    PyObject *list;
    PyObject *names; /* int pc -> str */
} read_t;

static PyObject *c_frame_name_cached(read_t *r, uintptr_t pc)
{
    PyObject *key = PyLong_FromSize_t(pc);
    if (!key)
        return NULL;
    PyObject *name = PyDict_GetItemWithError(r->names, key);
    if (name) {
        Py_INCREF(name);
    } else if (!PyErr_Occurred() && (name = c_frame_name(pc)) != NULL &&
               PyDict_SetItem(r->names, key, name) < 0) {
        Py_CLEAR(name);
    }
    Py_DECREF(key);
    return name;
}

static PyObject *stack_tuple(read_t *r, const ta_prof_stack *s)
{
    PyObject *frames = PyTuple_New(s->n_frames), *cframes = PyTuple_New(s->n_pcs);
    if (!frames || !cframes)
        goto fail;
    for (unsigned k = 0; k < s->n_frames; k++) {
        PyObject *f = Py_BuildValue("(ssi)", s->frames[k].function, s->frames[k].file,
                                    s->frames[k].line);
        if (!f)
            goto fail;
        PyTuple_SET_ITEM(frames, k, f);
    }
    for (unsigned k = 0; k < s->n_pcs; k++) {
        PyObject *name = c_frame_name_cached(r, s->pcs[k]);
        if (!name)
            goto fail;
        PyTuple_SET_ITEM(cframes, k, name);
    }
    return Py_BuildValue("(NNKdKdKdKd)", frames, cframes,
                         (unsigned long long)s->live_blocks, s->live_blocks_est,
                         (unsigned long long)s->live_bytes, s->live_bytes_est,
                         (unsigned long long)s->alloc_blocks, s->alloc_blocks_est,
                         (unsigned long long)s->alloc_bytes, s->alloc_bytes_est);
fail:
    Py_XDECREF(frames);
    Py_XDECREF(cframes);
    return NULL;
}

static int add_stack(void *arg, const ta_prof_stack *s)
{
    read_t *r = arg;
    PyObject *t = stack_tuple(r, s);
    if (!t)
        return -1;
    int err = PyList_Append(r->list, t);
    Py_DECREF(t);
    return err ? -1 : 0;
}

/* prof_read(): one tuple per stack, from a copy of the profile:
 * (frames, c_frames, live_blocks, live_blocks_est, live_bytes,
 *  live_bytes_est, alloc_blocks, alloc_blocks_est, alloc_bytes,
 *  alloc_bytes_est), frames innermost first. */
PyObject *hook_prof_read(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    read_t r = {PyList_New(0), PyDict_New()};
    int err = r.list && r.names ? ta_prof_read(add_stack, &r) : -1;
    Py_XDECREF(r.names);
    if (err) {
        Py_XDECREF(r.list);
        if (err > 0)
            return PyErr_NoMemory();
        return NULL;
    }
    return r.list;
}
