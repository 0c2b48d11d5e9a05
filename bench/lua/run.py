#!/usr/bin/env python3
"""Lua allocation benchmark (issue 5). Runs every workload in bench/lua
under each configuration, all in the generational GC mode (lua5.4's and
tunalua's default), and writes bench/results/lua.md and lua.json with
CPU time and peak RSS as ratios to lua5.4 with its default allocator.

    make bench-lua            (or: python3 bench/lua/run.py [--repeat N])
    python3 bench/lua/run.py --callgrind    (instruction counts)

Each configuration runs a workload N times (default 5): N rounds, each
running every configuration once, starting one place further along the
list each round. Each run times the workload ITERATIONS times in one
state (timed.lua, with os.clock). The reported time is the least CPU
time of all those timings: the work is deterministic and other load on a
shared machine can only add to it (the `compute` control row, which
allocates nothing, shows how far the rest wanders there). The speed of
this machine also drifts over minutes, which a least time over a whole
run cannot see, so tunalua is also compared round by round: the median,
over the rounds, of its run's least time over another configuration's
in the same round, with a bootstrap interval for that median. The
issue compares against lua5.4 with jemalloc or mimalloc preloaded; the
report also holds the interpreter fixed (tunalua --alloc=system under
each preload), since tunalua's static build of Lua is not Debian's
lua5.4 binary. Every timing and the whole runs' CPU and wall times are
in the JSON. Peak RSS is the median of the runs. The workloads print
a checksum, which must agree across configurations and iterations."""
import argparse
import concurrent.futures
import json
import os
import pathlib
import platform
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "lua"
RESULTS = ROOT / "bench" / "results"
LAUNCH = ROOT / "build" / "bench" / "launch"
LIBDIR = pathlib.Path("/usr/lib/x86_64-linux-gnu")
sys.path.insert(0, str(ROOT / "bench"))
import callgrind  # noqa: E402  (the suite's instruction counter)
WORKLOADS = ["binary_trees", "table_churn", "string_build", "coroutines",
             "serializer"]
# Runs like a workload but allocates nothing in its loop: it measures the
# interpreter binaries, which are not the same build (see compute.lua).
CONTROLS = ["compute"]
INSTALL = "require('tunalloc').install()"
TIMED = BENCH / "timed.lua"
ITERATIONS = 3
BOOTSTRAP = 2000


# The comparison: Debian's lua5.4 with each allocator preloaded.
PRELOADED = ["lua5.4 + jemalloc", "lua5.4 + mimalloc"]
# The same comparison with the interpreter held fixed: tunalua's own
# binary on the C library's malloc (--alloc=system), the others preloaded
# under it. tunalua links Lua statically from Debian's liblua5.4.a, and
# that build runs plain Lua code at its own speed (the `compute` row), so
# only these rows isolate the allocator.
SAME_INTERPRETER = ["tunalua --alloc=system + jemalloc",
                    "tunalua --alloc=system + mimalloc"]


def configurations():
    """name -> (argv prefix, extra environment)."""
    cpath = {"LUA_CPATH": f"{ROOT}/build/lua/?.so"}
    tunalua = str(ROOT / "build" / "tunalua")
    jemalloc = {"LD_PRELOAD": str(LIBDIR / "libjemalloc.so.2")}
    mimalloc = {"LD_PRELOAD": str(LIBDIR / "libmimalloc.so.2")}
    return {
        "lua5.4 (glibc)": (["lua5.4"], {}),
        "lua5.4 + jemalloc": (["lua5.4"], jemalloc),
        "lua5.4 + mimalloc": (["lua5.4"], mimalloc),
        "lua5.4 + tunalloc.install()": (["lua5.4", "-e", INSTALL], cpath),
        "tunalua --alloc=system": ([tunalua, "--alloc=system"], {}),
        "tunalua --alloc=system + jemalloc": ([tunalua, "--alloc=system"], jemalloc),
        "tunalua --alloc=system + mimalloc": ([tunalua, "--alloc=system"], mimalloc),
        "tunalua": ([tunalua], {}),
    }


def measure(argv, env):
    """CPU time (user + system, s), wall time (s), peak RSS (KiB) and
    output lines of one run. The run goes through build/bench/launch (the
    suite's launcher) so the peak RSS is the workload's own, not this
    driver's inherited across exec; the launcher's rusage from wait4
    includes the workload it waited for. CPU time is the reported time:
    on a shared machine it moves far less with other load than wall time."""
    full_env = dict(os.environ, **env)
    if "LD_PRELOAD" in full_env:
        full_env["BENCH_PRELOAD"] = full_env.pop("LD_PRELOAD")
    exe = shutil.which(argv[0]) or argv[0]
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen([str(LAUNCH), exe] + argv[1:], env=full_env,
                                stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        out.seek(0)
        lines = out.read().strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode})")
    cpu = usage.ru_utime + usage.ru_stime
    rss = json.loads(lines[-1])["maxrss_kib"]
    return cpu, elapsed, rss, lines[:-1]


def timed_run(argv, env, script):
    """One run of timed.lua: (the iterations' CPU times, whole-run CPU and
    wall time, peak RSS, the workload's output, which every iteration
    must repeat)."""
    cpu, wall, rss, lines = measure(argv + [str(TIMED), script, str(ITERATIONS)], env)
    times = [float(t) for line in lines if line.startswith("#cpu ")
             for t in line.split()[1:]]
    output = {line for line in lines if not line.startswith("#cpu ")}
    if len(times) != ITERATIONS or len(output) != 1:
        raise RuntimeError(f"{' '.join(argv)} {script}: unexpected output {lines}")
    return times, cpu, wall, rss, output.pop()


def bench(repeat, workloads, names):
    configs = configurations()
    raw = {w: {c: {"time": [], "run_times": [], "run_cpu": [], "wall": [], "rss_kib": []}
               for c in names} for w in workloads + CONTROLS}
    checks = {}
    for w in workloads + CONTROLS:
        script = str(BENCH / f"{w}.lua")
        for r in range(repeat):
            # no configuration always follows the same one
            for c in names[r % len(names):] + names[:r % len(names)]:
                argv, env = configs[c]
                times, cpu, wall, rss, out = timed_run(argv, env, script)
                raw[w][c]["time"].extend(times)
                raw[w][c]["run_times"].append(times)
                raw[w][c]["run_cpu"].append(cpu)
                raw[w][c]["wall"].append(wall)
                raw[w][c]["rss_kib"].append(rss)
                checks.setdefault(w, set()).add(out)
        if len(checks[w]) != 1:
            raise RuntimeError(f"{w}: configurations disagree: {checks[w]}")
    return raw


def paired_ratio(mine, other):
    """Median over the rounds of one run's least time over the other's
    in the same round, with a 95% bootstrap interval for that median: the
    runs of a round are seconds apart, so the machine's slower drift
    cancels out of each ratio, and the interval says whether what is left
    of the noise could account for the gap. The resampling is seeded, so
    one set of timings always gives one report."""
    ratios = [min(a) / min(b) for a, b in zip(mine, other)]
    rng = random.Random(len(ratios))
    medians = sorted(statistics.median(rng.choices(ratios, k=len(ratios)))
                     for _ in range(BOOTSTRAP))
    lo, hi = medians[int(BOOTSTRAP * 0.025)], medians[int(BOOTSTRAP * 0.975) - 1]
    return statistics.median(ratios), lo, hi


def summarize(raw):
    table = {}
    for w, per in raw.items():
        base = next(iter(per))
        bt = min(per[base]["time"])
        br = statistics.median(per[base]["rss_kib"])
        table[w] = {}
        for c, v in per.items():
            t = min(v["time"])
            r = statistics.median(v["rss_kib"])
            paired, lo, hi = paired_ratio(per["tunalua"]["run_times"], v["run_times"])
            table[w][c] = {"time_s": round(t, 4), "rss_kib": r,
                           "time_median_s": round(statistics.median(v["time"]), 4),
                           "wall_s": round(statistics.median(v["wall"]), 4),
                           "time_ratio": round(t / bt, 3),
                           "rss_ratio": round(r / br, 3),
                           "tunalua_paired": round(paired, 3),
                           "tunalua_paired_ci95": [round(lo, 3), round(hi, 3)]}
    return table


def verdicts(table, rivals, against):
    """On how many workloads tunalua beat all the rivals: by least time,
    by the round-by-round median, and by the median with its whole
    interval below 1 (a gap the noise cannot account for)."""
    if not rivals:
        return []
    measured = [w for w in table if w not in CONTROLS]
    tests = (("by least time", lambda w, c: table[w]["tunalua"]["time_s"] < table[w][c]["time_s"]),
             ("round by round", lambda w, c: table[w][c]["tunalua_paired"] < 1),
             ("round by round, whole interval below 1",
              lambda w, c: table[w][c]["tunalua_paired_ci95"][1] < 1))
    lines = ["", f"tunalua faster than {against}:", ""]
    for how, beats in tests:
        wins = [w for w in measured if all(beats(w, c) for c in rivals)]
        lines.append(f"- {how}: {len(wins)} of {len(measured)} workloads"
                     + (f" ({', '.join(wins)})" if wins else ""))
    return lines


def markdown(table, repeat, command, load):
    configs = list(next(iter(table.values())).keys())
    lines = ["# Lua allocation benchmark", "",
             f"Command: `{command}` ({repeat} runs per cell, {ITERATIONS} timed "
             "iterations in each: least CPU time of an iteration, median peak RSS; "
             f"{platform.machine()}, {os.cpu_count()} CPUs, generational GC everywhere; "
             f"load average {load[0]:.1f} before, {load[1]:.1f} after: other load skews times).",
             f"Cells: CPU-time ratio / peak-RSS ratio to `{configs[0]}` "
             "(lower is better); its column gives absolute numbers.", ""]
    lines.append("| workload | " + " | ".join(configs) + " |")
    lines.append("|---|" + "---|" * len(configs))
    for w, per in table.items():
        cells = []
        for c in configs:
            v = per[c]
            if c == configs[0]:
                cells.append(f"{v['time_s']:.3f} s / {v['rss_kib'] / 1024:.1f} MiB")
            else:
                cells.append(f"{v['time_ratio']:.2f} / {v['rss_ratio']:.2f}")
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    others = [c for c in configs if c != "tunalua"]
    lines += ["", "Round by round: the median over the rounds of tunalua's least "
              "time in a round over the other configuration's in the same round, "
              "with its 95% bootstrap interval (below 1: tunalua faster).", "",
              "| workload | " + " | ".join(f"vs {c}" for c in others) + " |",
              "|---|" + "---|" * len(others)]
    for w, per in table.items():
        lines.append(f"| {w} | " + " | ".join(
            "{0:.3f} [{1[0]:.3f}, {1[1]:.3f}]".format(
                per[c]["tunalua_paired"], per[c]["tunalua_paired_ci95"])
            for c in others) + " |")
    lines += verdicts(table, [c for c in PRELOADED if c in configs],
                      "every allocator preloaded into lua5.4")
    lines += verdicts(table, [c for c in SAME_INTERPRETER if c in configs],
                      "every allocator preloaded under the same interpreter "
                      "(tunalua --alloc=system)")
    lines += ["", "`compute` is a control with no allocation: against `lua5.4` its row "
              "shows the two interpreter builds, against `tunalua --alloc=system` "
              "only the machine's noise.", ""]
    return "\n".join(lines)


# Smaller inputs for the instruction counts: callgrind runs ~50x slower.
# binary_trees keeps its timed depth: at 11 a collection's frees fit in
# the state's cache, at 14 they overflow it into the arena.
CALLGRIND_ARGS = {"binary_trees": "14", "table_churn": "3", "string_build": "100000",
                  "coroutines": "50000", "serializer": "1000", "compute": "3000000"}


# The lua_Alloc function of each configuration. lua5.4's own (l_alloc in
# lauxlib) has no symbol in Debian's stripped binary: it is the function
# that calls realloc most.
ALLOC_FUNCTIONS = {"lua5.4 + tunalloc.install()": "talua_alloc_wrapped",
                   "tunalua": "talua_alloc"}


def allocator_instructions(config, prof):
    """Instructions spent in the state's lua_Alloc and below it."""
    fn = ALLOC_FUNCTIONS.get(config) or prof.top_caller("realloc")
    if fn is None or fn not in prof.own:
        raise RuntimeError(f"{config}: no lua_Alloc function in the profile")
    return prof.inclusive(fn)


def count_table(title, configs, counts):
    lines = [title, "", "| workload | " + " | ".join(configs) + " |",
             "|---|" + "---|" * len(configs)]
    for w in WORKLOADS + CONTROLS:
        row = [counts[(w, c)] for c in configs]
        best = min(row)
        lines.append(f"| {w} | " + " | ".join(
            (f"**{n / 1e6:.1f}**" if n == best else f"{n / 1e6:.1f}") for n in row) + " |")
    return lines


def callgrind_table():
    """Every workload once per configuration, two at a time. Whole-run
    totals move by a percent or two with Lua's string-hash seed, which
    lua_newstate takes from the clock and from addresses; the allocator's
    own share does not: the sequence of requests does not depend on it."""
    configs = configurations()
    jobs = {(w, c): (argv + [str(BENCH / f"{w}.lua"), CALLGRIND_ARGS[w]], env)
            for w in WORKLOADS + CONTROLS for c, (argv, env) in configs.items()}
    with concurrent.futures.ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        profiles = dict(zip(jobs, pool.map(lambda j: callgrind.profile(
            [shutil.which(j[0][0]) or j[0][0]] + j[0][1:], dict(os.environ, **j[1])),
            jobs.values())))
    totals = {k: p.total for k, p in profiles.items()}
    alloc = {(w, c): allocator_instructions(c, p) for (w, c), p in profiles.items()}
    lines = ["# Lua allocation benchmark: instruction counts", "",
             "Command: `python3 bench/lua/run.py --callgrind`. Millions of "
             "instructions under `valgrind --tool=callgrind` (no machine-load "
             "noise); inputs: " +
             ", ".join(f"{w} {a}" for w, a in CALLGRIND_ARGS.items()) + ".", ""]
    lines += count_table("Allocator: the state's lua_Alloc function and everything it "
                         "calls (the same requests in every configuration).",
                         configs, alloc)
    lines += [""] + count_table(
        "Whole run. Lua seeds its string hashes from the clock and from "
        "addresses, which moves these by up to 2% between identical runs.",
        configs, totals)
    md = "\n".join(lines) + "\n"
    (RESULTS / "lua_callgrind.md").write_text(md)
    (RESULTS / "lua_callgrind.json").write_text(json.dumps(
        {"args": CALLGRIND_ARGS,
         "instructions": {f"{w}|{c}": n for (w, c), n in totals.items()},
         "allocator_instructions": {f"{w}|{c}": n for (w, c), n in alloc.items()}},
        indent=2))
    print(md)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--callgrind", action="store_true",
                    help="instruction counts instead of times (lua_callgrind.md)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated subset (the compute control always runs)")
    ap.add_argument("--configs", default=",".join(configurations()),
                    help="comma-separated subset with tunalua; the first is the baseline")
    ap.add_argument("--out", default="lua",
                    help="name of the results files in bench/results (default lua)")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")
    workloads = args.workloads.split(",")
    names = args.configs.split(",")
    unknown = [x for x in workloads if x not in WORKLOADS] + \
        [x for x in names if x not in configurations()]
    if unknown:
        ap.error(f"unknown workload or configuration: {', '.join(unknown)}")
    if "tunalua" not in names or len(names) < 2 or len(set(names)) != len(names):
        ap.error("--configs needs tunalua and at least one other, each once")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", args.out):
        ap.error("--out is a file name, not a path")
    if args.callgrind and any(a.split("=")[0] in ("--workloads", "--configs", "--out")
                              for a in sys.argv[1:]):
        ap.error("--callgrind counts every workload and configuration")
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.callgrind:
        callgrind_table()
        return
    load_before = os.getloadavg()[0]
    raw = bench(args.repeat, workloads, names)
    load = (load_before, os.getloadavg()[0])
    table = summarize(raw)
    command = "make bench-lua" if sys.argv[1:] in ([], ["--repeat", "5"]) else \
        " ".join(["python3", "bench/lua/run.py"] + [shlex.quote(a) for a in sys.argv[1:]])
    md = markdown(table, args.repeat, command, load)
    (RESULTS / f"{args.out}.md").write_text(md)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(
        {"repeat": args.repeat, "baseline": names[0], "gc": "generational",
         "loadavg_before_after": load,
         "results": table, "raw": raw}, indent=2))
    print(md)


if __name__ == "__main__":
    main()
