"""What reading the statistics costs (issue 15 item 4): tunalloc.stats(),
stats_json() and stats_text() with N arenas that each hold live blocks
of small and large classes.

    python bench/python/stats_cost.py [--arenas 8,64] [--reps 30]

Prints, per arena count, the median wall time of each call in ms (the
least of --reps after one warm-up call), and checks the arena list is
the same before and after the timed calls (reading creates nothing).
"""
import argparse
import json
import statistics
import time

import tunalloc
from tunalloc._ctl import lib


def arena_keys():
    return sorted(json.loads(tunalloc.stats_json("gmbl"))["tunalloc"]["stats"]["arenas"])


def populate(count, first):
    """count more arenas (arena 0 among them if first), each with live
    blocks of a spread of small and large classes, so every report has
    rows to print."""
    arenas = [lib.ta_arena_get(0)] if first else []
    arenas += [lib.ta_arena_get(tunalloc.Arena.create().index)
               for _ in range(count - len(arenas))]
    sizes = [16, 48, 200, 1000, 4000, 16000, 40000, 200000]
    return [lib.ta_arena_malloc(a, s) for a in arenas for s in sizes for _ in range(4)]


def timed(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, min(times) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arenas", default="8,64")
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    made = 0
    print(f"{'arenas':>6} {'call':<12} {'median ms':>10} {'min ms':>8}")
    for count in sorted(int(n) for n in args.arenas.split(",")):
        populate(count - made, made == 0)
        made = count
        before = arena_keys()
        for fn in (tunalloc.stats, tunalloc.stats_json, tunalloc.stats_text):
            med, low = timed(fn, args.reps)
            print(f"{count:>6} {fn.__name__:<12} {med:>10.2f} {low:>8.2f}")
        assert arena_keys() == before, "reading the statistics created arenas"


if __name__ == "__main__":
    main()
