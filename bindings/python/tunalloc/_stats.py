"""stats(), stats_text(), stats_json() and purge().

stats() walks the "stats" subtree of the namespace enumeration, so the
dict holds exactly the numbers the core publishes, under the same names.
"""
import errno as _errno
from typing import Any, Dict, Iterable, Optional

from . import _ctlapi
from ._ctl import ffi, lib
from ._ctlapi import ctl

# jemalloc's MALLCTL_ARENAS_ALL: the index that names all arenas at once
# (merged stats, purge of every arena); tunalloc uses the same value.
ARENAS_ALL = 4096

# Which count bounds each index node of the stats tree.
_INDEX_BOUNDS = {"arenas": "arenas.narenas", "bins": "arenas.nbins",
                 "lextents": "arenas.nlextents"}

# Errors meaning "this index holds nothing now" (empty or destroyed slot).
_ABSENT = (_errno.ENOENT, _errno.EFAULT, _errno.EINVAL)


def _indexes(parent: str) -> Iterable[Any]:
    """The keys an index node expands to: existing arenas (plus "all" for
    the merged totals), or every bin / large class. Index nodes without a
    known count are left out rather than guessed."""
    bound = _INDEX_BOUNDS.get(parent)
    if bound is None:   # an index node this module does not know how to size
        return []
    count = ctl(bound)
    if parent != "arenas":
        return range(count)
    live = [i for i in range(count) if lib.ta_arena_get(i) != ffi.NULL]
    return live + ["all"]


def _walk(node: str) -> Dict[Any, Any]:
    """Reads every readable value under node into a nested dict."""
    out: Dict[Any, Any] = {}
    parent = node.rsplit(".", 1)[-1]
    for kid in _ctlapi.ctl_children(node):
        if kid.name.startswith("<"):
            for key in _indexes(parent):
                index = ARENAS_ALL if key == "all" else key
                sub = _walk_optional(f"{node}.{index}")
                if sub is not None:
                    out[key] = sub
        elif kid.type == "node":
            out[kid.name] = _walk(f"{node}.{kid.name}")
        elif kid.readable and kid.type not in ("action", "pointer"):
            _read_leaf(out, f"{node}.{kid.name}", kid.name)
    return out


def _read_leaf(out: Dict[Any, Any], name: str, key: str) -> None:
    """Stores one value; a name the enumeration lists but this index does
    not have (ENOENT, e.g. the peak of the merged arenas) is left out."""
    try:
        out[key] = ctl(name)
    except KeyError:
        pass


def _walk_optional(node: str) -> Optional[Dict[Any, Any]]:
    """Like _walk, but None for an index that names nothing right now."""
    try:
        return _walk(node)
    except (KeyError, ValueError):
        return None
    except OSError as exc:
        if exc.errno in _ABSENT:
            return None
        raise


def refresh() -> None:
    """Writes the epoch so the next reads see fresh statistics."""
    ctl("epoch", 1)


def stats() -> Dict[Any, Any]:
    """Refreshes the statistics and returns them as a nested dict: the
    totals (``stats()["allocated"]``, "active", "resident", "mapped", ...),
    ``["arenas"][i]`` per arena (``["arenas"]["all"]`` merged), and within
    each arena its ``"bins"`` (per small size class) and ``"lextents"``
    (per large class). Names are those of the control namespace."""
    refresh()
    return _walk("stats")


def _print(opts: str) -> str:
    chunks: list = []
    handle = ffi.new_handle(chunks)
    lib.ta_stats_print(lib._tunalloc_write, handle, opts.encode())
    return "".join(chunks)


@ffi.def_extern()
def _tunalloc_write(opaque, text):
    """Collects ta_stats_print's output into the caller's list."""
    ffi.from_handle(opaque).append(ffi.string(text).decode("utf-8", "replace"))


def _check_opts(opts: str) -> str:
    if not isinstance(opts, str):
        raise TypeError(f"opts must be a str, not {type(opts).__name__}")
    bad = set(opts) - set("Jgmabl")
    if bad:
        raise ValueError(f"unknown stats option letters: {''.join(sorted(bad))}"
                         " (known: J g m a b l)")
    return opts


def stats_text(opts: str = "") -> str:
    """The human-readable statistics report (as malloc_stats_print); opts
    letters omit sections: g general, m merged, a per arena, b bins,
    l large classes."""
    refresh()
    return _print(_check_opts(opts).replace("J", ""))


def stats_json(opts: str = "") -> str:
    """The statistics report as JSON text (``json.loads`` it); opts as for
    stats_text()."""
    refresh()
    return _print(_check_opts(opts).replace("J", "") + "J")


def purge() -> None:
    """Returns every arena's unused dirty and muzzy pages to the system now,
    after flushing the calling thread's cache (and the interpreter's shared
    one) so their free blocks count as unused."""
    from . import _hook
    _hook.flush_cache()
    ctl("thread.tcache.flush")
    ctl(f"arena.{ARENAS_ALL}.purge")
