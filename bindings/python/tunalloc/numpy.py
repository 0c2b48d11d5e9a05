"""numpy array buffers on tunalloc (numpy >= 1.22, an optional extra).

    import tunalloc.numpy
    tunalloc.numpy.enable()        # or tunalloc.enable(("raw", "mem", "obj", "numpy"))

numpy allocates array data through a data-memory handler that is a
context variable (PyDataMem_SetHandler, NEP 49), not through PyMem_*.
enable() sets tunalloc's handler in the *current context* of the calling
thread; it then serves every array buffer made in that context and in
contexts copied from it (asyncio tasks created there,
contextvars.copy_context().run). On CPython 3.11 to 3.13 a new thread
starts with an empty context, so arrays made in other threads keep numpy's
default handler until that thread calls enable() too, e.g.
``ThreadPoolExecutor(initializer=tunalloc.numpy.enable)``. Each array
remembers the handler that made it, so buffers are freed correctly by
whichever thread drops the array.

Buffers come from the calling thread's tunalloc entry points: inside
``with tunalloc.use_arena(a):`` they land in arena a and a past its limit
raises MemoryError. Frees pass numpy's size to ta_free_sized; calloc
(np.zeros) zeroes.
"""
import contextvars
import sys
from typing import Any, Optional

from . import _hook

# The handler enable() replaced in this context, for disable().
_previous: contextvars.ContextVar = contextvars.ContextVar("tunalloc_numpy_previous")
_handler: Optional[Any] = None


def _multiarray(numpy: Any) -> Any:
    """numpy's C module, which holds the C-API table and the handler
    queries (numpy.core in 1.x, numpy._core from 2.0)."""
    if int(numpy.__version__.split(".")[0]) >= 2:
        from numpy._core import _multiarray_umath
    else:
        from numpy.core import _multiarray_umath
    return _multiarray_umath


def _numpy_api() -> Any:
    """numpy's C-API table (the _ARRAY_API capsule); ImportError if numpy
    is missing or older than 1.22 (no data-memory handlers)."""
    try:
        import numpy
    except ImportError as exc:
        raise ImportError("tunalloc.numpy needs numpy >= 1.22 "
                          "(pip install tunalloc[numpy])") from exc
    major, minor = (int(part) for part in numpy.__version__.split(".")[:2])
    if (major, minor) < (1, 22):
        raise ImportError(f"tunalloc.numpy needs numpy >= 1.22, not {numpy.__version__}")
    return _multiarray(numpy)._ARRAY_API


def active() -> bool:
    """True if array buffers made in the current context come from
    tunalloc (False, without importing numpy, if numpy is not imported)."""
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return False
    return _multiarray(numpy).get_handler_name() == "tunalloc"


def enable() -> None:
    """Sets tunalloc's handler in the current context (idempotent).
    ImportError if numpy >= 1.22 is not installed."""
    global _handler
    api = _numpy_api()
    if active():
        return
    if _handler is None:
        _handler = _hook.numpy_handler()
    _previous.set(_hook.numpy_set_handler(api, _handler))


def disable() -> None:
    """Puts back, in the current context, the handler enable() replaced
    there; arrays tunalloc already holds are still freed into it."""
    if not active():
        return
    _hook.numpy_set_handler(_numpy_api(), _previous.get(None))
