"""What reading the statistics costs (issue 15 item 4): tunalloc.stats(),
stats_json() and stats_text() with N arenas that each hold live blocks
of small and large classes.

    python bench/python/stats_cost.py [--arenas 8,64] [--reps 30]
    python bench/python/stats_cost.py --callgrind [--arenas 8,64] [--reps 10]

Prints, per arena count, the median and least wall time of each call in
ms (--reps calls after one warm-up call), and checks the arena list is
the same before and after the timed calls (reading creates nothing).
--callgrind prints instructions per call instead, which machine load
does not move: each call's run under valgrind's callgrind less a run
that populates the same arenas and calls nothing, over the calls made.
"""
import argparse
import json
import os
import statistics
import sys
import time

import tunalloc
from tunalloc._ctl import lib

HERE = os.path.dirname(os.path.abspath(__file__))
CALLS = {"stats": tunalloc.stats, "stats_json": tunalloc.stats_json,
         "stats_text": tunalloc.stats_text, "none": lambda: None}


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


def counted(count, reps):
    """Instructions per call of each call with count arenas."""
    sys.path.insert(0, os.path.dirname(HERE))
    import callgrind  # the suite's instruction counter (bench/callgrind.py)

    def run(call):
        return callgrind.total([sys.executable, os.path.abspath(__file__), "--only", call,
                                "--arenas", str(count), "--reps", str(reps)])
    base = run("none")
    return {call: (run(call) - base) / (reps + 1) for call in CALLS if call != "none"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arenas", default="8,64")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--callgrind", action="store_true",
                    help="instructions per call instead of times")
    ap.add_argument("--only", choices=sorted(CALLS),
                    help="(for --callgrind) populate, then make one call --reps + 1 times")
    args = ap.parse_args()
    if args.only:
        populate(int(args.arenas), True)
        for _ in range(args.reps + 1):
            CALLS[args.only]()
        return
    if args.callgrind:
        print(f"{'arenas':>6} {'call':<12} {'Minstr/call':>12} {'vs text':>8}")
        for count in sorted(int(n) for n in args.arenas.split(",")):
            per = counted(count, args.reps)
            for call, n in per.items():
                print(f"{count:>6} {call:<12} {n / 1e6:>12.2f} "
                      f"{n / per['stats_text']:>7.2f}x")
        return
    made = 0
    print(f"{'arenas':>6} {'call':<12} {'median ms':>10} {'min ms':>8}")
    for count in sorted(int(n) for n in args.arenas.split(",")):
        populate(count - made, made == 0)
        made = count
        before = arena_keys()
        for name, fn in CALLS.items():
            if name == "none":
                continue
            med, low = timed(fn, args.reps)
            print(f"{count:>6} {name:<12} {med:>10.2f} {low:>8.2f}")
        assert arena_keys() == before, "reading the statistics created arenas"


if __name__ == "__main__":
    main()
