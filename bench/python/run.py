"""Python allocator benchmark (issue 4): pymalloc vs tunalloc on all
domains vs tunalloc under pymalloc's arenas only vs PYTHONMALLOC=malloc
with jemalloc and mimalloc preloaded.

    python bench/python/run.py [--rounds N] [--out bench/results/python]
    python bench/python/run.py --callgrind deep_copies,threads   (instructions)
    python bench/python/run.py --pythons all   (3.11, 3.12 and 3.13 interleaved)

Every (workload, configuration) runs in a fresh interpreter; rounds are
interleaved so drift hits all configurations alike. Each child times its
workload several times (workloads.ITERATIONS); the time reported is the
least CPU time (user+system, all threads) of all those timings over all
rounds: the work is deterministic and other load on a shared machine can
only add to it. Medians of the children's least times, and wall times,
are in the JSON. Ratios are to pymalloc; peak RSS
is the child's ru_maxrss (os.wait4), median. The fragmentation cases run in
the same rounds and report the median RSS built and left after release.
Writes OUT.md (Markdown tables) and OUT.json; --callgrind writes
OUT_callgrind.md and .json, each workload's instructions less those of the
empty `startup` workload under the same configuration. --pythons runs the
children under several interpreters (each with tunalloc installed), their
runs interleaved in the same rounds, one table per interpreter.
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
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
import callgrind  # noqa: E402  (the suite's instruction counter)
WORKLOADS = ["object_graph", "json_roundtrip", "deep_copies", "small_objects",
             "threads"]
RELEASE = ("then gc.collect() and each allocator's release call (jemalloc "
           "arena.4096.purge, mi_collect; tunalloc.purge() under tunalloc and "
           "tunalloc-arena; malloc_trim wherever glibc still serves malloc: "
           "pymalloc, tunalloc, tunalloc-arena). RSS in MiB.")
# Fragmentation case -> what it builds and frees (workloads.py has the details).
FRAGMENTATION = {
    "fragmentation": "1M small dicts (an int, a short str, a 2-list each) built, "
                     "90% freed at random, " + RELEASE,
    "fragmentation_mixed": "80k parsed documents built (~38 objects and ~4 KiB "
                           "each: dicts, lists, floats, strs and bytes of "
                           "log-normal lengths, blocks of tens of bytes to 16 KiB), "
                           "90% of the documents freed at random, " + RELEASE,
}
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
MIMALLOC = "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"


def configs(only=None):
    """Name -> environment additions; preloaded allocators only if present;
    only the names in `only` (pymalloc, the base of the ratios, always)."""
    out = {
        "pymalloc": {},
        "tunalloc": {"TUNALLOC_PYTHON": "raw,mem,obj"},
        "tunalloc-arena": {"TUNALLOC_PYTHON": "arena"},
    }
    if os.path.exists(JEMALLOC):
        out["jemalloc"] = {"PYTHONMALLOC": "malloc", "LD_PRELOAD": JEMALLOC}
    if os.path.exists(MIMALLOC):
        out["mimalloc"] = {"PYTHONMALLOC": "malloc", "LD_PRELOAD": MIMALLOC}
    if only:
        out = {k: v for k, v in out.items() if k == "pymalloc" or k in only}
    return out


def interpreters(spec):
    """Version label -> executable of the interpreters the children run
    under: this one (spec empty), every one tools/pythons.sh finds
    ("all"), or a comma-separated list of executables."""
    if not spec:
        exes = [sys.executable]
    elif spec == "all":
        listed = subprocess.run(["bash", os.path.join(ROOT, "tools", "pythons.sh")],
                                capture_output=True, text=True, check=True).stdout
        exes = [line.split(":", 1)[1] for line in listed.split()]
    else:
        exes = spec.split(",")
    out = {}
    for exe in exes:
        version = subprocess.run([exe, "-c", "import platform; print(platform.python_version())"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        out[version] = exe
    return out


def child_env(extra_env):
    env = {k: v for k, v in os.environ.items()
           if k not in ("TUNALLOC_PYTHON", "PYTHONMALLOC", "LD_PRELOAD")}
    env.update(extra_env)
    return env


def run_one(python, workload, config, extra_env):
    """(result dict, peak RSS in bytes) of one child run."""
    proc = subprocess.Popen([python, os.path.join(HERE, "workloads.py"),
                             workload, config], env=child_env(extra_env),
                            stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{workload}/{config} ({python}) failed with {proc.returncode}")
    return json.loads(out), usage.ru_maxrss * 1024


def measure(rounds, only, pythons):
    """Runs keyed (interpreter label, workload, configuration); in each
    round every interpreter runs every case, configurations alternating
    in order from round to round."""
    confs = configs(only)
    runs = {(v, w, c): [] for v in pythons for w in WORKLOADS + list(FRAGMENTATION)
            for c in confs}
    for r in range(rounds):
        for w in WORKLOADS + list(FRAGMENTATION):
            for v, python in pythons.items():
                order = list(confs) if r % 2 == 0 else list(reversed(confs))
                for c in order:
                    res, peak = run_one(python, w, c, confs[c])
                    res["peak_rss"] = peak
                    runs[(v, w, c)].append(res)
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    return list(confs), runs


def answer(workload, result):
    """What every configuration must agree on: a timed workload's result, a
    fragmentation case's live count (its RSS figures are what may differ)."""
    return result["live"] if workload in FRAGMENTATION else result


def check_results_agree(confs, runs):
    """Every configuration must compute the same answers (runs of one
    interpreter: workload, configuration -> results)."""
    for w in WORKLOADS + list(FRAGMENTATION):
        answers = {json.dumps(answer(w, x["result"])) for c in confs
                   for x in runs[(w, c)]}
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
    frag = {f: {c: fragmentation_summary(runs[(f, c)]) for c in confs}
            for f in FRAGMENTATION}
    return table, geo, frag


def fragmentation_summary(xs):
    """Medians of one fragmentation case's runs under one configuration."""
    out = {k: statistics.median(x["result"][k] for x in xs)
           for k in ("rss_built", "rss_after")}
    out["peak_rss"] = statistics.median(x["peak_rss"] for x in xs)
    out["live"] = xs[0]["result"]["live"]
    return out


def mib(n):
    return f"{n / (1 << 20):.0f}"


def markdown(confs, results, rounds, command):
    """The report: results maps each interpreter's version to its
    (table, geo, frag); with several, a geometric-mean summary comes first
    and each version's tables follow under its own heading."""
    versions = list(results)
    lines = ["# Python allocator benchmark", "",
             f"`{command}` — {platform.python_implementation()} "
             f"{', '.join(versions)}, {os.cpu_count()} CPUs, "
             f"{rounds} interleaved rounds; least CPU time of any timed iteration "
             "(workloads.ITERATIONS per child) and its "
             "ratio to pymalloc (lower is better), median peak RSS in MiB."]
    if len(versions) == 1:
        return "\n".join(lines + version_tables(confs, *results[versions[0]]) + [""])
    lines += ["", "Geometric mean of the time ratios:", "",
              "| CPython | " + " | ".join(confs) + " |", "|---|" + "---|" * len(confs)]
    for v in versions:
        geo = results[v][1]
        lines.append(f"| {v} | " + " | ".join(f"×{geo[c]:.3f}" for c in confs) + " |")
    for v in versions:
        lines += ["", f"## CPython {v}"] + version_tables(confs, *results[v])
    return "\n".join(lines + [""])


def version_tables(confs, table, geo, frag):
    """One interpreter's Markdown lines: the timed workloads, then each
    fragmentation case."""
    lines = ["", "| workload | " + " | ".join(confs) + " |",
             "|---|" + "---|" * len(confs)]
    for w in WORKLOADS:
        cells = [f"{table[(w, c)]['seconds'] * 1000:.0f} ms ×{table[(w, c)]['ratio']:.2f}"
                 f" / {mib(table[(w, c)]['peak_rss'])}" for c in confs]
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    lines.append("| **geometric mean** | " +
                 " | ".join(f"**×{geo[c]:.3f}**" for c in confs) + " |")
    for f, caption in FRAGMENTATION.items():
        lines += fragmentation_table(f, caption, confs, frag[f])
    return lines


def fragmentation_table(name, caption, confs, frag):
    """One fragmentation case's Markdown lines: median RSS built and after
    release, and the share kept."""
    return ["", f"`{name}`: {caption}", "",
            "| | " + " | ".join(confs) + " |", "|---|" + "---|" * len(confs),
            "| RSS built | " + " | ".join(mib(frag[c]["rss_built"]) for c in confs) + " |",
            "| RSS after release | " + " | ".join(mib(frag[c]["rss_after"]) for c in confs) + " |",
            "| kept / built | " + " | ".join(
                f"{frag[c]['rss_after'] / frag[c]['rss_built']:.0%}" for c in confs) + " |"]


def instructions(python, workload, config, extra_env):
    """Instructions of one whole child run (start-up included)."""
    env = child_env(extra_env)
    env["PYTHONHASHSEED"] = "0"  # str hashes steer dict layouts: same work every run
    return callgrind.total([python, os.path.join(HERE, "workloads.py"),
                            workload, config, "1"], env)


COUNTED = ("millions of instructions of each workload alone under `valgrind "
           "--tool=callgrind` (its run's total less that of a `startup` run under "
           "the same configuration: the same interpreter start-up, allocator set-up "
           "and main() around a workload that returns 0), and the ratio to "
           "pymalloc's. What is left is the workload's own instructions plus any "
           "difference it makes to the interpreter's exit. The start-up row is the "
           "`startup` runs' whole totals (interpreter start-up and exit, importing "
           "and enabling tunalloc where configured, main()); whole-run totals are "
           "in the JSON.")


def callgrind_table(workloads, out, only, pythons, command):
    """Each workload and `startup` once per configuration and interpreter,
    as many at a time as CPUs. Start-up differs by configuration (importing
    and enabling tunalloc, or jemalloc's initialisation, cost 10-14 M
    instructions), which would otherwise blur the ratios of the workloads
    themselves."""
    confs = configs(only)
    keys = [(v, w, c) for v in pythons for w in workloads + ["startup"] for c in confs]
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        counts = dict(zip(keys, pool.map(
            lambda k: instructions(pythons[k[0]], k[1], k[2], confs[k[2]]), keys)))
    lines = ["# Python allocator benchmark: instruction counts", "",
             f"`{command}`: {COUNTED}"]
    data = {"command": command, "counted": COUNTED, "pythons": {}}
    for v in pythons:
        startup = {c: counts[(v, "startup", c)] for c in confs}
        alone = {(w, c): counts[(v, w, c)] - startup[c] for w in workloads for c in confs}
        if len(pythons) > 1:
            lines += ["", f"## CPython {v}"]
        lines += ["", "| workload | " + " | ".join(confs) + " |",
                  "|---|" + "---|" * len(confs)]
        for w in workloads:
            lines.append(count_row(w, {c: alone[(w, c)] for c in confs}))
        lines.append(count_row("start-up (whole run)", startup))
        data["pythons"][v] = {
            "executable": pythons[v],
            "workload_only": {f"{w}/{c}": n for (w, c), n in alone.items()},
            "startup": startup,
            "totals": {f"{w}/{c}": counts[(v, w, c)] for w in workloads + ["startup"]
                       for c in confs}}
    text = "\n".join(lines) + "\n"
    with open(out + "_callgrind.md", "w") as f:
        f.write(text)
    with open(out + "_callgrind.json", "w") as f:
        json.dump(data, f, indent=1)
    print(text)


def count_row(name, counts):
    """A Markdown row of instruction counts (configuration -> count) in
    millions, each with its ratio to pymalloc's."""
    return f"| {name} | " + " | ".join(
        f"{n / 1e6:.1f} ×{n / counts['pymalloc']:.3f}" for n in counts.values()) + " |"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=os.path.join("bench", "results", "python"))
    ap.add_argument("--callgrind", metavar="WORKLOADS",
                    help="comma-separated workloads to count instructions of, "
                         "instead of timing (OUT_callgrind.md)")
    ap.add_argument("--configs", default="",
                    help="comma-separated subset of the configurations (pymalloc "
                         "always runs): " + ", ".join(configs()))
    ap.add_argument("--pythons", default="",
                    help="interpreters to run the children under, tunalloc "
                         "installed in each: comma-separated executables, or "
                         "'all' for those tools/pythons.sh finds (default: this one)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")
    only = [c for c in args.configs.split(",") if c]
    if any(c not in configs() for c in only):
        ap.error(f"unknown configurations: {args.configs}")
    pythons = interpreters(args.pythons)
    command = " ".join(["python3 bench/python/run.py"] + sys.argv[1:])
    if args.callgrind:
        chosen = args.callgrind.split(",")
        unknown = [w for w in chosen if w not in WORKLOADS]
        if unknown:
            ap.error(f"unknown workloads: {', '.join(unknown)}")
        callgrind_table(chosen, args.out, only, pythons, command)
        return
    start = time.time()
    confs, runs = measure(args.rounds, only, pythons)
    results, data = {}, {}
    for v in pythons:
        mine = {(w, c): x for (u, w, c), x in runs.items() if u == v}
        check_results_agree(confs, mine)
        results[v] = summarise(confs, mine)
        data[v] = {"executable": pythons[v],
                   "runs": {f"{w}/{c}": x for (w, c), x in mine.items()},
                   "geomean_ratio": results[v][1], "fragmentation": results[v][2]}
    text = markdown(confs, results, args.rounds, command)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".md", "w") as f:
        f.write(text)
    with open(args.out + ".json", "w") as f:
        json.dump({"command": command, "rounds": args.rounds, "configs": confs,
                   "seconds_total": time.time() - start, "pythons": data}, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
