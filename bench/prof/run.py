#!/usr/bin/env python3
"""Heap profiling benchmark (issue 16): what sampling costs, and how
close its estimates come.

    python3 bench/prof/run.py [--rounds N] [--only PARTS] [--out bench/results/prof]

Parts (all by default):
  fastpath    callgrind instructions per malloc+free pair of the C fast
              paths (build/bench/fastpath-ta, and build/bench/fastpath
              under the preload library), profiling off and on
  accuracy    build/bench/prof_accuracy: five sites of known block sizes
              (24 B to 1 MiB, interleaved) with 16, 64 and 256 MiB live
              each, at the default rate, 50 seeds; each site's estimated
              live bytes vs the truth, and vs the spread sampling gives
  instructions
              the Python and Lua workloads under callgrind, profiling off
              and on: instruction counts, which machine load does not move
  python      bench/python's timed workloads under tunalloc, profiling off
              vs on (tunalloc.profile.start() at the default rate, Python
              frames hook included); least CPU time of N interleaved rounds
  lua         bench/lua's workloads under tunalua vs tunalua --profile
  tracemalloc bench/prof/side_by_side.py under pymalloc, tracemalloc
              (1 frame), and tunalloc's profile: time, and whether the
              top-10 lines by live bytes agree
Writes OUT.md and OUT.json.
"""
import argparse
import concurrent.futures
import importlib.util
import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import callgrind  # noqa: E402

BUILD = ROOT / "build"
PY_WORKLOADS = ["object_graph", "json_roundtrip", "deep_copies", "small_objects", "threads"]
LUA_WORKLOADS = ["binary_trees", "table_churn", "string_build", "coroutines", "serializer"]
PARTS = ["fastpath", "accuracy", "instructions", "python", "lua", "tracemalloc"]
START_PROFILE = ("import runpy, sys; from tunalloc import profile; profile.start(); "
                 "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("TUNALLOC_PYTHON", "TUNALLOC_CONF", "PYTHONMALLOC", "LD_PRELOAD",
                        "PYTHONTRACEMALLOC")}
    env.update(extra)
    return env


def check_built():
    """bench/run.py's refusal of a stale core or stale bench programs: the
    static fastpath-ta counted here would otherwise go on measuring old code."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.check_built()


def fastpath():
    check_built()
    modes = [("imm-64", ["mode=imm", "size=64"]), ("sized-64", ["mode=sized", "size=64"]),
             ("batch100-256", ["mode=batch", "batch=100", "size=256"])]
    builds = (("", str(BUILD / "bench" / "fastpath-ta"), {}),
              ("preload/", str(BUILD / "bench" / "fastpath"),
               {"LD_PRELOAD": str(BUILD / "libtunalloc.so")}))
    out = {}
    for build, binary, extra in builds:
        for conf, prof in (("off", {}), ("on", {"TUNALLOC_CONF": "prof:true"})):
            env = clean_env(**extra, **prof)
            for label, args in modes:
                t = [callgrind.total([binary] + args + [f"n={n}"], env, 600)
                     for n in (200000, 400000)]
                out[f"{build}{label}/{conf}"] = (t[1] - t[0]) / 200000
    return out


def accuracy(seeds=50, levels=(16, 64, 256), rate=524288):
    """Each site's estimate against the truth, for several live sizes per
    site. Poisson sampling of N blocks of u bytes, each kept with chance
    p = 1 - exp(-u/rate) and counted 1/p times, has relative standard
    deviation sqrt((1 - p) / (N p)): the "expected sd" beside the measured
    one. An unbiased estimator has a mean error within a few standard
    errors of 0."""
    table = {}
    for mib in levels:
        runs = []
        for seed in range(1, seeds + 1):
            res = subprocess.run([str(BUILD / "bench" / "prof_accuracy"), str(seed), str(rate),
                                  str(mib)], capture_output=True, text=True, check=True,
                                 timeout=600)
            runs.append(json.loads(res.stdout))
        for i, site in enumerate(runs[0]["sites"]):
            errs = [r["sites"][i]["estimate"] / r["sites"][i]["truth"] - 1 for r in runs]
            p = -math.expm1(-site["usize"] / rate)
            sd_expected = math.sqrt((1 - p) / (site["blocks"] * p))
            sd = statistics.stdev(errs)
            table[f"{mib}/{site['size']}"] = {
                "mib_per_site": mib, "size": site["size"], "runs": len(errs),
                "mean_samples": statistics.mean(r["sites"][i]["samples"] for r in runs),
                "mean_error": statistics.mean(errs), "std_error": sd / math.sqrt(len(errs)),
                "sd": sd, "sd_expected": sd_expected,
                "max_abs_error": max(map(abs, errs)),
                "within_10pct": sum(abs(e) <= 0.10 for e in errs),
                "within_10pct_expected": math.erf(0.10 / (sd_expected * math.sqrt(2)))}
    return {"seeds": seeds, "rate": rate, "sites": table}


def py_child(workload, profiled):
    script = str(ROOT / "bench" / "python" / "workloads.py")
    cmd = [sys.executable] + (["-c", START_PROFILE] if profiled else []) + \
        [script, workload, "tunalloc"]
    res = subprocess.run(cmd, env=clean_env(TUNALLOC_PYTHON="raw,mem,obj"), capture_output=True,
                         text=True, timeout=1200)
    if res.returncode:
        raise SystemExit(f"{workload} (profiled={profiled}) failed: {res.stderr}")
    return json.loads(res.stdout)


def python_overhead(rounds):
    times = {(w, p): [] for w in PY_WORKLOADS for p in (False, True)}
    results = {}
    for r in range(rounds):
        for w in PY_WORKLOADS:
            for p in ((False, True) if r % 2 == 0 else (True, False)):
                out = py_child(w, p)
                times[(w, p)] += out["cpu_all"]
                results.setdefault(w, set()).add(json.dumps(out["result"]))
        print(f"python round {r + 1}/{rounds}", file=sys.stderr)
    bad = [w for w, v in results.items() if len(v) != 1]
    if bad:
        raise SystemExit(f"profiling changed the results of {bad}")
    return summarise(times, PY_WORKLOADS)


def summarise(times, workloads):
    table = {}
    for w in workloads:
        off, on = min(times[(w, False)]), min(times[(w, True)])
        table[w] = {"off_s": off, "on_s": on, "ratio": on / off,
                    "median_ratio": statistics.median(times[(w, True)]) /
                    statistics.median(times[(w, False)])}
    geo = math.exp(statistics.mean(math.log(table[w]["ratio"]) for w in workloads))
    return {"workloads": table, "geomean_ratio": geo}


def lua_profile_args(workload, profiled, tmp):
    """tunalua's options with profiling on or off. Both load the tunalloc
    module, as --profile does: its few KiB of live data move the
    collector's pace, which on a small heap changes what the script
    allocates (serializer: 190 k requests without it, 137 k with it), and
    that is not the profiler's cost."""
    return [f"--profile={tmp}/{workload}.pb.gz"] if profiled else ["-l", "tunalloc"]


def lua_child(workload, profiled, tmp):
    argv = [str(BUILD / "tunalua")] + lua_profile_args(workload, profiled, tmp)
    argv += [str(ROOT / "bench" / "lua" / "timed.lua"),
             str(ROOT / "bench" / "lua" / f"{workload}.lua"), "3"]
    res = subprocess.run(argv, env=clean_env(), capture_output=True, text=True, timeout=1200)
    if res.returncode:
        raise SystemExit(f"{workload} (profiled={profiled}) failed: {res.stderr}")
    lines = res.stdout.splitlines()
    cpu = [float(t) for ln in lines if ln.startswith("#cpu ") for t in ln.split()[1:]]
    return cpu, {ln for ln in lines if not ln.startswith("#cpu ")}


def lua_overhead(rounds):
    times = {(w, p): [] for w in LUA_WORKLOADS for p in (False, True)}
    outputs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for w in LUA_WORKLOADS:
                for p in ((False, True) if r % 2 == 0 else (True, False)):
                    cpu, out = lua_child(w, p, tmp)
                    times[(w, p)] += cpu
                    outputs.setdefault(w, set()).update(out)
            print(f"lua round {r + 1}/{rounds}", file=sys.stderr)
    bad = [w for w, v in outputs.items() if len(v) != 1]
    if bad:
        raise SystemExit(f"profiling changed the output of {bad}")
    return summarise(times, LUA_WORKLOADS)


def lua_callgrind_args():
    """bench/lua's own smaller inputs for instruction counts."""
    spec = importlib.util.spec_from_file_location("lua_bench", ROOT / "bench" / "lua" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.CALLGRIND_ARGS


# tunalua's allocator and profiler, as the functions every instruction of
# theirs runs under: the state's lua_Alloc (plain, then counting once the
# profile starts; sampling and the Lua frame walk happen inside it), the
# profile's start, and its dump at exit. Lua's own work is outside them.
LUA_PROFILER_ENTRIES = ("talua_alloc", "talua_alloc_count", "l_profile_start", "ta_prof_dump")


def instruction_overhead():
    """The suites' workloads under callgrind, profiling off and on:
    instructions, which machine load does not move. Python's count is
    each workload's whole run less a `startup` run of the same kind (so
    the profile module's import is not counted), with PYTHONHASHSEED=0.
    Lua's whole runs move by a percent or two with the string-hash seed
    lua_newstate takes from the clock and from the stack's address (which
    the extra --profile argument moves), so Lua's ratio adds to the run
    without profiling only what the profiler's entry points
    (LUA_PROFILER_ENTRIES) do more with it: the requests, and so those
    functions' counts, do not depend on the seed."""
    lua_args = lua_callgrind_args()
    jobs = {}
    for w in PY_WORKLOADS + ["startup"]:
        for p in (False, True):
            cmd = [sys.executable] + (["-c", START_PROFILE] if p else []) + \
                [str(ROOT / "bench" / "python" / "workloads.py"), w, "tunalloc", "1"]
            jobs[("python", w, p)] = (cmd, clean_env(TUNALLOC_PYTHON="raw,mem,obj",
                                                     PYTHONHASHSEED="0"))
    with tempfile.TemporaryDirectory() as tmp:
        for w in LUA_WORKLOADS:
            for p in (False, True):
                cmd = [str(BUILD / "tunalua")] + lua_profile_args(w, p, tmp) + \
                    [str(ROOT / "bench" / "lua" / f"{w}.lua"), lua_args[w]]
                jobs[("lua", w, p)] = (cmd, clean_env())
        with concurrent.futures.ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
            runs = dict(zip(jobs, pool.map(lambda j: callgrind.profile(j[0], j[1], 3600),
                                           jobs.values())))
    out = {}
    for suite, names in (("python", PY_WORKLOADS), ("lua", LUA_WORKLOADS)):
        table = {}
        for w in names:
            off, on = runs[(suite, w, False)], runs[(suite, w, True)]
            if suite == "python":
                base = runs[(suite, "startup", False)].total
                t = {"off": off.total - base,
                     "on": on.total - runs[(suite, "startup", True)].total}
                t["ratio"] = t["on"] / t["off"]
            else:
                part_off, part_on = (sum(r.inclusive(f) for f in LUA_PROFILER_ENTRIES)
                                     for r in (off, on))
                t = {"off": off.total, "on": on.total, "profiler_off": part_off,
                     "profiler_on": part_on, "whole_ratio": on.total / off.total,
                     "ratio": (off.total + part_on - part_off) / off.total}
            table[w] = t
        geo = math.exp(statistics.mean(math.log(t["ratio"]) for t in table.values()))
        out[suite] = {"workloads": table, "geomean_ratio": geo}
    return out


def tracemalloc_side_by_side(rounds):
    script = str(ROOT / "bench" / "prof" / "side_by_side.py")
    runs = {m: [] for m in ("none", "tracemalloc", "tunalloc")}
    for r in range(rounds):
        for m in runs if r % 2 == 0 else reversed(list(runs)):
            env = clean_env(TUNALLOC_PYTHON="raw,mem,obj") if m == "tunalloc" else clean_env()
            res = subprocess.run([sys.executable, script, m], env=env, capture_output=True,
                                 text=True, timeout=1200)
            if res.returncode:
                raise SystemExit(f"side_by_side {m} failed: {res.stderr}")
            runs[m].append(json.loads(res.stdout))
        print(f"tracemalloc round {r + 1}/{rounds}", file=sys.stderr)
    base = min(x["cpu_s"] for x in runs["none"])
    out = {m: {"cpu_s": min(x["cpu_s"] for x in v), "ratio": min(x["cpu_s"] for x in v) / base}
           for m, v in runs.items()}
    truth = runs["none"][0]["truth_top10"]
    for m in ("tracemalloc", "tunalloc"):
        top = runs[m][0]["top10"]
        out[m]["top10"] = top
        out[m]["agree_with_truth"] = len(set(top) & set(truth))
    out["truth_top10"] = truth
    out["agree_with_each_other"] = len(set(out["tracemalloc"]["top10"]) &
                                       set(out["tunalloc"]["top10"]))
    return out


def markdown(res, command):
    lines = ["# Heap profiling benchmark", "", f"`{command}`", ""]
    if "fastpath" in res:
        f = res["fastpath"]
        lines += ["## Fast paths (callgrind, instructions per malloc+free pair)", "",
                  "`build/bench/fastpath-ta` (linked with the core) and `build/bench/fastpath` "
                  "under `LD_PRELOAD=build/libtunalloc.so` (bench/run.py's callgrind cases).", "",
                  "| case | -ta off | -ta on (prof:true) | preload off | preload on (prof:true) |",
                  "|---|---|---|---|---|"]
        for label in ("imm-64", "sized-64", "batch100-256"):
            lines.append(f"| {label} | {f[label + '/off']:.2f} | {f[label + '/on']:.2f} | "
                         f"{f['preload/' + label + '/off']:.2f} | "
                         f"{f['preload/' + label + '/on']:.2f} |")
        lines.append("")
    if "accuracy" in res:
        a = res["accuracy"]
        lines += [f"## Accuracy (rate {a['rate'] // 1024} KiB, {a['seeds']} seeds per row)", "",
                  "Each site's estimated live bytes against the truth. Sampling alone "
                  "gives a spread of sqrt((1-p)/(N p)) for N blocks each sampled with "
                  "chance p (expected sd); an unbiased estimate has a mean error within "
                  "a few standard errors of 0.", "",
                  "| live per site | block size | samples | mean error (± s.e.) | sd | "
                  "expected sd | max abs error | within 10% | expected within 10% |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for s in a["sites"].values():
            lines.append(f"| {s['mib_per_site']} MiB | {s['size']} B | {s['mean_samples']:.0f} | "
                         f"{s['mean_error']:+.1%} ± {s['std_error']:.1%} | {s['sd']:.1%} | "
                         f"{s['sd_expected']:.1%} | {s['max_abs_error']:.1%} | "
                         f"{s['within_10pct']}/{s['runs']} | "
                         f"{s['within_10pct_expected']:.0%} |")
        lines.append("")
    if "instructions" in res:
        py, lua = res["instructions"]["python"], res["instructions"]["lua"]
        lines += ["## Suites under callgrind: instructions with profiling on vs off", "",
                  "Python: whole runs, each less a `startup` run of the same kind.", "",
                  "| workload | off (M) | on (M) | ratio |", "|---|---|---|---|"]
        for w, t in py["workloads"].items():
            lines.append(f"| {w} | {t['off'] / 1e6:.1f} | {t['on'] / 1e6:.1f} | "
                         f"{t['ratio']:.3f} |")
        lines += [f"| **geometric mean** | | | **{py['geomean_ratio']:.3f}** |", "",
                  "Lua (bench/lua's smaller callgrind inputs): the ratio is the run without "
                  "profiling plus what the allocator's and profiler's entry points (" +
                  ", ".join(f"`{f}`" for f in LUA_PROFILER_ENTRIES) + ") do more with it, "
                  "over that run. Whole runs are beside it: they move by a percent or two "
                  "with Lua's string-hash seed, which the clock and the stack's address "
                  "(moved by the extra argument) set.", "",
                  "| workload | whole off (M) | whole on (M) | whole ratio | allocator + profiler "
                  "off (M) | on (M) | ratio |", "|---|---|---|---|---|---|---|"]
        for w, t in lua["workloads"].items():
            lines.append(f"| {w} | {t['off'] / 1e6:.1f} | {t['on'] / 1e6:.1f} | "
                         f"{t['whole_ratio']:.3f} | {t['profiler_off'] / 1e6:.1f} | "
                         f"{t['profiler_on'] / 1e6:.1f} | {t['ratio']:.3f} |")
        lines += [f"| **geometric mean** | | | | | | **{lua['geomean_ratio']:.3f}** |", ""]
    for part, title in (("python", "Python suite"), ("lua", "Lua suite")):
        if part not in res:
            continue
        lines += [f"## {title}: profiling on at the default rate vs off (least CPU time)", "",
                  "| workload | off | on | ratio (least) | ratio (medians) |",
                  "|---|---|---|---|---|"]
        for w, t in res[part]["workloads"].items():
            lines.append(f"| {w} | {t['off_s'] * 1000:.0f} ms | {t['on_s'] * 1000:.0f} ms | "
                         f"{t['ratio']:.3f} | {t['median_ratio']:.3f} |")
        lines += [f"| **geometric mean** | | | **{res[part]['geomean_ratio']:.3f}** | |", ""]
    if "tracemalloc" in res:
        t = res["tracemalloc"]
        lines += ["## tracemalloc vs tunalloc's profile (bench/prof/side_by_side.py)", "",
                  "| | CPU time | vs no tracing | top-10 lines agreeing with the truth |",
                  "|---|---|---|---|"]
        for m in ("none", "tracemalloc", "tunalloc"):
            agree = t[m].get("agree_with_truth", "-")
            lines.append(f"| {m} | {t[m]['cpu_s'] * 1000:.0f} ms | {t[m]['ratio']:.2f} | "
                         f"{agree}{'/10' if agree != '-' else ''} |")
        lines += ["", f"tracemalloc's and tunalloc's top 10 share "
                      f"{t['agree_with_each_other']} lines.", ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default=",".join(PARTS))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "prof"))
    args = ap.parse_args()
    parts = args.only.split(",")
    unknown = [p for p in parts if p not in PARTS]
    if unknown or args.rounds < 1:
        ap.error(f"unknown parts {unknown}" if unknown else "--rounds must be >= 1")
    res = {}
    if "fastpath" in parts:
        res["fastpath"] = fastpath()
    if "accuracy" in parts:
        res["accuracy"] = accuracy()
    if "instructions" in parts:
        res["instructions"] = instruction_overhead()
    if "python" in parts:
        res["python"] = python_overhead(args.rounds)
    if "lua" in parts:
        res["lua"] = lua_overhead(args.rounds)
    if "tracemalloc" in parts:
        res["tracemalloc"] = tracemalloc_side_by_side(args.rounds)
    command = "python3 bench/prof/run.py " + " ".join(sys.argv[1:])
    text = markdown(res, command.strip())
    with open(args.out + ".md", "w") as f:
        f.write(text + "\n")
    with open(args.out + ".json", "w") as f:
        json.dump(res, f, indent=1, default=str)
    print(text)


if __name__ == "__main__":
    main()
