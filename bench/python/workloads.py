"""One benchmark workload in this (child) process, under the allocator
configuration named on the command line; prints one JSON result line.

    python bench/python/workloads.py WORKLOAD CONFIG [ITERATIONS]

Workloads are modelled on pyperformance's allocation-heavy benchmarks.
The timed part excludes interpreter start-up and allocator set-up.
"""
import copy
import ctypes
import gc
import json
import math
import os
import random
import string
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
    nodes = [Node(i) for i in range(150_000)]
    for n in nodes:
        n.children = [nodes[rng.randrange(len(nodes))] for _ in range(3)]
    return sum(len(c.name) for n in nodes for c in n.children)


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
    return free_most_and_release(rng, objs)


def free_most_and_release(rng, objs):
    """The second half of a fragmentation case: the RSS with objs built,
    then 90% of them freed at random, a collection and the allocator's
    release call, and the RSS left."""
    built = rss_bytes()
    for i in rng.sample(range(len(objs)), k=9 * len(objs) // 10):
        objs[i] = None
    gc.collect()
    release()
    return {"rss_built": built, "rss_after": rss_bytes(),
            "live": sum(o is not None for o in objs)}


def length(rng, median, sigma, lo, hi):
    """A log-normal length, clamped: text and attachment sizes in real
    corpora are roughly log-normal (many short, a long tail)."""
    return min(hi, max(lo, round(rng.lognormvariate(math.log(median), sigma))))


# fragmentation_mixed's documents, modelled on a parsed JSON export of an
# issue tracker or forum. Pairs are (min, max) of a uniform draw, quadruples
# (median, sigma, min, max) of a clamped log-normal one (length()). A record
# averages ~38 objects and ~4 KiB: by bytes, two thirds in blocks of at most
# 512 bytes (pymalloc's limit), a quarter in blocks over 1 KiB.
TITLE = (10, 80)                 # characters, uniform
BODY = (400, 1.0, 16, 16384)     # characters: median, sigma, min, max
TAGS = (0, 6)                    # tags per record, uniform; 3-12 characters
META = (2, 12)                   # metadata fields, uniform: int, float or str
SCORES = (8, 1.0, 0, 256)        # floats in the record's numeric array
COMMENTS = 0.5                   # rate of the exponential comment count
COMMENT = (120, 0.9, 4, 4096)    # comment text, characters
ATTACHED = 0.25                  # share of records with a bytes attachment
ATTACHMENT = (2048, 0.8, 64, 16384)  # its size in bytes
META_KEYS = [f"field_{k}" for k in range(32)]


def mixed_record(rng, i, text, blob):
    """One parsed document: a dict holding short and long strings, a list
    of tags, a metadata dict, a float array, comment dicts and sometimes a
    bytes attachment, so its blocks run from tens of bytes to 16 KiB.
    Strings are slices of a shared random text: new objects, ASCII like
    most parsed text."""
    def s(n):
        off = rng.randrange(len(text) - n)
        return text[off:off + n]

    def meta_value():
        kind = rng.randrange(3)
        if kind == 0:
            return rng.randrange(1 << 40)
        return rng.random() if kind == 1 else s(rng.randint(4, 24))

    doc = {"id": i, "title": s(rng.randint(*TITLE)), "body": s(length(rng, *BODY)),
           "tags": [s(rng.randint(3, 12)) for _ in range(rng.randint(*TAGS))],
           "meta": {k: meta_value() for k in rng.sample(META_KEYS, rng.randint(*META))},
           "scores": [rng.random() for _ in range(length(rng, *SCORES))],
           "comments": [{"author": s(rng.randint(5, 15)),
                         "text": s(length(rng, *COMMENT)),
                         "score": rng.randrange(-5, 100)}
                        for _ in range(min(20, int(rng.expovariate(COMMENTS))))]}
    if rng.random() < ATTACHED:
        n = length(rng, *ATTACHMENT)
        off = rng.randrange(len(blob) - n)
        doc["attachment"] = blob[off:off + n]
    return doc


def fragmentation_mixed():
    """Like fragmentation, on the graph a real program holds: 80k parsed
    documents of mixed block sizes (mixed_record), 90% of the documents
    freed at random. Survivors pin fewer pages of the large size classes,
    so what an allocator gives back shows here, unlike with small dicts."""
    rng = random.Random(3)
    text = "".join(rng.choices(string.ascii_letters + string.digits + " " * 12,
                               k=1 << 16))
    blob = rng.randbytes(1 << 16)
    docs = [mixed_record(rng, i, text, blob) for i in range(80_000)]
    return free_most_and_release(rng, docs)


def startup():
    """Does nothing: run through main() like any workload, its instruction
    count is the interpreter's start-up, allocator set-up and exit, which
    run.py --callgrind subtracts from the other workloads' counts."""
    return 0


WORKLOADS = {f.__name__: f for f in (object_graph, json_roundtrip, deep_copies,
                                    small_objects, threads, fragmentation,
                                    fragmentation_mixed, startup)}


def release():
    """Gives freed memory back the way each allocator offers: tunalloc's
    purge, jemalloc's arena purge, mimalloc's collect, glibc's trim. glibc
    is trimmed wherever it still serves malloc: under tunalloc-arena it
    holds every block over 512 bytes (only pymalloc's arenas are tunalloc's)."""
    config = sys.argv[2]
    if config == "jemalloc":
        mallctl = ctypes.CDLL(None).mallctl
        mallctl(b"arena.4096.purge", None, None, None, 0)
        return
    if config == "mimalloc":
        ctypes.CDLL(None).mi_collect(ctypes.c_bool(True))
        return
    if config.startswith("tunalloc"):
        import tunalloc
        tunalloc.purge()
    ctypes.CDLL(None).malloc_trim(0)


# Times each timed workload runs in one process. Several short timings
# per process, of which run.py keeps the least, resist the bursts of
# other load a shared machine has better than one long timing does; the
# first one also pays for the heap growing, the others run on a warm heap.
ITERATIONS = {"object_graph": 3, "json_roundtrip": 3, "deep_copies": 10,
              "small_objects": 6, "threads": 4}


def main():
    name, config = sys.argv[1], sys.argv[2]
    cpu_times, wall_times, results = [], [], []
    count = int(sys.argv[3]) if len(sys.argv) > 3 else ITERATIONS.get(name, 1)
    for _ in range(count):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        results.append(WORKLOADS[name]())
        wall_times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    if any(r != results[0] for r in results):
        raise SystemExit(f"{name}: iterations disagree: {results}")
    print(json.dumps({"workload": name, "config": config,
                      "seconds": min(wall_times), "cpu_seconds": min(cpu_times),
                      "cpu_all": cpu_times, "result": results[0]}))


if __name__ == "__main__":
    main()
