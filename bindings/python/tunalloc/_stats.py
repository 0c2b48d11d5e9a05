"""stats(), stats_text(), stats_json() and purge().

All three read the core's one statistics walker (ta_ctl_walk, behind
ta_stats_print's JSON): stats() parses that JSON, so the dict holds exactly
the numbers the core publishes, under the same names and the same keys
(an index is its number, the merged arenas ARENAS_ALL, as in control
names and in Lua), and reading creates nothing (the walker skips arena
slots that hold no arena).
"""
import json
from typing import Any, Dict

from . import _hook

# jemalloc's MALLCTL_ARENAS_ALL: the index that names all arenas at once
# (merged stats, purge of every arena); tunalloc uses the same value.
ARENAS_ALL = 4096


def refresh() -> None:
    """Writes the epoch so the next reads see fresh statistics."""
    # The reports below need no CFFI (it cannot load in isolated
    # subinterpreters), so the control bridge is imported on use.
    from ._ctlapi import ctl
    ctl("epoch", 1)


def _report(opts: str) -> str:
    """ta_stats_print's output (it refreshes the epoch itself)."""
    return _hook.stats_report(opts)


def report(omit: str = "") -> Dict[str, Any]:
    """The core's JSON report parsed (the object inside "tunalloc"), with
    the sections the option letters name left out."""
    return json.loads(_report("J" + omit))["tunalloc"]


def _indexed(node: Dict[str, Any]) -> Dict[int, Any]:
    """JSON's index keys ("0", "1", ..., "4096") as the ints they are."""
    return {int(key): value for key, value in node.items()}


def _arena_dict(raw: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(raw)
    for table in ("bins", "lextents"):
        if table in out:
            out[table] = _indexed(out[table])
    return out


def stats() -> Dict[str, Any]:
    """Fresh statistics as a nested dict: the totals
    (``stats()["allocated"]``, "active", "resident", "mapped", ...),
    ``["arenas"][i]`` per existing arena (``["arenas"][ARENAS_ALL]``
    merged), and within each arena its ``"bins"`` (per small size class)
    and ``"lextents"`` (per large class), keyed by int index. Names and
    keys are those of the control namespace; the JSON report
    (stats_json()) is the same tree with the keys as strings."""
    doc = report()["stats"]
    arenas = doc.get("arenas", {})
    doc["arenas"] = {key: _arena_dict(value)
                     for key, value in _indexed(arenas).items()}
    return doc


def arena_stats(index: int) -> Dict[str, Any]:
    """Fresh statistics of one existing arena (stats()["arenas"][index],
    ARENAS_ALL for all merged); KeyError if no arena has that index."""
    arenas = stats()["arenas"]
    if index not in arenas:
        raise KeyError(f"no arena {index}")
    return arenas[index]


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
    return _report(_check_opts(opts).replace("J", ""))


def stats_json(opts: str = "") -> str:
    """The statistics report as JSON text (``json.loads`` it); opts as for
    stats_text()."""
    return _report(_check_opts(opts).replace("J", "") + "J")


def purge() -> None:
    """Returns every arena's unused dirty and muzzy pages to the system now,
    after flushing the calling thread's cache (and the interpreter's shared
    one) so their free blocks count as unused."""
    from ._ctlapi import ctl
    _hook.flush_cache()
    ctl("thread.tcache.flush")
    ctl(f"arena.{ARENAS_ALL}.purge")
