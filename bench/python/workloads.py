"""One benchmark workload in this (child) process, under the allocator
configuration named on the command line; prints one JSON result line.

    python bench/python/workloads.py WORKLOAD CONFIG

Workloads are modelled on pyperformance's allocation-heavy benchmarks.
The timed part excludes interpreter start-up and allocator set-up.
"""
import copy
import ctypes
import gc
import json
import os
import random
import sys
import threading
import time

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes():
    """Current resident set (not the peak), from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class Node:
    """A small object with a dict, as in object-graph benchmarks."""

    def __init__(self, i):
        self.id = i
        self.name = "n" + str(i)
        self.children = []


def object_graph():
    """Builds and walks a random graph of class instances (deltablue-like)."""
    rng = random.Random(1)
    total = 0
    for _ in range(3):
        nodes = [Node(i) for i in range(150_000)]
        for n in nodes:
            n.children = [nodes[rng.randrange(len(nodes))] for _ in range(3)]
        total += sum(len(c.name) for n in nodes for c in n.children)
    return total


def json_roundtrip():
    """Serialises and parses nested documents (json_dumps / json_loads)."""
    doc = [{"id": i, "name": f"item-{i}", "tags": ["a", "b", str(i)],
            "nested": {"x": i * 1.5, "y": [i, i + 1, None, True]}}
           for i in range(20_000)]
    n = 0
    for _ in range(6):
        n += len(json.loads(json.dumps(doc)))
    return n


def deep_copies():
    """copy.deepcopy of nested containers (pyperformance's deepcopy)."""
    base = {"list": [list(range(20)) for _ in range(50)],
            "dict": {str(i): (i, str(i), [i]) for i in range(200)},
            "text": "x" * 100}
    return sum(len(copy.deepcopy(base)["dict"]) for _ in range(150))


def small_objects():
    """Churn of tuples, lists, strings and dicts of mixed sizes."""
    keep = []
    for i in range(600_000):
        t = (i, str(i), [i] * (i % 5))
        if i % 10 == 0:
            keep.append({"k": t, "s": "v" * (i % 40)})
        if len(keep) > 20_000:
            keep = keep[10_000:]
    return len(keep)


def threads():
    """Four threads churning dicts, lists and strings at once."""
    def work(seed, out):
        d = {}
        for i in range(120_000):
            k = f"{seed}:{i % 3000}"
            d[k] = [k, i, str(i * seed)]
            if i % 2:
                d.pop(f"{seed}:{(i * 7) % 3000}", None)
        out.append(len(d))
    out = []
    ts = [threading.Thread(target=work, args=(s, out)) for s in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(out)


def fragmentation():
    """Builds a large graph, frees 90% of it at random, then releases
    what the allocator can; reports the RSS left."""
    rng = random.Random(2)
    objs = [{"i": i, "s": str(i) * 3, "l": [i, i]} for i in range(1_000_000)]
    built = rss_bytes()
    for i in rng.sample(range(len(objs)), k=9 * len(objs) // 10):
        objs[i] = None
    gc.collect()
    release()
    return {"rss_built": built, "rss_after": rss_bytes(),
            "live": sum(o is not None for o in objs)}


WORKLOADS = {f.__name__: f for f in (object_graph, json_roundtrip, deep_copies,
                                    small_objects, threads, fragmentation)}


def release():
    """Gives freed memory back the way each allocator offers: tunalloc's
    purge, jemalloc's arena purge, mimalloc's collect, glibc's trim."""
    config = sys.argv[2]
    if config.startswith("tunalloc"):
        import tunalloc
        tunalloc.purge()
    elif config == "jemalloc":
        mallctl = ctypes.CDLL(None).mallctl
        mallctl(b"arena.4096.purge", None, None, None, 0)
    elif config == "mimalloc":
        ctypes.CDLL(None).mi_collect(ctypes.c_bool(True))
    else:
        ctypes.CDLL(None).malloc_trim(0)


def main():
    name, config = sys.argv[1], sys.argv[2]
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    result = WORKLOADS[name]()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"workload": name, "config": config, "seconds": elapsed,
                      "cpu_seconds": cpu, "result": result}))


if __name__ == "__main__":
    main()
