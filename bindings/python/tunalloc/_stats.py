"""stats(), stats_text(), stats_json() and purge().

stats() and the JSON report come from the core's one statistics walker
(ta_ctl_walk): stats() has it build the nested dicts in C (one call, one
object per value, no JSON text to print and parse), so the dict holds
exactly the numbers the JSON report publishes, under the same names, with
index keys as ints (an arena's number, the merged arenas ARENAS_ALL), as
in control names and in Lua. Reading creates nothing: the walker skips
arena slots that hold no arena.
"""
from typing import Any, Dict

from . import _hook
from ._ctlapi import ctl

# jemalloc's MALLCTL_ARENAS_ALL: the index that names all arenas at once
# (merged stats, purge of every arena); tunalloc uses the same value.
ARENAS_ALL: int = _hook.ARENAS_ALL


def refresh() -> None:
    """Writes the epoch so the next reads see fresh statistics."""
    ctl("epoch", 1)


def tree(node: str = "stats", omit: str = "") -> Dict[Any, Any]:
    """Fresh values under node ("" for everything the JSON report holds)
    as nested dicts, with the sections the option letters name left out
    (g general, m merged arenas, a each arena, b bins, l large classes).
    KeyError for an unknown node or a value."""
    return _hook.stats_tree(node, omit)


def stats() -> Dict[str, Any]:
    """Fresh statistics as a nested dict: the totals
    (``stats()["allocated"]``, "active", "resident", "mapped", ...),
    ``["arenas"][i]`` per existing arena (``["arenas"][ARENAS_ALL]``
    merged), and within each arena its ``"bins"`` (per small size class)
    and ``"lextents"`` (per large class), keyed by int index. Names and
    keys are those of the control namespace; the JSON report
    (stats_json()) is the same tree with the keys as strings."""
    return tree()


def arena_stats(index: int) -> Dict[str, Any]:
    """Fresh statistics of one existing arena (stats()["arenas"][index],
    ARENAS_ALL for all merged); KeyError if no arena has that index."""
    try:
        found = tree(f"stats.arenas.{index}")
    except KeyError:
        found = {}
    if not found:
        raise KeyError(f"no arena {index}")
    return found


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
    return _hook.stats_report(_check_opts(opts).replace("J", ""))


def stats_json(opts: str = "") -> str:
    """The statistics report as JSON text (``json.loads`` it); opts as for
    stats_text()."""
    return _hook.stats_report(_check_opts(opts).replace("J", "") + "J")


def purge() -> None:
    """Returns every arena's unused dirty and muzzy pages to the system now,
    after flushing the calling thread's cache (and the interpreter's shared
    one) so their free blocks count as unused."""
    _hook.flush_cache()
    ctl("thread.tcache.flush")
    ctl(f"arena.{ARENAS_ALL}.purge")
