#!/usr/bin/env python3
"""Runs the tunalloc benchmark suite (issue 6).

Every workload runs against glibc, jemalloc, mimalloc, tcmalloc and
tunalloc (LD_PRELOAD of the plain-malloc build) and against tunalloc's
ta_ API (the -ta build). Runs are interleaved by allocator, repeated for
several rounds, and summarised as medians with min-max, ratios to glibc
and to tunalloc, geometric means, and peak RSS and CPU time from wait4. Fast-path
instruction counts come from callgrind; the decay check watches RSS of an
idle process after a freed burst. Writes bench/results/latest.json and
prints the tables.
"""
import argparse
import atexit
import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
import callgrind  # noqa: E402  (instruction counts, shared with bench/lua and bench/python)
import report  # noqa: E402  (the table renderer shared with bench-report)

REFERENCE = "tunalloc"
BASELINE = "glibc"
DECAY_CONF = "background_thread:true,dirty_decay_ms:1000"
DECAY_MS = 1000

# Configurations of tunalloc's preload build run only when named in
# --allocators: name -> TUNALLOC_CONF. Their ratios to "tunalloc" are the
# cost of the mode.
VARIANTS = {"tunalloc-check": "check:true", "tunalloc-secure": "secure:true"}

# name -> (Debian package, soname); None = no preload (or tunalloc's own).
COMPETITORS = {
    "glibc": None,
    "jemalloc": ("libjemalloc2", "libjemalloc.so.2"),
    "mimalloc": ("libmimalloc2.0", "libmimalloc.so.2"),
    "tcmalloc": ("libtcmalloc-minimal4", "libtcmalloc_minimal.so.4"),
}

# (case name, workload binary, parameters, parameters scaled by --scale).
CASES = [
    ("fast-imm", "fastpath", {"mode": "imm", "n": 20000000}, ["n"]),
    ("fast-sized", "fastpath", {"mode": "sized", "n": 20000000}, ["n"]),
    ("fast-batch100-256", "fastpath",
     {"mode": "batch", "batch": 100, "size": 256, "n": 10000000}, ["n"]),
    ("fast-batch1000", "fastpath", {"mode": "batch", "batch": 1000, "n": 5000000}, ["n"]),
    ("prodcons", "prodcons", {"pairs": 1, "n": 1000000}, ["n"]),
    ("prodcons-64", "prodcons", {"pairs": 1, "n": 2000000, "min": 64, "max": 64}, ["n"]),
    ("larson", "larson", {"threads": 2, "rounds": 200, "n": 20000}, ["rounds"]),
    ("churn-1t", "churn", {"threads": 1, "n": 3000000}, ["n"]),
    ("churn-2t", "churn", {"threads": 2, "n": 1500000}, ["n"]),
    ("passing", "passing", {"threads": 2, "n": 20000}, ["n"]),
    ("cache-thrash", "falseshare", {"mode": "thrash", "threads": 2, "n": 100000}, ["n"]),
    ("cache-scratch", "falseshare", {"mode": "scratch", "threads": 2, "n": 100000}, ["n"]),
    ("realloc", "realloc_grow", {"n": 3000000}, ["n"]),
    ("frag", "frag", {"peak": 64, "phases": 6, "churn": 500000}, ["peak", "churn"]),
    ("large", "large", {"n": 400}, ["n"]),
]

# Fast-path instruction counts: (label, fastpath parameters).
CALLGRIND = [
    ("imm-64", {"mode": "imm", "size": 64}),
    ("sized-64", {"mode": "sized", "size": 64}),
    ("batch100-256", {"mode": "batch", "batch": 100, "size": 256}),
]
CALLGRIND_N = (200000, 400000)

# Instructions per operation in the allocator's own code, for the threaded
# cases that are run: case -> (the parameter varied, its two values,
# operations per unit of it). Callgrind runs one thread at a time, so
# these count the work of a remote free or a refill, not contention.
# glibc's malloc cannot be told apart from the rest of libc: not counted.
CALLGRIND_THREADED = {
    "prodcons-64": ("n", (100000, 200000), 1),
    "prodcons": ("n", (100000, 200000), 1),
    "larson": ("rounds", (10, 20), 2 * 20000),
    "churn-2t": ("n", (100000, 200000), 2),
    "passing": ("n", (1000, 2000), 2 * 64),
}

# Workload outputs kept per run besides seconds and ops.
EXTRAS = ("rss_live_ratio", "end_ratio", "peak_rss", "peak_live")


def find_library(package, soname):
    """Path of soname from the Debian package's file list, else ldconfig."""
    try:
        out = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True,
                             check=False).stdout
        for line in out.splitlines():
            if line.endswith("/" + soname) and os.path.exists(line):
                return line
    except FileNotFoundError:
        pass
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True,
                             check=False).stdout
        for line in out.splitlines():
            if line.strip().startswith(soname + " ") and "=>" in line:
                return line.split("=>")[1].strip()
    except FileNotFoundError:
        pass
    return None


def snapshot_preload():
    """A private copy of build/libtunalloc.so, so a rebuild of the core
    during a long run cannot mix two builds in one result (the -ta
    programs are statically linked and need no copy). One copy per driver
    process, removed at exit, so concurrent drivers do not share one."""
    own = os.path.join(ROOT, "build", "libtunalloc.so")
    if not os.path.exists(own):
        raise SystemExit(f"bench: {own} missing; run `make core` first")
    parent = os.path.join(ROOT, "build", "bench")
    snap_dir = tempfile.mkdtemp(prefix="snapshot-", dir=parent)
    atexit.register(shutil.rmtree, snap_dir, True)
    snap = os.path.join(snap_dir, "libtunalloc.so")
    shutil.copy2(own, snap)
    return snap


def allocators(wanted):
    """name -> {"suffix": binary suffix, "preload": path or None, "conf":
    TUNALLOC_CONF or None}; variants only when wanted."""
    table = {}
    for name, pkg in COMPETITORS.items():
        lib = find_library(*pkg) if pkg else None
        if pkg and not lib:
            print(f"bench: {name} not installed ({pkg[0]}); skipped", file=sys.stderr)
            continue
        table[name] = {"suffix": "", "preload": lib, "conf": None}
    table["tunalloc"] = {"suffix": "", "preload": snapshot_preload(), "conf": None}
    table["tunalloc-api"] = {"suffix": "-ta", "preload": None, "conf": None}
    for name, conf in VARIANTS.items():
        if name in wanted:
            table[name] = dict(table["tunalloc"], conf=conf)
    if wanted:
        unknown = [w for w in wanted if w not in table]
        if unknown:
            raise SystemExit(f"bench: unknown or unavailable allocator(s): {unknown}")
        table = {k: v for k, v in table.items() if k in wanted}
    return table


def check_built():
    """Refuses to measure a stale build: the -ta programs link
    build/libtunalloc.a statically and nothing here rebuilds them, so after
    a change to the core they would go on measuring the old code (the
    static API build once showed 0.40 s per 50M pairs against the preload's
    0.25 s for that reason alone: its programs predated the fast-path
    changes). `make -q` asks the Makefile, the one list of dependencies."""
    res = subprocess.run(["make", "-q", "core", "bench-build"], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if res.returncode != 0:
        raise SystemExit("bench: the core or the bench programs are older than their "
                         "sources; run `make core bench-build` (or `make bench`) first")


def binary(workload, alloc):
    """The built workload program for this allocator."""
    path = os.path.join(ROOT, "build", "bench", workload + alloc["suffix"])
    if not os.access(path, os.X_OK):
        raise SystemExit(f"bench: {path} missing; run `make bench-build` first")
    return path


def environment(alloc, extra=None, launcher=True):
    """A clean environment: only this allocator preloaded, by the launcher
    (BENCH_PRELOAD) so the launcher itself stays on glibc."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "BENCH_PRELOAD", "TUNALLOC_CONF")}
    if alloc["preload"]:
        env["BENCH_PRELOAD" if launcher else "LD_PRELOAD"] = alloc["preload"]
    if alloc["conf"]:
        env["TUNALLOC_CONF"] = alloc["conf"]
    for key, value in (extra or {}).items():
        env[key] = f"{env[key]},{value}" if key == "TUNALLOC_CONF" and key in env else value
    return env


def scaled(params, keys, scale):
    """Parameters with the iteration counts scaled, never below 1."""
    out = dict(params)
    for k in keys:
        out[k] = max(1, int(out[k] * scale))
    return out


def argv(params):
    """The workloads' name=value command-line syntax."""
    return [f"{k}={v}" for k, v in params.items()]


def run_process(cmd, env, timeout):
    """Runs cmd; returns (exit code, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status = os.waitpid(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"))


def check_allocator(res, alloc):
    """The workload names the file its malloc came from; it must be the
    one preloaded (or libc), else the run measured the wrong allocator."""
    if "error" in res:
        return res
    want = os.path.basename(alloc["preload"]) if alloc["preload"] else "libc."
    if alloc["suffix"]:
        want = "ta_api"
    if not res.get("api", "").startswith(want):
        return {"error": f"malloc came from {res.get('api')!r}, expected {want!r}"}
    return res


def run_workload(cmd, env, timeout):
    """One measured run through build/bench/launch: the workload's JSON
    line plus its peak RSS from wait4, or an error record that the tables
    show as FAIL."""
    launcher = os.path.join(ROOT, "build", "bench", "launch")
    code, out, err = run_process([launcher] + cmd, env, timeout)
    lines = out.strip().splitlines()
    if code != 0 or len(lines) < 2:
        why = "killed (timeout?)" if code < 0 else f"exit {code}"
        tail = " | ".join(err.strip().splitlines()[-3:])
        return {"error": f"{why}: {tail}"}
    try:
        res = json.loads(lines[-2])
        usage = json.loads(lines[-1])
        res["maxrss_kib"] = usage["maxrss_kib"]
        res["cpu_s"] = usage["cpu_s"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        return {"error": f"bad output: {exc}"}
    return res


def summarise(runs, key):
    """Median and range of one field over the rounds that succeeded; the
    median resists the outliers a shared machine produces."""
    vals = [r[key] for r in runs if "error" not in r and key in r]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}


def ratio(a, b):
    """a / b, or None when either side failed."""
    return a / b if a is not None and b else None


def summarise_case(runs):
    """Medians, ranges and ratios for one case, per allocator."""
    out = {}
    for name, rs in runs.items():
        errors = [r["error"] for r in rs if "error" in r]
        entry = {f: summarise(rs, f) for f in ("seconds", "cpu_s", "maxrss_kib")}
        entry["errors"] = errors
        for key in EXTRAS:
            s = summarise(rs, key)
            if s:
                entry[key] = s["median"]
        out[name] = entry
    for name, entry in out.items():
        for ref in (BASELINE, REFERENCE):
            for metric, field in (("time", "seconds"), ("cpu", "cpu_s"),
                                  ("rss", "maxrss_kib")):
                mine = entry[field]["median"] if entry[field] else None
                other = out.get(ref, {}).get(field)
                entry[f"{metric}_vs_{ref}"] = ratio(mine, other["median"] if other else None)
    return out


def geomeans(cases, names):
    """Geometric mean of each ratio over the cases where both sides ran."""
    out = {}
    for name in names:
        entry = {}
        for key in (f"{m}_vs_{r}" for m in ("time", "cpu", "rss")
                    for r in (BASELINE, REFERENCE)):
            vals = [c["summary"][name][key] for c in cases
                    if c["summary"].get(name, {}).get(key)]
            entry[key] = math.exp(sum(map(math.log, vals)) / len(vals)) if vals else None
            entry[key + "_cases"] = len(vals)
        out[name] = entry
    return out


def instructions(allocs, timeout):
    """Instructions per malloc+free pair: two run lengths, difference
    divided by the extra pairs, so start-up and exit cancel out."""
    if not shutil.which("valgrind"):
        print("bench: valgrind not found; no instruction counts", file=sys.stderr)
        return {}
    out = {}
    n1, n2 = CALLGRIND_N
    for name, alloc in allocs.items():
        out[name] = {}
        for label, params in CALLGRIND:
            try:
                totals = [callgrind.total([binary("fastpath", alloc)] +
                                          argv(dict(params, n=n)),
                                          environment(alloc, launcher=False), timeout)
                          for n in (n1, n2)]
                out[name][label] = (totals[1] - totals[0]) / (n2 - n1)
            except RuntimeError as exc:
                out[name][label] = None
                print(f"bench: callgrind {name} {label} failed: {exc}", file=sys.stderr)
            print(f"  callgrind {label:14s} {name:13s} {out[name][label]}",
                  file=sys.stderr)
    return out


def allocator_instructions(prof, alloc):
    """Instructions spent in the allocator's code: the preloaded library's
    and code valgrind places in no file ("???": tcmalloc's malloc and free
    land there, and PLT stubs), or for the -ta build (which links the core
    in) the core's sources."""
    if alloc["suffix"]:
        return sum(v for f, v in prof.by_file.items() if f and "/core/src/" in f)
    if not alloc["preload"]:
        return None
    lib = os.path.realpath(alloc["preload"])
    return sum(v for o, v in prof.by_object.items()
               if o == "???" or (o and os.path.realpath(o) == lib))


def threaded_instructions(allocs, cases, timeout):
    """CALLGRIND_THREADED for the cases run: two run lengths, the
    allocator's instructions between them divided by the extra operations."""
    if not shutil.which("valgrind"):
        return {}
    out = {}
    for case in cases:
        name, workload, params, _ = case
        if name not in CALLGRIND_THREADED:
            continue
        key, lengths, per = CALLGRIND_THREADED[name]
        for alloc_name, alloc in allocs.items():
            try:
                counts = [allocator_instructions(
                    callgrind.profile([binary(workload, alloc)] + argv(dict(params, **{key: n})),
                                      environment(alloc, launcher=False), timeout), alloc)
                          for n in lengths]
                value = (None if None in counts else
                         (counts[1] - counts[0]) / ((lengths[1] - lengths[0]) * per))
            except RuntimeError as exc:
                value = None
                print(f"bench: callgrind {alloc_name} {name} failed: {exc}", file=sys.stderr)
            out.setdefault(alloc_name, {})[name] = value
            print(f"  callgrind {name:14s} {alloc_name:13s} {value}", file=sys.stderr)
    return out


def decay_env(name):
    """Each allocator's own spelling of "purge in the background after 1 s"."""
    if name.startswith("tunalloc"):
        return {"TUNALLOC_CONF": DECAY_CONF}
    if name == "jemalloc":
        return {"MALLOC_CONF": DECAY_CONF}
    return {}


def decay(allocs, burst_mib, timeout):
    """Idle-process decay check: time until RSS falls back after a burst."""
    out = {}
    params = {"burst": burst_mib, "idle": 2 * DECAY_MS, "every": 100}
    for name, alloc in allocs.items():
        extra = decay_env(name)
        res = check_allocator(run_workload([binary("decay", alloc)] + argv(params),
                                            environment(alloc, extra), timeout), alloc)
        res["conf"] = extra
        out[name] = res
        fell = res.get("fallback_ms")
        shown = "error: " + res["error"] if "error" in res else (
            f"{fell:.0f} ms" if fell is not None and fell >= 0 else "never")
        print(f"  decay {name:13s} {shown}", file=sys.stderr)
    return out


def build_ids(allocs):
    """Short hashes of the tunalloc code under test (the preload snapshot
    and one -ta program), so a result names the exact build it measured
    (the tree may have no commit yet)."""
    ids = {}
    for path in (allocs.get("tunalloc", {}).get("preload") or "",
                 os.path.join(ROOT, "build", "bench", "fastpath-ta")):
        if os.path.exists(path):
            with open(path, "rb") as f:
                ids[os.path.basename(path)] = hashlib.sha256(f.read()).hexdigest()[:12]
    return ids


def machine(args, allocs):
    """What a reader needs to judge the numbers: hardware, kernel, command,
    settings and the tunalloc build."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "command": " ".join(shlex.quote(a) for a in sys.argv),
            "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "rounds": args.rounds, "quick": args.quick, "scale": args.scale,
            "tunalloc_build": build_ids(allocs)}


def run_cases(allocs, cases, rounds, scale, timeout):
    """Round-major, allocator-interleaved runs, so slow drifts in machine
    load hit every allocator alike. Time series (frag) are kept from the
    last round only."""
    results = [{"name": c[0], "workload": c[1], "params": scaled(c[2], c[3], scale),
                "runs": {n: [] for n in allocs}} for c in cases]
    for r in range(rounds):
        for res in results:
            for name, alloc in allocs.items():
                cmd = [binary(res["workload"], alloc)] + argv(res["params"])
                one = check_allocator(run_workload(cmd, environment(alloc), timeout), alloc)
                series = {k: one.pop(k) for k in ("rss_mib", "live_mib") if k in one}
                if series:
                    res.setdefault("series", {})[name] = series
                res["runs"][name].append(one)
                shown = one.get("error") or f"{one['seconds']:.3f} s"
                print(f"  [{r + 1}/{rounds}] {res['name']:18s} {name:13s} {shown}",
                      file=sys.stderr)
    for res in results:
        res["summary"] = summarise_case(res["runs"])
    return results


def parse_args():
    """Options, with ROUNDS and QUICK from the environment as `make bench`
    documents."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # argparse converts a string default like a command-line value, so a
    # bad ROUNDS gets the same clear error as a bad --rounds.
    p.add_argument("--rounds", type=int, default=os.environ.get("ROUNDS") or None,
                   help="rounds (default 5, QUICK 2; env ROUNDS)")
    p.add_argument("--quick", action="store_true",
                   default=os.environ.get("QUICK", "0") not in ("", "0"),
                   help="short run: fewer rounds and iterations (env QUICK=1)")
    p.add_argument("--scale", type=float, default=None,
                   help="multiply iteration counts (default 1, QUICK 0.2)")
    p.add_argument("--allocators", default="", help="comma-separated subset")
    p.add_argument("--cases", default="", help="comma-separated subset of cases")
    p.add_argument("--no-callgrind", action="store_true")
    p.add_argument("--no-decay", action="store_true")
    p.add_argument("--decay-burst", type=int, default=None,
                   help="decay burst in MiB (default 512, QUICK 256)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    p.add_argument("--out", default=os.path.join(HERE, "results", "latest.json"))
    args = p.parse_args()
    if args.rounds is None:
        args.rounds = 2 if args.quick else 5
    if args.scale is None:
        args.scale = 0.2 if args.quick else 1.0
    if args.decay_burst is None:
        args.decay_burst = 256 if args.quick else 512
    if args.rounds < 1 or args.scale <= 0 or args.decay_burst < 1 or args.timeout <= 0:
        p.error("--rounds, --scale, --decay-burst and --timeout must be positive")
    return args


def main():
    """Runs everything, writes the JSON and prints the tables; exit status 1
    if any run failed, so a broken allocator is not mistaken for a slow one."""
    args = parse_args()
    check_built()
    allocs = allocators([a for a in args.allocators.split(",") if a])
    wanted = [c for c in args.cases.split(",") if c]
    known = [c[0] for c in CASES]
    if any(w not in known for w in wanted):
        raise SystemExit(f"bench: unknown case(s) {wanted}; known: {known}")
    cases = [c for c in CASES if not wanted or c[0] in wanted]
    started = time.monotonic()
    data = {"meta": machine(args, allocs),
            "allocators": {n: {"preload": a["preload"], "conf": a["conf"],
                               "api": "ta_" if a["suffix"] else "malloc"}
                           for n, a in allocs.items()}}
    data["cases"] = run_cases(allocs, cases, args.rounds, args.scale, args.timeout)
    data["geomean"] = geomeans(data["cases"], list(allocs))
    data["callgrind"] = {} if args.no_callgrind else instructions(allocs, args.timeout)
    data["callgrind_threaded"] = ({} if args.no_callgrind else
                                  threaded_instructions(allocs, cases, args.timeout))
    data["decay"] = {} if args.no_decay else decay(allocs, args.decay_burst, args.timeout)
    data["meta"]["elapsed_s"] = round(time.monotonic() - started, 1)
    if build_ids(allocs) != data["meta"]["tunalloc_build"]:
        data["meta"]["warning"] = "the bench programs were rebuilt during the run"
        print(f"bench: WARNING: {data['meta']['warning']}", file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(data, f, indent=1)
    print(report.markdown(data))
    print(f"bench: wrote {args.out} in {data['meta']['elapsed_s']} s", file=sys.stderr)
    failed = [(c["name"], n) for c in data["cases"] for n, s in c["summary"].items()
              if s["errors"]]
    if failed:
        print(f"bench: failed runs: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
