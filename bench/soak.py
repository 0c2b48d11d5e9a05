#!/usr/bin/env python3
"""Soak (issue 13 item 9): the threaded churn of bench/soak.c under each
allocator's preload, with and without fork, interleaved in one run.

Prints each allocator's RSS plateau (median RSS over the second half of
the run) and peak, with ratios to tunalloc's, and writes the runs to
bench/results/soak.json. Exits 1 if any run failed: a corrupted block, a
fork child that did not exit cleanly, a crash or a timeout fails the soak
whatever the allocator.
"""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import run  # noqa: E402  (finds the peers' preloads and runs through the launcher)

DEFAULT_ALLOCATORS = "tunalloc,jemalloc,mimalloc,glibc"
# (variant, parameters besides the run time)
VARIANTS = [
    ("fork", {"fork_ms": 20}),
    ("no fork", {"fork_ms": 0}),
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=60, help="run time of each run (default 60)")
    p.add_argument("--rounds", type=int, default=1, help="rounds, allocators interleaved")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--slots", type=int, default=4096, help="live blocks shared by the threads")
    p.add_argument("--allocators", default=DEFAULT_ALLOCATORS,
                   help=f"comma-separated, the first is the reference (default {DEFAULT_ALLOCATORS})")
    p.add_argument("--variants", default=",".join(v[0] for v in VARIANTS),
                   help="comma-separated subset of: " + ", ".join(v[0] for v in VARIANTS))
    p.add_argument("--out", default=os.path.join(HERE, "results", "soak.json"))
    args = p.parse_args()
    if min(args.seconds, args.rounds, args.threads, args.slots) < 1:
        p.error("--seconds, --rounds, --threads and --slots must be positive")
    known = [v[0] for v in VARIANTS]
    args.variants = [v for v in args.variants.split(",") if v]
    if not args.variants or any(v not in known for v in args.variants):
        p.error(f"--variants: choose among {known}")
    args.allocators = [a for a in args.allocators.split(",") if a]
    if not args.allocators:
        p.error("--allocators: name at least one")
    return args


def one_run(alloc, params, timeout):
    cmd = [run.binary("soak", alloc)] + run.argv(params)
    res = run.check_allocator(run.run_workload(cmd, run.environment(alloc), timeout), alloc)
    res.pop("rss_mib", None)
    return res


def median_of(runs, key):
    vals = [r[key] for r in runs if "error" not in r]
    return statistics.median(vals) if vals else None


def table(variant, runs, names):
    """Markdown rows: plateau and peak (MiB) and their ratios to the first
    allocator's, throughput, forks."""
    ref = names[0]
    ref_plateau, ref_peak = median_of(runs[ref], "plateau_mib"), median_of(runs[ref], "peak_mib")
    lines = [f"| {variant} | plateau MiB | ×{ref} | peak MiB | ×{ref} | live MiB | Mops/s | forks |",
             "|---|---|---|---|---|---|---|---|"]
    for name in names:
        errors = [r["error"] for r in runs[name] if "error" in r]
        if errors:
            lines.append(f"| {name} | FAIL: {errors[0]} | | | | | | |")
            continue
        plateau, peak = median_of(runs[name], "plateau_mib"), median_of(runs[name], "peak_mib")
        rate = statistics.median(r["ops"] / r["seconds"] for r in runs[name]) / 1e6
        lines.append(
            f"| {name} | {plateau:.0f} | {plateau / ref_plateau:.2f} | {peak:.0f} | "
            f"{peak / ref_peak:.2f} | {median_of(runs[name], 'live_mib'):.0f} | {rate:.2f} | "
            f"{median_of(runs[name], 'forks'):.0f} |" if ref_plateau and ref_peak else
            f"| {name} | {plateau:.0f} | | {peak:.0f} | | | {rate:.2f} | |")
    return "\n".join(lines)


def main():
    args = parse_args()
    allocs = run.allocators(args.allocators)
    names = [a for a in args.allocators if a in allocs]
    timeout = args.seconds * 3 + 60
    results = {}
    for r in range(args.rounds):
        for variant in args.variants:
            extra = dict(VARIANTS)[variant]
            params = dict(extra, seconds=args.seconds, threads=args.threads, slots=args.slots)
            for name in names:
                res = one_run(allocs[name], params, timeout)
                results.setdefault(variant, {}).setdefault(name, []).append(res)
                shown = res.get("error") or (f"plateau {res['plateau_mib']:.0f} MiB, "
                                             f"peak {res['peak_mib']:.0f} MiB")
                print(f"  [{r + 1}/{args.rounds}] {variant:8s} {name:10s} {shown}",
                      file=sys.stderr)
    out = "\n\n".join(table(v, results[v], names) for v in args.variants)
    print(out)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"command": " ".join(sys.argv), "seconds": args.seconds,
                   "rounds": args.rounds, "threads": args.threads, "slots": args.slots,
                   "runs": results, "table": out}, f, indent=1)
    failed = [(v, n) for v, rs in results.items() for n, runs in rs.items()
              if any("error" in x for x in runs)]
    if failed:
        print(f"soak: failed runs: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
