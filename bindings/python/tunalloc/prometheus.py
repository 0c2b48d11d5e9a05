"""tunalloc's statistics for prometheus_client (an optional extra).

    import tunalloc.prometheus
    tunalloc.prometheus.register()     # adds the collector to the default registry

Each scrape reads the core's statistics once, as stats() does (one walk
in C; bench/python/stats_cost.py), and exports:

- totals: ``tunalloc_{allocated,active,resident,mapped,retained,metadata}_bytes``;
- per arena (label ``arena``): ``tunalloc_arena_allocated_bytes`` (label
  ``kind`` small/large), ``tunalloc_arena_bytes`` (label ``state``
  active/dirty/muzzy: pages in that state), ``tunalloc_arena_threads``,
  ``tunalloc_arena_allocations_total`` and ``..._deallocations_total``
  (label ``kind``), ``tunalloc_arena_purged_pages_total`` (label ``state``
  dirty/muzzy);
- per size class, all arenas merged (labels ``size`` in bytes and ``kind``
  small/large): ``tunalloc_size_class_allocations_total``,
  ``..._deallocations_total``, ``..._requests_total`` and the live count
  ``tunalloc_size_class_live`` (regions for small classes, extents for
  large ones). Large classes appear once they have been used.
"""
from typing import Any, Dict, Iterator, Optional

from ._stats import ARENAS_ALL, tree

_registered: Dict[int, "TunallocCollector"] = {}


def _families() -> Any:
    try:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    except ImportError as exc:
        raise ImportError("tunalloc.prometheus needs prometheus_client "
                          "(pip install tunalloc[prometheus])") from exc
    return CounterMetricFamily, GaugeMetricFamily


class TunallocCollector:
    """A prometheus_client collector reading tunalloc's statistics at each
    scrape."""

    def __init__(self) -> None:
        self._counter, self._gauge = _families()

    def collect(self) -> Iterator[Any]:
        doc = tree("")
        stats, info = doc["stats"], doc["arenas"]
        page = info["page"]
        gauge = self._gauge
        for key in ("allocated", "active", "resident", "mapped", "retained", "metadata"):
            yield gauge(f"tunalloc_{key}_bytes", f"tunalloc stats.{key}", value=stats[key])
        arenas = {k: v for k, v in stats.get("arenas", {}).items() if k != ARENAS_ALL}
        yield from self._arena_families(arenas, page)
        merged = stats.get("arenas", {}).get(ARENAS_ALL)
        if merged is not None:
            yield from self._class_families(merged, info)

    def _arena_families(self, arenas: Dict[int, Any], page: int) -> Iterator[Any]:
        gauge, counter = self._gauge, self._counter
        allocated = gauge("tunalloc_arena_allocated_bytes", "bytes in live blocks",
                          labels=["arena", "kind"])
        memory = gauge("tunalloc_arena_bytes", "bytes of pages by state",
                       labels=["arena", "state"])
        threads = gauge("tunalloc_arena_threads", "threads assigned", labels=["arena"])
        nmalloc = counter("tunalloc_arena_allocations", "allocations served",
                          labels=["arena", "kind"])
        ndalloc = counter("tunalloc_arena_deallocations", "deallocations",
                          labels=["arena", "kind"])
        purged = counter("tunalloc_arena_purged_pages", "pages purged",
                         labels=["arena", "state"])
        for number, a in sorted(arenas.items()):
            index = str(number)
            for kind in ("small", "large"):
                allocated.add_metric([index, kind], a[kind]["allocated"])
                nmalloc.add_metric([index, kind], a[kind]["nmalloc"])
                ndalloc.add_metric([index, kind], a[kind]["ndalloc"])
            for state in ("active", "dirty", "muzzy"):
                memory.add_metric([index, state], a["p" + state] * page)
            threads.add_metric([index], a["nthreads"])
            for state in ("dirty", "muzzy"):
                purged.add_metric([index, state], a[f"{state}_purged"])
        yield from (allocated, memory, threads, nmalloc, ndalloc, purged)

    def _class_families(self, merged: Dict[str, Any], info: Dict[str, Any]) -> Iterator[Any]:
        gauge, counter = self._gauge, self._counter
        names = ("allocations", "deallocations", "requests")
        counters = {name: counter(f"tunalloc_size_class_{name}", f"{name} by size class",
                                  labels=["size", "kind"]) for name in names}
        live = gauge("tunalloc_size_class_live", "live regions (small) or extents (large)",
                     labels=["size", "kind"])
        tables = (("small", merged.get("bins", {}), info["bin"], "curregs"),
                  ("large", merged.get("lextents", {}), info["lextent"], "curlextents"))
        for kind, rows, sizes, live_key in tables:
            for index, row in sorted(rows.items()):
                if kind == "large" and row["nmalloc"] == 0:
                    continue
                labels = [str(sizes[index]["size"]), kind]
                for name, key in zip(names, ("nmalloc", "ndalloc", "nrequests")):
                    counters[name].add_metric(labels, row[key])
                live.add_metric(labels, row[live_key])
        yield from counters.values()
        yield live


def register(registry: Optional[Any] = None) -> TunallocCollector:
    """Adds tunalloc's collector to registry (prometheus_client's default
    REGISTRY if None) and returns it; registering again returns the same
    collector."""
    _families()
    if registry is None:
        from prometheus_client import REGISTRY
        registry = REGISTRY
    collector = _registered.get(id(registry))
    if collector is None:
        collector = TunallocCollector()
        registry.register(collector)
        _registered[id(registry)] = collector
    return collector


def unregister(registry: Optional[Any] = None) -> None:
    """Removes the collector register() added to registry."""
    if registry is None:
        from prometheus_client import REGISTRY
        registry = REGISTRY
    collector = _registered.pop(id(registry), None)
    if collector is not None:
        registry.unregister(collector)
