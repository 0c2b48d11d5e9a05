"""ctl(): the control namespace with Python types, and its error mapping.

Names are resolved against the namespace's own enumeration
(ta_ctl_child), so every name the core knows works here with the type the
core declares, and no list of names is kept in Python.
"""
import errno as _errno
import functools
import os
from typing import Any, List, NamedTuple, Optional, Tuple

from ._ctl import ffi, lib

NODE = lib.TA_CTL_NODE
ACTION = lib.TA_CTL_ACTION
POINTER = lib.TA_CTL_POINTER
STRING = lib.TA_CTL_STRING
BOOL = lib.TA_CTL_BOOL

# C type of each scalar namespace type, as CFFI spells it.
_CTYPES = {
    lib.TA_CTL_BOOL: "bool",
    lib.TA_CTL_UNSIGNED: "unsigned",
    lib.TA_CTL_SIZE: "size_t",
    lib.TA_CTL_SSIZE: "ssize_t",
    lib.TA_CTL_UINT64: "uint64_t",
    lib.TA_CTL_STRING: "char *",
}
_TYPE_NAMES = {
    NODE: "node", BOOL: "bool", lib.TA_CTL_UNSIGNED: "unsigned",
    lib.TA_CTL_SIZE: "size_t", lib.TA_CTL_SSIZE: "ssize_t",
    lib.TA_CTL_UINT64: "uint64_t", STRING: "string", POINTER: "pointer",
    ACTION: "action",
}
_SIGNED = {lib.TA_CTL_SSIZE}


class CtlInfo(NamedTuple):
    """One entry of the namespace: component name, type, access, doc, and
    for an index entry ("<i>") the name whose value bounds its indexes."""

    name: str
    type: str
    readable: bool
    writable: bool
    doc: str
    bound: Optional[str] = None


def _raise_for(rc: int, name: str) -> None:
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
def _children(node: str) -> Tuple[Tuple[str, int, int, str, Optional[str]], ...]:
    """All children of a node pattern; the namespace is fixed at build time
    so caching it is exact."""
    info = ffi.new("ta_ctl_info *")
    out: List[Tuple[str, int, int, str, Optional[str]]] = []
    node_b = node.encode()
    while lib.ta_ctl_child(node_b, len(out), info) == 0:
        doc = ffi.string(info.doc).decode() if info.doc != ffi.NULL else ""
        bound = ffi.string(info.bound).decode() if info.bound != ffi.NULL else None
        out.append((ffi.string(info.name).decode(), int(info.type),
                    int(info.mode), doc, bound))
    return tuple(out)


def _is_index(component: str) -> bool:
    return component.isascii() and component.isdigit()


def _match(node: str, component: str) -> Optional[Tuple[str, int, int, str, Optional[str]]]:
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
def _resolve(pattern: Tuple[str, ...]) -> Optional[Tuple[int, int, str, Optional[str]]]:
    """(type, mode, doc, bound) of a name with its indexes replaced by "0" (one
    cache entry per name pattern)."""
    node = ""
    kid = None
    for component in pattern:
        kid = _match(node, component)
        if kid is None:
            return None
        node = f"{node}.{kid[0]}" if node else kid[0]
    return None if kid is None else kid[1:]


def _entry(name: str) -> Tuple[int, int, str, Optional[str]]:
    """(type, mode, doc, bound) of a control name; KeyError if it does not exist,
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


def _as_info(name: str, type_: int, mode: int, doc: str,
             bound: Optional[str]) -> CtlInfo:
    return CtlInfo(name, _TYPE_NAMES.get(type_, str(type_)),
                   bool(mode & lib.TA_CTL_READ), bool(mode & lib.TA_CTL_WRITE),
                   doc, bound)


def ctl_info(name: str) -> CtlInfo:
    """Type, access and one-line doc of a control name (KeyError if none)."""
    return _as_info(name.rsplit(".", 1)[-1], *_entry(name))


def ctl_children(node: str = "") -> List[CtlInfo]:
    """The entries directly under node ("" for the root), for browsing the
    namespace from the REPL; KeyError for an unknown or leaf node."""
    if node and _entry(node)[0] != NODE:
        raise KeyError(f"{node} is a value, not a node")
    # Children do not depend on the index, so one cache entry per pattern.
    pattern = ".".join("0" if _is_index(p) else p for p in node.split("."))
    return [_as_info(*kid) for kid in _children(pattern)]


def _read(name: str, type_: int) -> Any:
    ctype = _CTYPES[type_]
    buf = ffi.new(ctype + " *")
    size = ffi.new("size_t *", ffi.sizeof(ctype))
    rc = lib.ta_ctl(name.encode(), buf, size, ffi.NULL, 0)
    if rc:
        _raise_for(rc, name)
    if type_ == STRING:
        return ffi.string(buf[0]).decode() if buf[0] != ffi.NULL else None
    return bool(buf[0]) if type_ == BOOL else int(buf[0])


def _check_int(name: str, type_: int, value: Any) -> None:
    """Type first (TypeError), then range (ValueError), before any C call."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name!r} takes an int, not {type(value).__name__}")
    bits = 8 * ffi.sizeof(_CTYPES[type_])
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if type_ in _SIGNED \
        else (0, (1 << bits) - 1)
    if not lo <= value <= hi:
        raise ValueError(f"{value} is out of range for {name!r} "
                         f"({_TYPE_NAMES[type_]})")


def _check_type(name: str, value: Any, want: type) -> None:
    if not isinstance(value, want):
        raise TypeError(f"{name!r} takes a {want.__name__}, "
                        f"not {type(value).__name__}")


def _write(name: str, type_: int, value: Any) -> None:
    ctype = _CTYPES[type_]
    if type_ == BOOL:
        _check_type(name, value, bool)
        buf = ffi.new("bool *", value)
    elif type_ == STRING:
        _check_type(name, value, str)
        if "\0" in value:
            raise ValueError(f"{name!r} takes no NUL character in its value")
        keep = ffi.new("char[]", value.encode())
        buf = ffi.new("char **", keep)
    else:
        _check_int(name, type_, value)
        buf = ffi.new(ctype + " *", value)
    rc = lib.ta_ctl(name.encode(), ffi.NULL, ffi.NULL, buf, ffi.sizeof(ctype))
    if rc:
        _raise_for(rc, name)


def _as_pointer(name: str, value: Any) -> Any:
    """Pointer inputs accept an address (int) or a CFFI pointer."""
    if isinstance(value, ffi.CData):
        return ffi.cast("void *", value)
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < (1 << (8 * ffi.sizeof("void *"))):
            raise ValueError(f"{value} is not an address ({name!r})")
        return ffi.cast("void *", value)
    raise TypeError(f"{name!r} takes an address (int or cdata pointer), "
                    f"not {type(value).__name__}")


def _lookup(name: str, value: Any) -> int:
    """Pointer-keyed reads (arenas.lookup): the pointer in, an index out."""
    ptr = ffi.new("void **", _as_pointer(name, value))
    out = ffi.new("unsigned *")
    size = ffi.new("size_t *", ffi.sizeof("unsigned"))
    rc = lib.ta_ctl(name.encode(), out, size, ptr, ffi.sizeof("void *"))
    if rc:
        _raise_for(rc, name)
    return int(out[0])


def _action(name: str, value: Any) -> None:
    if value is not None:
        raise TypeError(f"{name!r} is an action and takes no value")
    parts = name.split(".")
    if parts[0] == "arena" and parts[2:] in (["reset"], ["destroy"]):
        # Arena.destroy()/reset()'s refusal while blocks are live holds
        # for the names too. Imported here: _arena imports this module.
        from ._arena import _release
        return _release(int(parts[1]), parts[2] == "destroy", False)
    rc = lib.ta_ctl(name.encode(), ffi.NULL, ffi.NULL, ffi.NULL, 0)
    if rc:
        _raise_for(rc, name)


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
    type_ = _entry(name)[0]
    if type_ == NODE:
        raise KeyError(f"{name} is a node, not a value; "
                       f"see tunalloc.ctl_children({name!r})")
    if type_ == ACTION:
        return _action(name, value)
    if type_ == POINTER:
        return _lookup(name, value)
    if value is None:
        return _read(name, type_)
    return _write(name, type_, value)
