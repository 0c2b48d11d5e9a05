"""One Python workload under no tracing, tracemalloc or tunalloc's sampled
profile: `python side_by_side.py none|tracemalloc|tunalloc` prints JSON with
the CPU time, the top 10 lines by live bytes the tracer reports, and the
true top 10. Fifteen sites (all in the generated module "sites") keep
blocks of mixed sizes alive, each 1.3 times the bytes of the one before
(from 1 MiB), so the true top 10 is sites 5 to 14; temporary objects made
and dropped in between are the work a tracer slows down."""
import json
import sys
import time

N_SITES = 15
SIZES = (64, 200, 1000, 5000, 30000)
SRC = "\n".join(f"def site{i}(n, size):\n    return [bytes(size) for _ in range(n)]"
                for i in range(N_SITES))
ns = {}
exec(compile(SRC, "sites", "exec"), ns)


def site_line(i):
    return 2 * i + 2


def churn(rounds):
    total = 0
    for r in range(rounds):
        d = {str(k): [k, str(k) * 3, (k, k + 1)] for k in range(200)}
        total += len(d)
    return total


def run():
    keep = []
    for i in range(N_SITES):
        size = SIZES[i % len(SIZES)]
        live = int((1 << 20) * 1.3 ** i)
        keep.append(ns[f"site{i}"](live // (size + 33), size))
        churn(300)
    return keep


def main():
    mode = sys.argv[1]
    if mode == "tracemalloc":
        import tracemalloc
        tracemalloc.start(1)
    elif mode == "tunalloc":
        from tunalloc import profile
        profile.start()
    elif mode != "none":
        raise SystemExit("usage: side_by_side.py none|tracemalloc|tunalloc")
    c0 = time.process_time()
    keep = run()
    cpu = time.process_time() - c0
    top = []
    if mode == "tracemalloc":
        stats = tracemalloc.take_snapshot().statistics("lineno")
        top = [f"{s.traceback[0].filename}:{s.traceback[0].lineno}" for s in stats[:10]]
    elif mode == "tunalloc":
        top = [s.key.split(" (")[0] for s in profile.snapshot().top(10, key="line")]
    truth = [f"sites:{site_line(i)}" for i in range(N_SITES - 1, N_SITES - 11, -1)]
    print(json.dumps({"mode": mode, "cpu_s": cpu, "top10": top, "truth_top10": truth,
                      "kept": len(keep)}))


if __name__ == "__main__":
    main()
