"""Smoke of the soak (bench/soak.c, `make soak`): a few seconds of threaded
churn under the tunalloc preload, with and without fork, must end with
every block's contents intact and every fork child exited cleanly; the
driver must turn such runs into its table. Correctness only: nothing here
compares memory or time with anything."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "build", "bench")
PRELOAD = os.path.join(ROOT, "build", "libtunalloc.so")
SOAK = os.path.join(BENCH, "soak")
LAUNCH = os.path.join(BENCH, "launch")


@pytest.fixture(scope="module")
def built():
    subprocess.run(["make", "-s", "core", SOAK, LAUNCH], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def env_with(preload):
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "BENCH_PRELOAD")}
    if preload:
        env["LD_PRELOAD"] = preload
    return env


def soak(args, preload=PRELOAD, timeout=120):
    return subprocess.run([SOAK] + args, env=env_with(preload), capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("fork_ms", [20, 0])
def test_soak_runs_clean(built, fork_ms):
    res = soak(["seconds=3", "threads=8", "slots=1024", f"fork_ms={fork_ms}"])
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["api"] == "libtunalloc.so"
    assert out["ops"] > 0 and out["reallocs"] > 0
    assert (out["forks"] > 0) == (fork_ms > 0)
    assert out["plateau_mib"] > 0 and out["peak_mib"] >= out["plateau_mib"]


def test_soak_catches_corruption(built, tmp_path):
    """The checks can fail: a preloaded realloc that keeps only the first
    byte of the old contents is reported as a wrong byte, exit status 1."""
    src = tmp_path / "badrealloc.c"
    src.write_text(r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
void *realloc(void *p, size_t n)
{
    void *(*real)(void *, size_t) = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    void *q = real(p, n);
    if (q && n > 1)
        memset((char *)q + 1, 0, n < 64 ? n - 1 : 63);
    return q;
}
""")
    lib = tmp_path / "badrealloc.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src), "-ldl"], check=True)
    res = soak(["seconds=1", "threads=2", "slots=64", "fork_ms=0"], preload=str(lib))
    assert res.returncode == 1
    assert "after realloc" in res.stderr and "is wrong" in res.stderr


def test_soak_child_failure_fails(built, tmp_path):
    """A fork child that does not exit cleanly fails the soak: a preloaded
    fork whose child dies by a signal."""
    src = tmp_path / "badfork.c"
    src.write_text(r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>
pid_t fork(void)
{
    pid_t (*real)(void) = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
    pid_t pid = real();
    if (pid == 0)
        raise(SIGKILL);
    return pid;
}
""")
    lib = tmp_path / "badfork.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src), "-ldl"], check=True)
    res = soak(["seconds=1", "threads=2", "slots=64", "fork_ms=20"], preload=str(lib))
    assert res.returncode == 1
    assert "killed by signal 9" in res.stderr


def test_soak_rejects_bad_options(built):
    res = soak(["threads=0"])
    assert res.returncode == 2
    res = soak(["bogus=1"])
    assert res.returncode == 2


def test_driver_table(built, tmp_path):
    """bench/soak.py runs the variants through the launcher and prints a
    row per allocator; here tunalloc and glibc, a second each."""
    out = tmp_path / "soak.json"
    res = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "soak.py"),
                          "--seconds", "1", "--slots", "256", "--threads", "2",
                          "--allocators", "tunalloc,glibc", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    for variant in ("fork", "no fork"):
        assert f"| {variant} | plateau MiB |" in res.stdout
    assert "| tunalloc | " in res.stdout and "| glibc | " in res.stdout
    data = json.loads(out.read_text())
    assert set(data["runs"]) == {"fork", "no fork"}
    for runs in data["runs"].values():
        assert all("error" not in r for rs in runs.values() for r in rs)


def test_driver_rejects_bad_arguments(built):
    for args in (["--seconds", "0"], ["--variants", "sometimes"], ["--allocators", ","]):
        res = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "soak.py")] + args,
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert res.returncode == 2, args
