"""tunalloc demo: run CPython on tunalloc, watch its statistics while a
workload builds and drops an object graph, then tune decay and purge.

Run it with `make demo` (or `pip install . && python examples/demo.py`).
"""
import gc
import json
import random
import time

import tunalloc

MiB = 1 << 20


def mib(n):
    return f"{n / MiB:8.1f} MiB"


def show(label):
    """One line of live totals, refreshed from the allocator."""
    st = tunalloc.stats()
    print(f"  {label:<34} allocated {mib(st['allocated'])}   "
          f"active {mib(st['active'])}   resident {mib(st['resident'])}")


def build_graph(n):
    """An allocation-heavy workload: dicts, lists and strings that refer to
    each other, plus a JSON round trip."""
    nodes = [{"id": i, "name": f"node-{i}", "tags": [str(i % 7)] * 3, "edges": []}
             for i in range(n)]
    rng = random.Random(4)
    for node in nodes:
        node["edges"] = [nodes[rng.randrange(n)]["id"] for _ in range(4)]
    blob = json.dumps(nodes[: n // 10])
    return nodes, json.loads(blob)


def main():
    print("tunalloc", tunalloc.ctl("version"), "- Python objects on tunalloc\n")
    tunalloc.enable()
    st = tunalloc.status()
    print(f"enabled domains: {', '.join(st.active)} "
          f"(GIL-guarded cache for mem/obj: {st.gil_cache})\n")

    print("1. build an object graph, then drop it")
    show("at start")
    t0 = time.perf_counter()
    graph = build_graph(200_000)
    show("after building 200k nodes")
    del graph
    gc.collect()
    show("after del + gc.collect()")
    print(f"  (workload took {time.perf_counter() - t0:.2f} s)\n")

    print("2. tune: purge unused pages at once from now on")
    for arena in tunalloc.arenas:
        arena.dirty_decay_ms = 0
        arena.muzzy_decay_ms = 0
    print(f"  {tunalloc.arenas[0]!r}")
    tunalloc.purge()
    show("after tunalloc.purge()")
    print()

    print("3. a dedicated arena with a 64 MiB cap, for one piece of work")
    box = tunalloc.Arena.create(dirty_decay_ms=0, limit=64 * MiB)
    with tunalloc.use_arena(box):
        cache = {i: "x" * 200 for i in range(100_000)}
        print(f"  arena {box.index} holds {mib(box.allocated)} for {len(cache)} entries")
        try:
            hog = bytearray(100 * MiB)
        except MemoryError:
            hog = None
            print("  a 100 MiB buffer beyond the cap -> MemoryError, as configured")
    del cache, hog
    gc.collect()
    print()

    print("4. per-size-class view (the five busiest small classes)")
    merged = tunalloc.stats()["arenas"][tunalloc.ARENAS_ALL]["bins"]
    busiest = sorted(merged.items(), key=lambda kv: -kv[1]["nrequests"])[:5]
    for index, b in busiest:
        size = tunalloc.ctl(f"arenas.bin.{index}.size")
        print(f"  {size:5d}-byte blocks: {b['nrequests']:>9} requests, "
              f"{b['curregs']:>7} live")
    print()
    print("5. the full report is tunalloc.stats_text(); its first lines:")
    for line in tunalloc.stats_text("ab").splitlines()[:6]:
        print("  " + line)


if __name__ == "__main__":
    main()
