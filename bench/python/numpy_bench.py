"""numpy benchmark (issue 15): an array-heavy pipeline of many short-lived
arrays of mixed sizes, on numpy's default data-memory handler and on
tunalloc's (tunalloc.numpy).

    python bench/python/numpy_bench.py [--rounds N] [--out bench/results/python_numpy]
    TUNALLOC_PYTHON=raw,mem,obj,numpy python bench/python/numpy_bench.py --peak

Configurations: pymalloc with numpy's default handler; tunalloc on
raw+mem+obj with numpy's default handler; tunalloc on raw+mem+obj with
tunalloc's handler (TUNALLOC_PYTHON=raw,mem,obj,numpy). Every run is a
fresh interpreter; rounds are interleaved (order reversed every other
round). Reported: least CPU time (user+system) of any round and its ratio
to the first configuration, median wall time, median peak RSS (the
child's ru_maxrss). Every configuration must compute the same checksum.
--peak runs the pipeline once in this interpreter instead and prints a
line each time the resident set grows past its peak by 4 MiB or more:
the step, its arrays' size, and tunalloc's live bytes and each arena's
active and dirty bytes then (where a peak above the live bytes comes
from).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CONFIGS = {
    "pymalloc+numpy-default": {},
    "tunalloc+numpy-default": {"TUNALLOC_PYTHON": "raw,mem,obj"},
    "tunalloc+numpy-tunalloc": {"TUNALLOC_PYTHON": "raw,mem,obj,numpy"},
}
STEPS = 1500


def pipeline(after_step=None):
    """Each step draws a size (log-uniform, 8 to 2M float64: 64 B to 16 MiB),
    builds a few temporaries from it (arithmetic, a mask, a filtered copy,
    a concatenation, a sort) and keeps the last 16 results alive, so
    buffers of very different sizes are made and freed out of order.
    after_step(step, n) runs with the step's arrays still alive."""
    import numpy as np
    rng = np.random.default_rng(15)
    window = []
    checksum = 0.0
    for step in range(STEPS):
        n = int(8 * 2 ** rng.uniform(0, 18))
        a = rng.random(n)
        b = a * 2.0 + 1.0
        c = np.sqrt(b)
        d = c[c > 1.5]
        e = np.concatenate([d, a[: n // 2]])
        e.sort()
        f = np.zeros(n // 3 + 1)
        f[: min(len(f), len(e))] = e[: len(f)]
        checksum += float(f.sum()) + (float(e[-1]) if len(e) else 0.0)
        window.append(f)
        if len(window) > 16:
            window.pop(0)
        if after_step is not None:
            after_step(step, n)
    return round(checksum, 3)


def peak_trace():
    """--peak: see the module's doc."""
    import tunalloc
    page = tunalloc.ctl("arenas.page")
    peak = 0

    def resident_mib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)

    def after_step(step, n):
        nonlocal peak
        rss = resident_mib()
        if rss < peak + 4:
            return
        peak = rss
        st = tunalloc.stats()
        arenas = " ".join(
            f"{i}:{a['pactive'] * page >> 20}/{a['pdirty'] * page >> 20}"
            for i, a in st["arenas"].items() if i != tunalloc.ARENAS_ALL)
        print(f"step {step:5d} arrays {n * 8 / (1 << 20):7.2f} MiB rss {rss:6.1f} MiB "
              f"live {st['allocated'] >> 20:4d} MiB arena:active/dirty MiB {arenas}")

    print(f"active domains {tunalloc.status().active}")
    pipeline(after_step)


def child():
    t0, c0 = time.perf_counter(), time.process_time()
    result = pipeline()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    import tunalloc
    print(json.dumps({"result": result, "seconds": wall, "cpu_seconds": cpu,
                      "active": list(tunalloc.status().active)}))


def run_one(config):
    env = {k: v for k, v in os.environ.items()
           if k not in ("TUNALLOC_PYTHON", "PYTHONMALLOC", "LD_PRELOAD")}
    env.update(CONFIGS[config])
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child"],
                            env=env, stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{config} failed")
    res = json.loads(out)
    res["peak_rss"] = usage.ru_maxrss * 1024
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=os.path.join("bench", "results", "python_numpy"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--peak", action="store_true",
                    help="trace where this interpreter's peak RSS comes from")
    args = ap.parse_args()
    if args.child:
        child()
        return
    if args.peak:
        peak_trace()
        return
    runs = {c: [] for c in CONFIGS}
    for r in range(args.rounds):
        order = list(CONFIGS) if r % 2 == 0 else list(reversed(CONFIGS))
        for c in order:
            runs[c].append(run_one(c))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    if len({x["result"] for xs in runs.values() for x in xs}) != 1:
        raise SystemExit(f"configurations disagree: {runs}")
    wanted = {c: CONFIGS[c].get("TUNALLOC_PYTHON", "") for c in CONFIGS}
    for c, xs in runs.items():
        active = ",".join(xs[0]["active"])
        if active != wanted[c]:
            raise SystemExit(f"{c}: active domains {active!r}, wanted {wanted[c]!r}")
    base = min(x["cpu_seconds"] for x in runs[next(iter(CONFIGS))])
    command = "python3 bench/python/numpy_bench.py " + " ".join(sys.argv[1:])
    lines = ["# numpy benchmark", "",
             f"`{command.strip()}` — Python {sys.version.split()[0]}, numpy "
             f"{__import__('numpy').__version__}, {os.cpu_count()} CPUs, {args.rounds} "
             f"interleaved rounds; {STEPS} pipeline steps (arrays of 64 B to 16 MiB). "
             "Least CPU time and its ratio to the first column (lower is better), "
             "median wall time, median peak RSS.", "",
             "| | " + " | ".join(CONFIGS) + " |", "|---|" + "---|" * len(CONFIGS)]
    summary = {}
    for c, xs in runs.items():
        summary[c] = {"cpu_seconds": min(x["cpu_seconds"] for x in xs),
                      "wall_seconds": statistics.median(x["seconds"] for x in xs),
                      "peak_rss": statistics.median(x["peak_rss"] for x in xs)}
        summary[c]["ratio"] = summary[c]["cpu_seconds"] / base
    lines.append("| CPU time | " + " | ".join(
        f"{summary[c]['cpu_seconds']:.2f} s ×{summary[c]['ratio']:.2f}" for c in CONFIGS) + " |")
    lines.append("| wall time | " + " | ".join(
        f"{summary[c]['wall_seconds']:.2f} s" for c in CONFIGS) + " |")
    lines.append("| peak RSS | " + " | ".join(
        f"{summary[c]['peak_rss'] / (1 << 20):.0f} MiB" for c in CONFIGS) + " |")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".md", "w") as f:
        f.write(text)
    with open(args.out + ".json", "w") as f:
        json.dump({"command": command.strip(), "rounds": args.rounds,
                   "runs": runs, "summary": summary}, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
