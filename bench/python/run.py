"""Python allocator benchmark (issue 4): pymalloc vs tunalloc on all
domains vs tunalloc under pymalloc's arenas only vs PYTHONMALLOC=malloc
with jemalloc and mimalloc preloaded.

    python bench/python/run.py [--rounds N] [--out bench/results/python]
    python bench/python/run.py --callgrind deep_copies,threads   (instructions)

Every (workload, configuration) runs in a fresh interpreter; rounds are
interleaved so drift hits all configurations alike. The time reported is
the least of the rounds' CPU times (user+system, all threads): the work is
deterministic and other load on a shared machine can only add to it;
medians and wall times are in the JSON. Ratios are to pymalloc; peak RSS
is the child's ru_maxrss (os.wait4), median.
Writes OUT.md (Markdown table) and OUT.json.
"""
import argparse
import concurrent.futures
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import callgrind  # noqa: E402  (the suite's instruction counter)
WORKLOADS = ["object_graph", "json_roundtrip", "deep_copies", "small_objects",
             "threads"]
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
MIMALLOC = "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"


def configs():
    """Name -> environment additions; preloaded allocators only if present."""
    out = {
        "pymalloc": {},
        "tunalloc": {"TUNALLOC_PYTHON": "raw,mem,obj"},
        "tunalloc-arena": {"TUNALLOC_PYTHON": "arena"},
    }
    if os.path.exists(JEMALLOC):
        out["jemalloc"] = {"PYTHONMALLOC": "malloc", "LD_PRELOAD": JEMALLOC}
    if os.path.exists(MIMALLOC):
        out["mimalloc"] = {"PYTHONMALLOC": "malloc", "LD_PRELOAD": MIMALLOC}
    return out


def run_one(workload, config, extra_env):
    """(result dict, peak RSS in bytes) of one child run."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TUNALLOC_PYTHON", "PYTHONMALLOC", "LD_PRELOAD")}
    env.update(extra_env)
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "workloads.py"),
                             workload, config], env=env, stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{workload}/{config} failed with {proc.returncode}")
    return json.loads(out), usage.ru_maxrss * 1024


def measure(rounds):
    confs = configs()
    runs = {(w, c): [] for w in WORKLOADS + ["fragmentation"] for c in confs}
    for r in range(rounds):
        for w in WORKLOADS + ["fragmentation"]:
            order = list(confs) if r % 2 == 0 else list(reversed(confs))
            for c in order:
                res, peak = run_one(w, c, confs[c])
                res["peak_rss"] = peak
                runs[(w, c)].append(res)
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    return list(confs), runs


def check_results_agree(confs, runs):
    """Every configuration must compute the same answers."""
    for w in WORKLOADS:
        answers = {json.dumps(x["result"]) for c in confs for x in runs[(w, c)]}
        if len(answers) != 1:
            raise SystemExit(f"{w}: configurations disagree: {answers}")


def summarise(confs, runs):
    table = {}
    for w in WORKLOADS:
        base = min(x["cpu_seconds"] for x in runs[(w, "pymalloc")])
        for c in confs:
            t = min(x["cpu_seconds"] for x in runs[(w, c)])
            median = statistics.median(x["cpu_seconds"] for x in runs[(w, c)])
            wall = statistics.median(x["seconds"] for x in runs[(w, c)])
            peak = statistics.median(x["peak_rss"] for x in runs[(w, c)])
            table[(w, c)] = {"seconds": t, "median_seconds": median,
                             "wall_seconds": wall, "ratio": t / base,
                             "peak_rss": peak}
    geo = {c: math.exp(statistics.mean(math.log(table[(w, c)]["ratio"])
                                       for w in WORKLOADS)) for c in confs}
    frag = {}
    for c in confs:
        xs = runs[("fragmentation", c)]
        frag[c] = {k: statistics.median(x["result"][k] for x in xs)
                   for k in ("rss_built", "rss_after")}
        frag[c]["peak_rss"] = statistics.median(x["peak_rss"] for x in xs)
    return table, geo, frag


def mib(n):
    return f"{n / (1 << 20):.0f}"


def markdown(confs, table, geo, frag, rounds, command):
    lines = ["# Python allocator benchmark", "",
             f"`{command}` — {platform.python_implementation()} "
             f"{platform.python_version()}, {os.cpu_count()} CPUs, "
             f"{rounds} interleaved rounds; least CPU time of the rounds and its "
             "ratio to pymalloc (lower is better), median peak RSS in MiB.", "",
             "| workload | " + " | ".join(confs) + " |",
             "|---|" + "---|" * len(confs)]
    for w in WORKLOADS:
        cells = [f"{table[(w, c)]['seconds'] * 1000:.0f} ms ×{table[(w, c)]['ratio']:.2f}"
                 f" / {mib(table[(w, c)]['peak_rss'])}" for c in confs]
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    lines.append("| **geometric mean** | " +
                 " | ".join(f"**×{geo[c]:.3f}**" for c in confs) + " |")
    lines += ["", "Fragmentation: 1M small dicts built, 90% freed at random, "
              "then gc.collect() and each allocator's release call "
              "(tunalloc.purge(), jemalloc arena.4096.purge, mi_collect, "
              "malloc_trim). RSS in MiB.", "",
              "| | " + " | ".join(confs) + " |", "|---|" + "---|" * len(confs),
              "| RSS built | " + " | ".join(mib(frag[c]["rss_built"]) for c in confs) + " |",
              "| RSS after release | " + " | ".join(mib(frag[c]["rss_after"]) for c in confs) + " |",
              "| kept / built | " + " | ".join(
                  f"{frag[c]['rss_after'] / frag[c]['rss_built']:.0%}" for c in confs) + " |",
              ""]
    return "\n".join(lines)


def instructions(workload, config, extra_env):
    """Instructions of one whole child run (start-up included)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TUNALLOC_PYTHON", "PYTHONMALLOC", "LD_PRELOAD")}
    env.update(extra_env)
    return callgrind.total([sys.executable, os.path.join(HERE, "workloads.py"),
                            workload, config], env)


def callgrind_table(workloads, out):
    """Each workload once per configuration, as many at a time as CPUs."""
    confs = configs()
    jobs = [(w, c, confs[c]) for w in workloads for c in confs]
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        counts = dict(zip([(w, c) for w, c, _ in jobs],
                          pool.map(lambda j: instructions(*j), jobs)))
    lines = ["# Python allocator benchmark: instruction counts", "",
             f"`python3 bench/python/run.py --callgrind {','.join(workloads)}`: "
             "millions of instructions for a whole run (interpreter start-up "
             "included) under `valgrind --tool=callgrind`, and the ratio to "
             "pymalloc.", "",
             "| workload | " + " | ".join(confs) + " |", "|---|" + "---|" * len(confs)]
    for w in workloads:
        base = counts[(w, "pymalloc")]
        lines.append(f"| {w} | " + " | ".join(
            f"{counts[(w, c)] / 1e6:.1f} ×{counts[(w, c)] / base:.3f}" for c in confs) + " |")
    text = "\n".join(lines) + "\n"
    with open(out + "_callgrind.md", "w") as f:
        f.write(text)
    with open(out + "_callgrind.json", "w") as f:
        json.dump({f"{w}/{c}": n for (w, c), n in counts.items()}, f, indent=1)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=os.path.join("bench", "results", "python"))
    ap.add_argument("--callgrind", metavar="WORKLOADS",
                    help="comma-separated workloads to count instructions of, "
                         "instead of timing (OUT_callgrind.md)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")
    if args.callgrind:
        chosen = args.callgrind.split(",")
        unknown = [w for w in chosen if w not in WORKLOADS]
        if unknown:
            ap.error(f"unknown workloads: {', '.join(unknown)}")
        callgrind_table(chosen, args.out)
        return
    command = "python3 bench/python/run.py " + " ".join(sys.argv[1:])
    start = time.time()
    confs, runs = measure(args.rounds)
    check_results_agree(confs, runs)
    table, geo, frag = summarise(confs, runs)
    text = markdown(confs, table, geo, frag, args.rounds, command.strip())
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".md", "w") as f:
        f.write(text)
    with open(args.out + ".json", "w") as f:
        json.dump({"command": command.strip(), "rounds": args.rounds,
                   "configs": confs, "seconds_total": time.time() - start,
                   "runs": {f"{w}/{c}": v for (w, c), v in runs.items()},
                   "geomean_ratio": geo, "fragmentation": frag}, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
