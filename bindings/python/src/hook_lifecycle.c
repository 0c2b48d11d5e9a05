/* Arena destroy/reset and arena allocation for tunalloc.Arena and
 * new_allocator. They run here, with the GIL held from the test to the
 * act, because CFFI calls drop the GIL: between a Python-level "nothing
 * is live" and the destroy, another thread could fill the arena inside
 * use_arena(), or be inside ta_arena_malloc on the arena going away. */
#include <errno.h>
#include <stdio.h>

#include "hook.h"

/* The arena at index, or NULL if the index names none now. Indexes are
 * parsed as Py_ssize_t ("n"), which raises OverflowError past its range
 * instead of wrapping onto a small index as "k" would. */
static ta_arena_t *arena_at(Py_ssize_t index)
{
    return index >= 0 && index < TA_ARENAS_ALL ? ta_arena_get((unsigned)index) : NULL;
}

/* release_arena(index, destroy, force) -> (err, blocks, bytes), the
 * arena's live blocks and bytes. err 0: done; EBUSY: blocks are live and
 * force is off, or (the core's refusal) a thread or cache is bound to the
 * arena; nothing was freed. EDOM: the arena backs pymalloc, whose pools
 * are in it (refused even with force); else the core's errno (EFAULT: no
 * such arena, EPERM: automatic arena). */
PyObject *hook_release_arena(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t index;
    int destroy, force;
    if (!PyArg_ParseTuple(args, "npp", &index, &destroy, &force))
        return NULL;
    size_t blocks = 0, bytes = 0;
    ta_arena_t *a = arena_at(index);
    int err = a == NULL ? EFAULT : a == hook_arena_backing() ? EDOM : 0;
    if (err == 0) {
        /* blocks waiting in the caches this module owns are not live */
        hook_flush_gil_cache();
        ta_ctl("thread.tcache.flush", NULL, NULL, NULL, 0);
        err = ta_arena_live(a, &blocks, &bytes);
    }
    if (err == 0 && blocks != 0 && !force) {
        err = EBUSY;
    } else if (err == 0 && destroy) {
        err = ta_arena_destroy(a);
    } else if (err == 0) {
        char name[48];
        snprintf(name, sizeof name, "arena.%zd.reset", index);
        err = ta_ctl(name, NULL, NULL, NULL, 0);
    }
    return Py_BuildValue("(inn)", err, (Py_ssize_t)blocks, (Py_ssize_t)bytes);
}

/* arena_malloc(index, size) -> address, 0 if the allocation failed; None
 * if no arena has that index. */
PyObject *hook_arena_malloc(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t index, size;
    if (!PyArg_ParseTuple(args, "nn", &index, &size))
        return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must be >= 0");
        return NULL;
    }
    ta_arena_t *a = arena_at(index);
    if (a == NULL)
        Py_RETURN_NONE;
    return PyLong_FromVoidPtr(ta_arena_malloc(a, (size_t)size));
}
