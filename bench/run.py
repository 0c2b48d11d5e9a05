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

Another tunalloc build joins the same rounds with --lib NAME=PATH
(repeatable; PATH is that build's preload library, copied at start like
this checkout's): it gets a column in every table, instruction counts
and the decay check (with TUNALLOC_CONF, as tunalloc). --baseline NAME
adds tables of per-round ratios: in each round, each allocator's time,
CPU time and peak RSS over NAME's in the same round, then the median
(min-max) of those ratios per case. The runs of a round are seconds
apart, so the machine's slower drift cancels out of each ratio, which
the ratios of medians in the other tables do not do. This branch
against main:

    git worktree add --detach /tmp/main-build main && make -C /tmp/main-build core
    cp /tmp/main-build/build/libtunalloc.so /tmp/main.so
    make core bench-build
    python3 bench/run.py --allocators tunalloc --lib main=/tmp/main.so \\
        --baseline main --no-decay --cases larson,churn-2t --rounds 9

The "tunalloc" column of the per-round tables is then this checkout over
main; an A/A run (--lib same=build/libtunalloc.so --baseline same) shows
the noise.
"""
import argparse
import atexit
import hashlib
import json
import math
import os
import platform
import re
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
API = "tunalloc-api"

# Every allocator name the driver itself knows; a --lib may take none of them.
NAMES = (*COMPETITORS, REFERENCE, API, *VARIANTS)

# What a --lib name may look like: it becomes a table column, a JSON key
# and an item of --allocators' comma-separated list.
LIB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")

# (ratio name, the runs' field) for every ratio in the tables.
METRICS = (("time", "seconds"), ("cpu", "cpu_s"), ("rss", "maxrss_kib"))

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


def snapshot(lib):
    """A private copy of a tunalloc preload library (this checkout's
    build/libtunalloc.so or a --lib), so a rebuild during a long run cannot
    mix two builds in one result (the -ta programs are statically linked
    and need no copy). One copy per driver process, removed at exit, so
    concurrent drivers do not share one. The copy keeps the file's name,
    which the workloads report as where malloc came from."""
    parent = os.path.join(ROOT, "build", "bench")
    snap_dir = tempfile.mkdtemp(prefix="snapshot-", dir=parent)
    atexit.register(shutil.rmtree, snap_dir, True)
    snap = os.path.join(snap_dir, os.path.basename(lib))
    shutil.copy2(lib, snap)
    return snap


def allocators(wanted, libs=None):
    """name -> {"suffix": binary suffix, "preload": path or None, "conf":
    TUNALLOC_CONF or None, and for a --lib "source": its path}; variants
    only when wanted, the --libs (name -> path) always."""
    table = {}
    for name, pkg in COMPETITORS.items():
        lib = find_library(*pkg) if pkg else None
        if pkg and not lib:
            print(f"bench: {name} not installed ({pkg[0]}); skipped", file=sys.stderr)
            continue
        table[name] = {"suffix": "", "preload": lib, "conf": None}
    own = os.path.join(ROOT, "build", "libtunalloc.so")
    if not os.path.exists(own):
        raise SystemExit(f"bench: {own} missing; run `make core` first")
    table[REFERENCE] = {"suffix": "", "preload": snapshot(own), "conf": None}
    table[API] = {"suffix": "-ta", "preload": None, "conf": None}
    for name, conf in VARIANTS.items():
        if name in wanted:
            table[name] = dict(table[REFERENCE], conf=conf)
    for name, path in (libs or {}).items():
        table[name] = {"suffix": "", "preload": snapshot(path), "conf": None, "source": path}
    if wanted:
        unknown = [w for w in wanted if w not in table]
        if unknown:
            raise SystemExit(f"bench: unknown or unavailable allocator(s): {unknown}")
        table = {k: v for k, v in table.items() if k in wanted or k in (libs or {})}
    return table


def lib_spec(spec):
    """--lib NAME=PATH, checked before anything runs: a name of its own and
    an ELF shared object (whether it supplies malloc is tried once the
    options are all read, in parse_args)."""
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{spec!r} is not NAME=PATH")
    if not LIB_NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(
            f"{name!r}: a name is letters, digits and . _ + - (it names a table column)")
    if name in NAMES:
        raise argparse.ArgumentTypeError(
            f"{name!r} is a built-in allocator's name; pick another (taken: {', '.join(NAMES)})")
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"{path} does not exist or is not a file")
    with open(path, "rb") as f:
        head = f.read(18)
    # e_ident's magic, then e_type (little-endian on every target this
    # builds for): ET_DYN is a shared object (or a PIE program, which the
    # preload trial refuses).
    if head[:4] != b"\x7fELF" or head[16:18] != b"\x03\x00":
        raise argparse.ArgumentTypeError(f"{path} is not an ELF shared library")
    return name, os.path.abspath(path)


def lib_refusal(path, timeout):
    """Why path cannot stand in for malloc under the preload, or None: one
    tiny workload run through the launcher, checked like every measured run."""
    alloc = {"suffix": "", "preload": path, "conf": None}
    res = check_allocator(run_workload([binary("fastpath", alloc), "mode=imm", "n=1"],
                                       environment(alloc), timeout), alloc)
    return res.get("error")


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


def per_round(mine, base):
    """Round by round, each metric of mine's run over the same round's run
    of base: one dict per round, without the metrics where either run
    failed (or base's is 0), so the index stays the round's."""
    out = []
    for a, b in zip(mine, base):
        ok = "error" not in a and "error" not in b
        out.append({metric: a[field] / b[field] for metric, field in METRICS
                    if ok and field in a and b.get(field)})
    return out


def summarise_case(runs, baseline=None):
    """Medians, ranges and ratios for one case, per allocator; with a
    baseline also the per-round ratios to it, and their median and range
    under "<metric>_per_round_vs_<baseline>"."""
    out = {}
    for name, rs in runs.items():
        errors = [r["error"] for r in rs if "error" in r]
        entry = {f: summarise(rs, f) for _, f in METRICS}
        entry["errors"] = errors
        for key in EXTRAS:
            s = summarise(rs, key)
            if s:
                entry[key] = s["median"]
        out[name] = entry
    for name, entry in out.items():
        for ref in (BASELINE, REFERENCE):
            for metric, field in METRICS:
                mine = entry[field]["median"] if entry[field] else None
                other = out.get(ref, {}).get(field)
                entry[f"{metric}_vs_{ref}"] = ratio(mine, other["median"] if other else None)
        if baseline in runs:
            rounds = per_round(runs[name], runs[baseline])
            entry[f"per_round_vs_{baseline}"] = rounds
            for metric, _ in METRICS:
                entry[f"{metric}_per_round_vs_{baseline}"] = summarise(rounds, metric)
    return out


def ratio_keys(baseline=None):
    """The summary keys of every ratio, ratios of medians first."""
    keys = [f"{m}_vs_{r}" for m, _ in METRICS for r in (BASELINE, REFERENCE)]
    return keys + [f"{m}_per_round_vs_{baseline}" for m, _ in METRICS if baseline]


def geomeans(cases, names, baseline=None):
    """Geometric mean of each ratio over the cases where both sides ran
    (of the per-round ratios' medians, for those)."""
    out = {}
    for name in names:
        entry = {}
        for key in ratio_keys(baseline):
            vals = [c["summary"].get(name, {}).get(key) for c in cases]
            # a per-round ratio is kept with its range: its median counts
            vals = [v["median"] if isinstance(v, dict) else v for v in vals]
            vals = [v for v in vals if v]
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


def decay_env(name, alloc):
    """Each allocator's own spelling of "purge in the background after 1 s"
    (a --lib is a tunalloc build)."""
    if name.startswith("tunalloc") or "source" in alloc:
        return {"TUNALLOC_CONF": DECAY_CONF}
    if name == "jemalloc":
        return {"MALLOC_CONF": DECAY_CONF}
    return {}


def decay(allocs, burst_mib, timeout):
    """Idle-process decay check: time until RSS falls back after a burst."""
    out = {}
    params = {"burst": burst_mib, "idle": 2 * DECAY_MS, "every": 100}
    for name, alloc in allocs.items():
        extra = decay_env(name, alloc)
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
    paths = [(None, allocs.get(REFERENCE, {}).get("preload") or ""),
             (None, os.path.join(ROOT, "build", "bench", "fastpath-ta"))]
    paths += [(name, a["preload"]) for name, a in allocs.items() if "source" in a]
    for name, path in paths:
        if os.path.exists(path):
            with open(path, "rb") as f:
                ids[name or os.path.basename(path)] = hashlib.sha256(f.read()).hexdigest()[:12]
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


def run_cases(allocs, cases, rounds, scale, timeout, baseline=None):
    """Round-major, allocator-interleaved runs, so slow drifts in machine
    load hit every allocator alike; the order rotates by one each round,
    so no allocator always runs right after the same one (which a paired
    ratio would inherit). Time series (frag) are kept from the last round
    only."""
    results = [{"name": c[0], "workload": c[1], "params": scaled(c[2], c[3], scale),
                "runs": {n: [] for n in allocs}} for c in cases]
    names = list(allocs)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for res in results:
            for name in order:
                alloc = allocs[name]
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
        res["summary"] = summarise_case(res["runs"], baseline)
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
    p.add_argument("--lib", action="append", type=lib_spec, default=[], metavar="NAME=PATH",
                   help="also run this tunalloc build's preload library as allocator "
                        "NAME (repeatable)")
    p.add_argument("--baseline", metavar="NAME",
                   help="add tables of per-round ratios to this allocator's runs")
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
    libs = {}
    for name, path in args.lib:
        if name in libs:
            p.error(f"argument --lib: {name!r} given twice")
        why = lib_refusal(path, args.timeout)
        if why:
            p.error(f"argument --lib: {name}={path} is not a preload library that "
                    f"supplies malloc: {why}")
        libs[name] = path
    args.lib = libs
    args.allocators = [a for a in args.allocators.split(",") if a]
    running = args.allocators or [n for n in NAMES if n not in VARIANTS]
    if args.baseline is not None and args.baseline not in [*running, *libs]:
        p.error(f"argument --baseline: {args.baseline!r} is not among the allocators run")
    return args


def main():
    """Runs everything, writes the JSON and prints the tables; exit status 1
    if any run failed, so a broken allocator is not mistaken for a slow one."""
    args = parse_args()
    check_built()
    allocs = allocators(args.allocators, args.lib)
    if args.baseline is not None and args.baseline not in allocs:
        raise SystemExit(f"bench: the baseline {args.baseline} is not installed")
    wanted = [c for c in args.cases.split(",") if c]
    known = [c[0] for c in CASES]
    if any(w not in known for w in wanted):
        raise SystemExit(f"bench: unknown case(s) {wanted}; known: {known}")
    cases = [c for c in CASES if not wanted or c[0] in wanted]
    started = time.monotonic()
    data = {"meta": machine(args, allocs),
            "allocators": {n: {"preload": a["preload"], "conf": a["conf"],
                               "api": "ta_" if a["suffix"] else "malloc",
                               **({"source": a["source"]} if "source" in a else {})}
                           for n, a in allocs.items()}}
    data["baseline"] = args.baseline
    data["cases"] = run_cases(allocs, cases, args.rounds, args.scale, args.timeout,
                              args.baseline)
    data["geomean"] = geomeans(data["cases"], list(allocs), args.baseline)
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
