"""ctl(): the control namespace with Python types, and its error mapping.

Names are resolved against the namespace's own enumeration
(ta_ctl_child), so every name the core knows works here with the type the
core declares, and no list of names is kept in Python. The calls go
through tunalloc._hook (hook_ctl.c), which loads in every interpreter,
isolated subinterpreters included, where CFFI's backend does not.
"""
import errno as _errno
import functools
import os
import sys
from typing import Any, Callable, List, NamedTuple, NoReturn, Optional, Tuple

from . import _hook

# (name, type, readable, writable, doc, bound) of one child, as
# _hook.ctl_child reports it; type is CtlInfo.type's name.
_Kid = Tuple[str, str, bool, bool, str, Optional[str]]
# The Python type a value of each scalar namespace type takes.
_PY_TYPES = {"bool": bool, "string": str, "unsigned": int, "size_t": int,
             "ssize_t": int, "uint64_t": int}


class CtlInfo(NamedTuple):
    """One entry of the namespace: component name, type, access, doc, and
    for an index entry ("<i>") the name whose value bounds its indexes."""

    name: str
    type: str
    readable: bool
    writable: bool
    doc: str
    bound: Optional[str] = None


def _raise_for(rc: int, name: str) -> NoReturn:
    """Turns a ta_ctl errno into the Python exception the API promises."""
    if rc == _errno.ENOENT:
        raise KeyError(name)
    if rc == _errno.EINVAL:
        raise ValueError(f"invalid value or length for {name!r}")
    if rc == _errno.EPERM:
        raise PermissionError(rc, f"{name!r} cannot be used that way "
                                  "(read-only, write-only or protected)")
    raise OSError(rc, os.strerror(rc), name)


@functools.lru_cache(maxsize=None)
def _children(node: str) -> Tuple[_Kid, ...]:
    """All children of a node pattern; the namespace is fixed at build time
    so caching it is exact."""
    out: List[_Kid] = []
    while (kid := _hook.ctl_child(node, len(out))) is not None:
        out.append(kid)
    return tuple(out)


def _is_index(component: str) -> bool:
    return component.isascii() and component.isdigit()


def _match(node: str, component: str) -> Optional[_Kid]:
    """The child of node named component, or the index child ("<i>") if
    component is a number."""
    kids = _children(node)
    for kid in kids:
        if kid[0] == component:
            return kid
    if _is_index(component):
        for kid in kids:
            if kid[0].startswith("<"):
                return kid
    return None


@functools.lru_cache(maxsize=4096)
def _resolve(pattern: Tuple[str, ...]) -> Optional[_Kid]:
    """The entry of a name with its indexes replaced by "0" (one cache
    entry per name pattern)."""
    node = ""
    kid = None
    for component in pattern:
        kid = _match(node, component)
        if kid is None:
            return None
        node = f"{node}.{kid[0]}" if node else kid[0]
    return kid


def _entry(name: str) -> _Kid:
    """The entry of a control name; KeyError if it does not exist,
    TypeError if it is not a string."""
    if not isinstance(name, str):
        raise TypeError(f"ctl name must be a str, not {type(name).__name__}")
    if "\0" in name:
        raise ValueError(f"ctl name {name!r} contains a NUL character")
    parts = name.split(".")
    if not all(parts):
        raise KeyError(name)
    found = _resolve(tuple("0" if _is_index(p) else p for p in parts))
    if found is None:
        raise KeyError(name)
    return found


def ctl_info(name: str) -> CtlInfo:
    """Type, access and one-line doc of a control name (KeyError if none)."""
    entry = _entry(name)
    return CtlInfo(name.rsplit(".", 1)[-1], *entry[1:])


def ctl_children(node: str = "") -> List[CtlInfo]:
    """The entries directly under node ("" for the root), for browsing the
    namespace from the REPL; KeyError for an unknown or leaf node."""
    if not isinstance(node, str):
        raise TypeError(f"ctl node must be a str, not {type(node).__name__}")
    if node and _entry(node)[1] != "node":
        raise KeyError(f"{node} is a value, not a node")
    # Children do not depend on the index, so one cache entry per pattern.
    pattern = ".".join("0" if _is_index(p) else p for p in node.split("."))
    return [CtlInfo(*kid) for kid in _children(pattern)]


def _call(name: str, type_: str, value: Any) -> Any:
    try:
        return _hook.ctl(name, type_, value)
    except OSError as exc:     # the core's errno
        err = exc.errno
    _raise_for(err, name)


def writer(name: str) -> Callable[[Any], None]:
    """A write of name that goes straight to C and makes no Python object
    on success; errors come as OSError with the core's errno. use_arena()
    switches the thread back with it while the thread's arena is still
    the chosen one: Python-level work there would make objects in that
    arena, and a list or tuple left on CPython's free lists would keep a
    block of it live (destroy() refused)."""
    return functools.partial(_hook.ctl, name, _entry(name)[1])


def _check_value(name: str, type_: str, value: Any) -> None:
    """The value's Python type, before any C call (its range is checked
    against the C type in C, also before the core is called)."""
    want = _PY_TYPES.get(type_, object)
    if want is int and isinstance(value, bool) or not isinstance(value, want):
        article = "an" if want is int else "a"
        raise TypeError(f"{name!r} takes {article} {want.__name__}, "
                        f"not {type(value).__name__}")


def _address(name: str, value: Any) -> int:
    """Pointer inputs accept an address (int) or a CFFI pointer."""
    backend = sys.modules.get("_cffi_backend")
    if backend is not None and isinstance(value, backend._CDataBase):
        # Only reachable where CFFI loads, so the bridge does too.
        from ._ctl import ffi
        value = int(ffi.cast("uintptr_t", value))
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 2 * sys.maxsize + 1:     # a void * (Py_ssize_t's width)
            raise ValueError(f"{value} is not an address ({name!r})")
        return value
    raise TypeError(f"{name!r} takes an address (int or cdata pointer), "
                    f"not {type(value).__name__}")


def _action(name: str, value: Any) -> None:
    if value is not None:
        raise TypeError(f"{name!r} is an action and takes no value")
    parts = name.split(".")
    if parts[0] == "arena" and parts[2:] in (["reset"], ["destroy"]):
        # Arena.destroy()/reset()'s refusal while blocks are live holds
        # for the names too. Imported here: _arena imports this module.
        from ._arena import INDEX_MAX, _release
        index = int(parts[1])
        if index > INDEX_MAX:
            raise KeyError(name)    # as the core says for arena.<i>.purge
        return _release(index, parts[2] == "destroy", False)
    return _call(name, "action", None)


def ctl(name: str, value: Any = None) -> Any:
    """Read (value None) or write a control name, e.g.
    ``ctl("stats.allocated")``, ``ctl("arena.0.dirty_decay_ms", 0)``,
    ``ctl("arena.0.purge")`` (actions run when called without a value) or
    ``ctl("arenas.lookup", address)``.

    Types follow the namespace: bool, int (range-checked) or str.
    Raises KeyError for an unknown name, TypeError for a value of the wrong
    type, ValueError for a bad value or a name or value with a NUL
    character, PermissionError for a read-only (or write-only) name,
    OSError for other failures. ``arena.<i>.reset`` and
    ``arena.<i>.destroy`` raise ArenaBusyError, as Arena.reset() and
    destroy() do, while blocks of the arena are live.
    """
    type_ = _entry(name)[1]
    if type_ == "node":
        raise KeyError(f"{name} is a node, not a value; "
                       f"see tunalloc.ctl_children({name!r})")
    if type_ == "action":
        return _action(name, value)
    if type_ == "pointer":
        return _call(name, type_, _address(name, value))
    if value is not None:
        _check_value(name, type_, value)
    return _call(name, type_, value)
