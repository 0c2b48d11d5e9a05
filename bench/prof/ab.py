#!/usr/bin/env python3
"""Profiling's CPU cost in two builds at once (issue 16): bench/python's
workloads, profiling off and on, under two interpreters that hold two
builds of the package (say main's and a branch's, each in a virtualenv),
all four runs of a workload in every round, the order reversed every other
round. A loaded machine moves every timing; interleaved, it moves both
builds alike, so their on/off ratios stay comparable.

    python3 bench/prof/ab.py --python A=/path/a/python --python B=/path/b/python [--rounds N]

Prints each build's least-CPU-time ratio on/off per workload (and of the
medians) and their geometric mean, as bench/prof/run.py's python part does.
"""
import argparse
import json
import sys

import run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", action="append", required=True, metavar="NAME=PATH",
                    help="a build's interpreter (give two or more)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", help="also write the results as JSON here")
    args = ap.parse_args()
    builds = dict(p.split("=", 1) for p in args.python)
    times = {(b, w, p): [] for b in builds for w in run.PY_WORKLOADS for p in (False, True)}
    for r in range(args.rounds):
        order = [(b, p) for b in builds for p in (False, True)]
        if r % 2:
            order.reverse()
        for w in run.PY_WORKLOADS:
            for b, p in order:
                run.sys.executable = builds[b]  # py_child runs sys.executable
                times[(b, w, p)] += run.py_child(w, p)["cpu_all"]
        print(f"round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
    res = {}
    for b in builds:
        res[b] = run.summarise({(w, p): times[(b, w, p)] for w in run.PY_WORKLOADS
                                for p in (False, True)}, run.PY_WORKLOADS)
        print(f"{b}: least CPU time on/off, geometric mean x{res[b]['geomean_ratio']:.3f}")
        for w, v in res[b]["workloads"].items():
            print(f"  {w:15s} off {v['off_s'] * 1000:7.1f} ms  on {v['on_s'] * 1000:7.1f} ms"
                  f"  x{v['ratio']:.3f}  (medians x{v['median_ratio']:.3f})")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
