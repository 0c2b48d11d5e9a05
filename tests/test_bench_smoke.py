"""Smoke test of the benchmark suite (bench/): every workload runs once
with tiny parameters against glibc, tunalloc's ta_ API and tunalloc as
LD_PRELOAD, each verifying its own data; the driver and the report turn
such runs into their JSON, Markdown and PNG. Correctness only: nothing
here looks at how long anything took."""
import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "build", "bench")
PRELOAD = os.path.join(ROOT, "build", "libtunalloc.so")
LAUNCH = os.path.join(BENCH, "launch")

# (workload, arguments, expected "ops" or None when data-dependent)
TINY = [
    ("fastpath", ["mode=imm", "n=3000"], 3000),
    ("fastpath", ["mode=sized", "n=3000", "size=0"], 3000),
    ("fastpath", ["mode=batch", "batch=100", "size=256", "n=2500"], 2500),
    ("fastpath", ["mode=batch", "batch=1000", "n=2500", "threads=2"], 5000),
    ("prodcons", ["n=3000", "pairs=1"], 3000),
    ("prodcons", ["n=3000", "pairs=2", "min=64", "max=64"], 6000),
    ("larson", ["threads=2", "rounds=3", "n=500", "slots=100"], 3000),
    ("churn", ["threads=1", "n=3000", "live=500"], 3000),
    ("churn", ["threads=2", "n=3000", "live=500", "min=8", "max=8"], 6000),
    ("passing", ["threads=2", "n=100", "pool=64", "batch=16"], 3200),
    ("passing", ["threads=3", "n=100", "pool=8", "batch=32", "remote=100"], 9600),
    ("falseshare", ["mode=thrash", "threads=2", "n=200", "writes=5"], 400),
    ("falseshare", ["mode=scratch", "threads=2", "n=200", "writes=5"], 400),
    ("realloc_grow", ["n=5000", "buffers=16", "max=4096"], 5000),
    ("frag", ["peak=2", "phases=3", "churn=1000", "sample=300"], None),
    ("large", ["n=6", "window=2", "max=2097152"], 8),
    ("decay", ["burst=8", "idle=300", "every=50", "max=262144"], None),
]

ALLOCATORS = ["glibc", "tunalloc-api", "tunalloc"]


@pytest.fixture(scope="module")
def built():
    """Builds the core and the bench programs (not part of test-build)."""
    subprocess.run(["make", "-s", "core", "bench-build"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return BENCH


def command(workload, alloc, args):
    """argv and environment for one allocator, through the launcher."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "BENCH_PRELOAD")}
    suffix = "-ta" if alloc == "tunalloc-api" else ""
    if alloc == "tunalloc":
        env["BENCH_PRELOAD"] = PRELOAD
    return [LAUNCH, os.path.join(BENCH, workload + suffix)] + args, env


def run(cmd, env, timeout=120):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("alloc", ALLOCATORS)
@pytest.mark.parametrize("workload,args,ops", TINY,
                         ids=[f"{w}-{'-'.join(a[:1])}" for w, a, _ in TINY])
def test_workload_runs_and_verifies(built, alloc, workload, args, ops):
    cmd, env = command(workload, alloc, args)
    res = run(cmd, env)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    out = json.loads(lines[-2])
    usage = json.loads(lines[-1])
    assert usage["maxrss_kib"] > 0 and usage["cpu_s"] >= 0
    assert out["api"].startswith({"glibc": "libc.", "tunalloc": "libtunalloc.so",
                                  "tunalloc-api": "ta_api"}[alloc])
    assert out["seconds"] >= 0
    for arg in args:
        key, value = arg.split("=")
        assert str(out["params"][key]) == value
    if ops is not None:
        assert out["ops"] == ops
    else:
        assert out["ops"] > 0


@pytest.mark.parametrize("alloc", ALLOCATORS)
def test_frag_accounts_live_bytes(built, alloc):
    cmd, env = command("frag", alloc, ["peak=4", "phases=2", "churn=2000", "sample=200"])
    res = run(cmd, env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-2])
    assert out["peak_live"] >= 4 << 20
    assert out["peak_rss"] >= out["peak_live"]
    assert out["rss_live_ratio"] >= 1.0
    assert len(out["rss_mib"]) == len(out["live_mib"]) >= 4


def test_decay_reports_the_burst(built):
    cmd, env = command("decay", "glibc", ["burst=16", "idle=200", "every=50"])
    res = run(cmd, env)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-2])
    assert out["peak_rss"] - out["base_rss"] >= 15 << 20
    assert out["rss_mib"][-1][0] >= 200


@pytest.mark.parametrize("workload", sorted({w for w, _, _ in TINY}))
@pytest.mark.parametrize("bad", ["nosuch=1", "n=abc", "n=-5", "justtext", "n=99999999999999999999999"])
def test_bad_arguments_are_rejected(built, workload, bad):
    res = run([os.path.join(BENCH, workload), bad], dict(os.environ))
    assert res.returncode == 2
    assert "usage:" in res.stderr


def test_mode_and_range_checks(built):
    fast = os.path.join(BENCH, "fastpath")
    assert run([fast, "mode=bogus"], dict(os.environ)).returncode == 2
    assert run([fast, "n=0"], dict(os.environ)).returncode == 2
    for workload in ("prodcons", "churn", "passing"):
        res = run([os.path.join(BENCH, workload), "min=64", "max=32"], dict(os.environ))
        assert res.returncode == 1 and "min" in res.stderr
    assert run([os.path.join(BENCH, "churn"), "min=4"], dict(os.environ)).returncode == 2
    assert run([os.path.join(BENCH, "passing"), "threads=1"], dict(os.environ)).returncode == 2


@pytest.mark.parametrize("alloc", ALLOCATORS)
def test_passing_frees_the_share_it_passes(built, alloc):
    """remote= sets which share of the frees happen on another thread."""
    shares = {}
    for remote in (0, 100):
        cmd, env = command("passing", alloc, ["n=200", "pool=16", "batch=8",
                                              f"remote={remote}"])
        res = run(cmd, env)
        assert res.returncode == 0, res.stderr
        shares[remote] = json.loads(res.stdout.strip().splitlines()[-2])["remote_share"]
    assert shares[0] == 0.0
    assert shares[100] > 0.9


def test_launcher_reports_child_failure(built):
    res = run([LAUNCH, os.path.join(BENCH, "fastpath"), "n=0"], dict(os.environ))
    assert res.returncode == 2
    res = run([LAUNCH, os.path.join(BENCH, "no-such-program")], dict(os.environ))
    assert res.returncode == 127
    assert run([LAUNCH], dict(os.environ)).returncode == 2


@pytest.fixture(scope="module")
def driver_result(built, tmp_path_factory):
    """One tiny run of the whole driver, decay check included, with the
    secure-mode variant (which must run every workload without a report)
    and a copy of this build's preload library as another build (--lib)."""
    out = tmp_path_factory.mktemp("bench") / "latest.json"
    res = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "run.py"), "--rounds", "1",
         "--scale", "0.0005", "--allocators", ",".join(ALLOCATORS + ["tunalloc-secure"]),
         "--lib", f"copy={PRELOAD}", "--baseline", "copy", "--no-callgrind",
         "--decay-burst", "8", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "| fast-imm |" in res.stdout
    with open(out) as f:
        return out, json.load(f)


def test_driver_summarises_every_case(driver_result):
    _, data = driver_result
    names = [c["name"] for c in data["cases"]]
    assert len(names) == 15 and "large" in names and "cache-scratch" in names
    assert {"churn-1t", "churn-2t", "passing", "prodcons-64"} <= set(names)
    assert list(data["allocators"]) == ["glibc", "tunalloc", "tunalloc-api", "tunalloc-secure",
                                        "copy"]
    for case in data["cases"]:
        for alloc in ALLOCATORS + ["tunalloc-secure", "copy"]:
            s = case["summary"][alloc]
            assert s["errors"] == []
            assert s["seconds"]["min"] <= s["seconds"]["median"] <= s["seconds"]["max"]
            assert s["maxrss_kib"]["median"] > 0
        assert case["summary"]["glibc"]["time_vs_glibc"] == pytest.approx(1.0)
        assert case["summary"]["tunalloc"]["time_vs_tunalloc"] == pytest.approx(1.0)
    assert data["geomean"]["glibc"]["time_vs_glibc"] == pytest.approx(1.0)
    assert data["geomean"]["tunalloc-api"]["time_vs_glibc_cases"] == 15
    assert data["geomean"]["copy"]["time_per_round_vs_copy"] == pytest.approx(1.0)
    assert data["geomean"]["tunalloc"]["cpu_per_round_vs_copy_cases"] == 15
    assert set(data["decay"]) == set(ALLOCATORS + ["tunalloc-secure", "copy"])
    assert data["allocators"]["tunalloc-secure"]["conf"] == "secure:true"
    for name in ("tunalloc", "copy"):
        assert data["decay"][name]["conf"] == {
            "TUNALLOC_CONF": "background_thread:true,dirty_decay_ms:1000"}
    assert all("error" not in d for d in data["decay"].values())


def test_driver_runs_another_build_from_its_own_copy(driver_result):
    """A --lib runs from a snapshot of its own, named in the result with
    its source and hash, and its malloc was the one measured."""
    _, data = driver_result
    copy, own = data["allocators"]["copy"], data["allocators"]["tunalloc"]
    assert copy["source"] == PRELOAD and "source" not in own
    assert copy["preload"] != own["preload"] and copy["preload"] != PRELOAD
    assert os.path.basename(copy["preload"]) == "libtunalloc.so"
    builds = data["meta"]["tunalloc_build"]
    assert builds["copy"] == builds["libtunalloc.so"]
    assert data["baseline"] == "copy"


def test_report_writes_markdown_and_docs(driver_result, tmp_path):
    out, data = driver_result
    docs = tmp_path / "bench.md"
    docs.write_text("intro\n<!-- BENCH-TABLE:BEGIN -->\nold\n<!-- BENCH-TABLE:END -->\nend\n")
    md = tmp_path / "latest.md"
    res = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "report.py"), str(out),
                          "--md", str(md), "--docs", str(docs)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    text = md.read_text()
    for case in data["cases"]:
        assert f"| {case['name']} |" in text
    assert "**geomean**" in text and "Decay" in text
    assert "| case | glibc | tunalloc | tunalloc-api | tunalloc-secure | copy |" in text
    assert f"Other tunalloc builds (--lib): copy = `{PRELOAD}`" in text
    for what in ("Time", "CPU time (user+sys)", "Peak RSS"):
        assert f"### {what} ratio to copy, per round" in text
    # the baseline's own column: each round over itself
    ones = [line for line in text.splitlines() if line.endswith(" | 1.000 (1.000-1.000) |")]
    assert len(ones) == 3 * len(data["cases"])
    page = docs.read_text()
    assert page.startswith("intro\n") and page.endswith("end\n")
    assert "old" not in page and "| fast-imm |" in page


def test_report_without_a_baseline_is_the_report_before_it(driver_result):
    """The per-round tables come only with a baseline; every other table
    is the same with or without one."""
    _, data = driver_result
    report = bench_module("bench_report", "report.py")
    plain = report.markdown(dict(data, baseline=None))
    with_baseline = report.markdown(data)
    assert "per round" not in plain and "per round" in with_baseline
    for part in plain.split("\n\n"):
        assert part in with_baseline


def test_report_plots_png(driver_result, tmp_path):
    pytest.importorskip("matplotlib")
    out, _ = driver_result
    png = tmp_path / "ratios.png"
    res = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "report.py"), str(out),
                          "--png", str(png)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _import_driver():
    """bench/run.py as a module, without leaving bytecode in bench/."""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    keep, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        import run as driver
    finally:
        sys.path.pop(0)
        sys.dont_write_bytecode = keep
    return driver


def test_driver_rejects_a_preload_that_did_not_take():
    driver = _import_driver()
    tunalloc = {"preload": PRELOAD, "suffix": ""}
    assert "error" in driver.check_allocator({"api": "libc.so.6"}, tunalloc)
    assert "error" not in driver.check_allocator({"api": "libtunalloc.so"}, tunalloc)
    glibc = {"preload": None, "suffix": ""}
    assert "error" in driver.check_allocator({"api": "libjemalloc.so.2"}, glibc)
    failed = {"error": "exit 1: boom"}
    assert driver.check_allocator(failed, glibc) is failed


def test_per_round_ratios_pair_the_runs_of_each_round():
    """Each round's run over the baseline's run of that same round; a
    round where either failed is left out, not shifted onto the next."""
    driver = _import_driver()

    def runs(*seconds):
        return [{"error": "exit 1: boom"} if t is None else
                {"seconds": t, "cpu_s": 2 * t, "maxrss_kib": 1000 * t} for t in seconds]
    summary = driver.summarise_case({"base": runs(2.0, 1.0, 3.0, None, 4.0),
                                     "new": runs(1.0, None, 3.3, 9.0, 5.0)}, "base")
    new = summary["new"]
    assert new["per_round_vs_base"] == [
        {"time": 0.5, "cpu": 0.5, "rss": 0.5}, {}, {"time": pytest.approx(1.1),
         "cpu": pytest.approx(1.1), "rss": pytest.approx(1.1)}, {},
        {"time": 1.25, "cpu": 1.25, "rss": 1.25}]
    for metric in ("time", "cpu", "rss"):
        assert new[f"{metric}_per_round_vs_base"] == pytest.approx(
            {"median": 1.1, "min": 0.5, "max": 1.25})
        assert summary["base"][f"{metric}_per_round_vs_base"] == {
            "median": 1.0, "min": 1.0, "max": 1.0}
    # the ratio of medians is another number: 4.15 / 2.5
    assert new["seconds"]["median"] / summary["base"]["seconds"]["median"] == \
        pytest.approx(1.66)
    geo = driver.geomeans([{"summary": summary}], ["base", "new"], "base")
    assert geo["new"]["time_per_round_vs_base"] == pytest.approx(1.1)
    assert geo["new"]["time_per_round_vs_base_cases"] == 1
    # without a baseline, nothing per round
    plain = driver.summarise_case({"base": runs(2.0), "new": runs(1.0)})
    assert not [k for k in plain["new"] if "per_round" in k]
    assert not [k for k in driver.geomeans([{"summary": plain}], ["new"])["new"]
                if "per_round" in k]


def test_driver_pairs_a_build_with_a_copy_of_itself(built, tmp_path):
    """A tiny A/A run over several rounds: the JSON's per-round ratios are
    the ratios of the runs of the same round, and their median is the
    table's (no timing claim: the values are whatever the rounds took)."""
    out = tmp_path / "aa.json"
    res = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "run.py"), "--rounds", "3",
         "--scale", "0.0005", "--allocators", "tunalloc", "--lib", f"same={PRELOAD}",
         "--baseline", "same", "--cases", "fast-imm,prodcons", "--no-callgrind",
         "--no-decay", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    data = json.loads(out.read_text())
    assert list(data["allocators"]) == ["tunalloc", "same"]
    # no table of ratios to glibc, which did not run: it would be n/a throughout
    assert "ratio to glibc" not in res.stdout and "Time ratio to tunalloc (preload)" in res.stdout
    assert "### Time ratio to same, per round" in res.stdout
    # the order rotates: round 2 starts with the allocator round 1 ran second
    order = [line.split()[2] for line in res.stderr.splitlines() if "fast-imm" in line]
    assert order == ["tunalloc", "same", "same", "tunalloc", "tunalloc", "same"]
    for case in data["cases"]:
        mine, base = case["runs"]["tunalloc"], case["runs"]["same"]
        entry = case["summary"]["tunalloc"]
        want = [{"time": a["seconds"] / b["seconds"], "cpu": a["cpu_s"] / b["cpu_s"],
                 "rss": a["maxrss_kib"] / b["maxrss_kib"]} for a, b in zip(mine, base)]
        assert entry["per_round_vs_same"] == [pytest.approx(w) for w in want]
        for metric in ("time", "cpu", "rss"):
            ratios = sorted(w[metric] for w in want)
            assert entry[f"{metric}_per_round_vs_same"] == pytest.approx(
                {"median": ratios[1], "min": ratios[0], "max": ratios[2]})


@pytest.fixture(scope="module")
def not_an_allocator(tmp_path_factory):
    """A shared library that loads fine but has no malloc."""
    cc = shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler")
    tmp = tmp_path_factory.mktemp("nomalloc")
    (tmp / "n.c").write_text("int nomalloc_answer(void) { return 42; }\n")
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp / "libnomalloc.so"), str(tmp / "n.c")],
                   check=True)
    return str(tmp / "libnomalloc.so")


@pytest.mark.parametrize("args, why", [
    (["--lib", "main"], "'main' is not NAME=PATH"),
    (["--lib", f"glibc={PRELOAD}"], "'glibc' is a built-in allocator's name"),
    (["--lib", f"tunalloc={PRELOAD}"], "'tunalloc' is a built-in allocator's name"),
    (["--lib", f"a,b={PRELOAD}"], "'a,b': a name is letters"),
    (["--lib", "main=/nonexistent/libtunalloc.so"], "does not exist"),
    (["--lib", f"main={os.path.join(ROOT, 'README.md')}"], "is not an ELF shared library"),
    (["--lib", "main=NOMALLOC"], "is not a preload library that supplies malloc: "
                                 "malloc came from 'libc.so.6', expected 'libnomalloc.so'"),
    (["--lib", f"main={PRELOAD}", "--lib", f"main={PRELOAD}"], "'main' given twice"),
    (["--lib", f"main={PRELOAD}", "--baseline", "mian"],
     "--baseline: 'mian' is not among the allocators run"),
    (["--allocators", "glibc", "--baseline", "tunalloc"],
     "--baseline: 'tunalloc' is not among the allocators run"),
])
def test_driver_refuses_a_bad_lib_before_any_round(built, not_an_allocator, tmp_path, args, why):
    out = tmp_path / "never.json"
    args = [a.replace("NOMALLOC", not_an_allocator) for a in args]
    res = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run.py"), "--rounds", "1",
                          "--scale", "0.0005", "--cases", "fast-imm", "--no-callgrind",
                          "--no-decay", "--out", str(out)] + args,
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and why in res.stderr, res.stderr
    assert "[1/1]" not in res.stderr and not out.exists()


def test_driver_refuses_programs_older_than_the_core(built):
    """The -ta programs link the core statically: after the core is rebuilt
    they measure the old code until relinked, so the driver refuses them."""
    driver = _import_driver()
    driver.check_built()
    core = os.path.join(ROOT, "build", "libtunalloc.a")
    was = os.stat(core)
    newer = max(os.stat(os.path.join(BENCH, "fastpath-ta")).st_mtime, was.st_mtime) + 10
    os.utime(core, (newer, newer))
    try:
        with pytest.raises(SystemExit, match="older than their sources"):
            driver.check_built()
    finally:
        os.utime(core, ns=(was.st_atime_ns, was.st_mtime_ns))
    driver.check_built()


def test_prof_bench_refuses_programs_older_than_the_core(built, tmp_path):
    """bench/prof/run.py counts the same static fastpath-ta: it refuses a
    stale one too, before anything runs."""
    core = os.path.join(ROOT, "build", "libtunalloc.a")
    was = os.stat(core)
    newer = max(os.stat(os.path.join(BENCH, "fastpath-ta")).st_mtime, was.st_mtime) + 10
    os.utime(core, (newer, newer))
    try:
        res = subprocess.run(
            [sys.executable, os.path.join(ROOT, "bench", "prof", "run.py"), "--only", "fastpath",
             "--out", str(tmp_path / "prof")], cwd=ROOT, capture_output=True, text=True,
            timeout=120)
    finally:
        os.utime(core, ns=(was.st_atime_ns, was.st_mtime_ns))
    assert res.returncode != 0 and "older than their sources" in res.stderr, res.stderr[-2000:]
    assert not (tmp_path / "prof.md").exists()


def test_report_rejects_bad_input(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    report = os.path.join(ROOT, "bench", "report.py")
    res = subprocess.run([sys.executable, report, str(bad)], capture_output=True, text=True)
    assert res.returncode != 0 and "cannot read" in res.stderr
    bad.write_text("[1, 2]")
    res = subprocess.run([sys.executable, report, str(bad)], capture_output=True, text=True)
    assert res.returncode != 0 and "not a bench/run.py result" in res.stderr


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_callgrind_counts_fast_path(built, tmp_path):
    out = tmp_path / "cg.json"
    res = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "run.py"), "--rounds", "1",
         "--scale", "0.0001", "--allocators", "tunalloc-api", "--cases", "fast-imm",
         "--no-decay", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    counts = json.loads(out.read_text())["callgrind"]["tunalloc-api"]
    assert set(counts) == {"imm-64", "sized-64", "batch100-256"}
    # A malloc+free pair is at least a few instructions and far below a
    # system call's worth; a wrong subtraction would land outside.
    assert all(5 < v < 5000 for v in counts.values())


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_callgrind_counts_threaded_case(built, tmp_path):
    """A threaded case run gets its allocator's instructions per message,
    from the preloaded library's code and from the core's sources in the
    -ta build alike."""
    out = tmp_path / "cg.json"
    res = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "run.py"), "--rounds", "1",
         "--scale", "0.001", "--allocators", "tunalloc,tunalloc-api", "--cases", "prodcons-64",
         "--lib", f"copy={PRELOAD}", "--no-decay", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    counts = json.loads(out.read_text())["callgrind_threaded"]
    # a malloc and a remote free: more than a fast-path pair's share, far
    # below a lock per message or a system call's worth
    assert all(20 < counts[a]["prodcons-64"] < 1000 for a in ("tunalloc", "tunalloc-api"))
    # another build's library (here this one's, copied) is counted from its
    # own snapshot: the same code, the same count
    assert counts["copy"]["prodcons-64"] == pytest.approx(counts["tunalloc"]["prodcons-64"],
                                                          rel=0.02)


# Tiny inputs for the Lua workloads (bench/lua), run through timed.lua.
LUA_TINY = {"binary_trees": "6", "table_churn": "1", "string_build": "2000",
            "coroutines": "1000", "serializer": "20", "compute": "1000"}


@pytest.mark.parametrize("interpreter", ["lua5.4", "tunalua"])
@pytest.mark.parametrize("workload", sorted(LUA_TINY))
def test_lua_timed_iterations_repeat_the_workload(interpreter, workload):
    exe = shutil.which("lua5.4") if interpreter == "lua5.4" else \
        os.path.join(ROOT, "build", "tunalua")
    if not exe or not os.path.exists(exe):
        pytest.skip(f"{interpreter} not built")
    lua = os.path.join(ROOT, "bench", "lua")
    res = run([exe, os.path.join(lua, "timed.lua"), os.path.join(lua, workload + ".lua"),
               "3", LUA_TINY[workload]], dict(os.environ), timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[-1].startswith("#cpu ")
    assert len([float(t) for t in lines[-1].split()[1:]]) == 3
    assert len(lines) == 4 and len(set(lines[:-1])) == 1
    assert lines[0].startswith(workload + "\t") or lines[0].startswith(workload + " ")


def test_lua_timed_rejects_a_missing_count():
    lua5 = shutil.which("lua5.4")
    if not lua5:
        pytest.skip("lua5.4 not installed")
    res = run([lua5, os.path.join(ROOT, "bench", "lua", "timed.lua")], dict(os.environ))
    assert res.returncode != 0 and "usage" in res.stderr


def bench_module(alias, *path):
    """A driver under bench/ as a module named alias, not `run` (bench/run.py
    is that, and an earlier test may have imported it)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(alias, os.path.join(ROOT, "bench", *path))
    module = importlib.util.module_from_spec(spec)
    keep, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = keep
    return module


def lua_driver():
    return bench_module("lua_bench_run", "lua", "run.py")


def test_lua_report_compares_round_by_round():
    driver = lua_driver()
    # tunalua is ahead in every round but its best round fell in a slow
    # spell: the least times say it lost, the rounds say it won.
    runs = {"lua5.4 (glibc)": [[2.0, 2.1], [2.0], [1.9]],
            "lua5.4 + jemalloc": [[1.1, 1.2], [1.0], [0.8]],
            "lua5.4 + mimalloc": [[1.2], [1.1], [1.0]],
            "lua5.4 + tunalloc.install()": [[1.0], [1.0], [1.0]],
            "tunalua --alloc=system + jemalloc": [[1.2], [1.2], [1.2]],
            "tunalua --alloc=system + mimalloc": [[1.3], [1.2], [1.1]],
            "tunalua": [[1.0, 1.3], [0.9], [0.85]]}
    raw = {"table_churn": {c: {"time": [t for r in v for t in r], "run_times": v,
                               "run_cpu": [1.0] * 3, "wall": [1.0] * 3,
                               "rss_kib": [1024] * 3} for c, v in runs.items()}}
    table = driver.summarize(raw)
    row = table["table_churn"]
    assert row["tunalua"]["tunalua_paired"] == 1.0
    assert row["tunalua"]["tunalua_paired_ci95"] == [1.0, 1.0]
    # rounds: 1.0/1.1, 0.9/1.0, 0.85/0.8 -> median 0.909; resampling
    # reaches every ratio of the three, so the interval spans them
    assert row["lua5.4 + jemalloc"]["tunalua_paired"] == 0.909
    assert row["lua5.4 + jemalloc"]["tunalua_paired_ci95"] == [0.9, 1.062]
    assert row["lua5.4 + jemalloc"]["time_s"] == 0.8 and row["tunalua"]["time_s"] == 0.85
    # the same seed, the same timings: the same report
    assert driver.summarize(raw) == table
    md = driver.markdown(table, 3, "test", (0.0, 0.0))
    preloaded, same = md.split("tunalua faster than every allocator preloaded")[1:]
    assert "- by least time: 0 of 1 workloads\n" in preloaded
    assert "- round by round: 1 of 1 workloads (table_churn)\n" in preloaded
    assert "- round by round, whole interval below 1: 0 of 1 workloads\n" in preloaded
    assert same.startswith(" under the same interpreter")
    for how in ("by least time", "round by round", "round by round, whole interval below 1"):
        assert f"- {how}: 1 of 1 workloads (table_churn)\n" in same
    assert "| table_churn | 0.450 [0.447, 0.500] | 0.909 [0.900, 1.062] |" in md


@pytest.mark.parametrize("args, why", [
    (["--workloads", "nope"], "unknown workload or configuration: nope"),
    (["--configs", "lua5.4 (glibc)"], "needs tunalua and at least one other"),
    (["--configs", "tunalua,tunalua"], "needs tunalua and at least one other"),
    (["--out", "../elsewhere"], "--out is a file name"),
    (["--callgrind", "--workloads", "table_churn"], "--callgrind counts every"),
    (["--repeat", "0"], "--repeat must be >= 1"),
])
def test_lua_driver_rejects_bad_arguments(args, why):
    res = run([sys.executable, os.path.join(ROOT, "bench", "lua", "run.py")] + args,
              dict(os.environ))
    assert res.returncode == 2 and why in res.stderr, res.stderr


# A callgrind file as valgrind writes it: compressed names, a function
# seen in two blocks, relative positions, call edges with inclusive costs.
CALLGRIND_OUT = """# callgrind format
version: 1
positions: line
events: Ir
summary: 750

ob=(1) /usr/bin/lua5.4
fl=(1) ???
fn=(1) main
0 100
cfn=(2) 0x1f480
calls=3 0
0 600
+2 50

fn=(2)
0 40
cob=(2) libc.so.6
cfi=(2) ???
cfn=(3) realloc
calls=2 0
0 300
cfn=(4) free
calls=1 0
-1 260

fn=(3)
0 290
cfn=(5) _int_realloc
calls=2 0
0 10

fn=(4)
* 260
fn=(2)
0 0
fn=(5)
0 10
"""


def test_callgrind_profile_parses_edges_and_inclusive_costs(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    try:
        import callgrind
    finally:
        sys.path.pop(0)
    out = tmp_path / "cg.out"
    out.write_text(CALLGRIND_OUT)
    prof = callgrind.parse(str(out))
    assert prof.total == 750 == prof.inclusive("main")
    assert prof.own == {"main": 150, "0x1f480": 40, "realloc": 290, "free": 260,
                        "_int_realloc": 10}
    assert sum(prof.own.values()) == prof.total
    assert prof.by_object == {"/usr/bin/lua5.4": 750} and prof.by_file == {"???": 750}
    assert prof.edges[("0x1f480", "realloc")] == [2, 300]
    assert prof.edges[("main", "0x1f480")] == [3, 600]
    assert prof.top_caller("realloc") == "0x1f480"
    assert prof.top_caller("nobody") is None
    assert prof.inclusive("0x1f480") == 600
    driver = lua_driver()
    assert driver.allocator_instructions("lua5.4 + jemalloc", prof) == 600
    with pytest.raises(RuntimeError):
        driver.allocator_instructions("tunalua", prof)
    out.write_text("events: Ir\nfn=(1) f\n0 5\n")
    with pytest.raises(RuntimeError):
        callgrind.parse(str(out))


def test_python_bench_config_subset():
    """--configs keeps pymalloc (the ratios' base) and the named ones only,
    and refuses a name it does not know."""
    mod = bench_module("pybench_run", "python", "run.py")
    assert set(mod.configs(["tunalloc"])) == {"pymalloc", "tunalloc"}
    assert "tunalloc-arena" in mod.configs()
    res = run([sys.executable, os.path.join(ROOT, "bench", "python", "run.py"),
               "--configs", "tunalloc,nosuch"], dict(os.environ))
    assert res.returncode == 2 and "unknown configurations" in res.stderr


def test_prof_bench_lua_runs_make_the_same_requests(tmp_path):
    """bench/prof/run.py compares tunalua with and without --profile: the
    two must run the same script, request for request, or the ratio
    measures the collector's pace and not the profiler. Loading the
    tunalloc module changes serializer's requests by a quarter on its
    small heap, so both sides load it."""
    tunalua = os.path.join(ROOT, "build", "tunalua")
    if not os.path.exists(tunalua):
        pytest.skip("tunalua not built")
    prof_run = bench_module("prof_bench_run", "prof", "run.py")
    counts = {}
    for profiled in (False, True):
        res = run([tunalua, "--stats"] + prof_run.lua_profile_args("serializer", profiled,
                                                                   str(tmp_path)) +
                  [os.path.join(ROOT, "bench", "lua", "serializer.lua"), "1000"],
                  dict(os.environ), timeout=120)
        assert res.returncode == 0, res.stderr
        stats = res.stderr.strip().splitlines()[-1].split()
        counts[profiled] = int(stats[stats.index("allocs") + 1])
    # Lua's hash seed (the clock, addresses) moves the count by up to 1.5%
    # between runs of one kind; the module moved it by 27%.
    assert abs(counts[True] - counts[False]) <= counts[False] // 20, counts
