"""Stacking with PYTHONMALLOC=debug and tracemalloc, and os.fork()."""
import json

import pytest

from py_helpers import clean_env, run_py

WORK = """
import gc, json
data = {i: [str(i)] * 4 for i in range(50000)}
total = sum(len(v) for v in data.values())
del data; gc.collect()
"""


def test_pythonmalloc_debug():
    proc = run_py("import tunalloc; tunalloc.enable(tunalloc.DOMAINS)\n" + WORK +
                  "print(total)", env=clean_env(PYTHONMALLOC="debug"))
    assert proc.stdout.strip() == "200000"


def test_pythonmalloc_debug_at_startup():
    proc = run_py(WORK + "print(total)",
                  env=clean_env(PYTHONMALLOC="debug", TUNALLOC_PYTHON="all"))
    assert proc.stdout.strip() == "200000"


# How tunalloc is switched on under the debug hooks: at start-up, or later
# from the program; the hooks come from PYTHONMALLOC=debug or -X dev.
DEBUG_SETUPS = {
    "env-startup": ([], {"PYTHONMALLOC": "debug", "TUNALLOC_PYTHON": "1"}, ""),
    "env-enable": ([], {"PYTHONMALLOC": "debug"}, "import tunalloc; tunalloc.enable()\n"),
    "xdev-startup": (["-X", "dev"], {"TUNALLOC_PYTHON": "1"}, ""),
}


def debug_child(setup, code):
    flags, env, prelude = DEBUG_SETUPS[setup]
    return run_py(None, *flags, "-c", prelude + code, env=clean_env(**env), check=False)


@pytest.mark.parametrize("setup", sorted(DEBUG_SETUPS))
def test_debug_hooks_stay_on_top_of_tunalloc(setup):
    """CPython's debug hooks sit above tunalloc, so they pad and check
    tunalloc's blocks: before, tunalloc sat above them and nothing
    allocated after enable() was checked."""
    ok = debug_child(setup, """
import tunalloc
assert tunalloc.status().active == ("raw", "mem", "obj"), tunalloc.status()
before = tunalloc.stats()["allocated"]
keep = bytearray(16 << 20)
assert tunalloc.stats()["allocated"] >= before + (16 << 20)
print("served")
""")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "served\n"
    overflow = debug_child(setup, "import _testcapi; _testcapi.pymem_buffer_overflow()")
    assert overflow.returncode != 0
    assert "are not all FORBIDDENBYTE" in overflow.stderr, overflow.stderr
    assert "*** OUCH" in overflow.stderr
    no_gil = debug_child(setup, "import _testcapi; _testcapi.pymem_malloc_without_gil()")
    assert no_gil.returncode != 0
    assert "called without holding the GIL" in no_gil.stderr, no_gil.stderr


def test_tracemalloc_on_top():
    out = run_py("""
import gc, tracemalloc, tunalloc, json
tunalloc.enable()
keep = [str(i) * 3 for i in range(10000)]
tracemalloc.start()                # tracemalloc wraps tunalloc
a = [str(i) for i in range(10000)]
b = bytearray(1 << 20)
traced = tracemalloc.get_traced_memory()[0]
del keep; gc.collect()             # untraced tunalloc blocks freed under it
tracemalloc.stop()                 # puts tunalloc's wrappers back
del a, b; gc.collect()             # traced blocks freed after the stop
more = {i: str(i) for i in range(10000)}
tracemalloc.start(); tracemalloc.stop()
print(json.dumps([traced >= (1 << 20) + 10000 * 40, list(tunalloc.status().active)]))
""").stdout
    assert json.loads(out) == [True, ["raw", "mem", "obj"]]


def test_enable_under_running_tracemalloc_is_refused():
    out = run_py("""
import tracemalloc, tunalloc, json
tracemalloc.start()
try:
    tunalloc.enable()
    res = "enabled"
except RuntimeError as exc:
    res = "refused: " + str(exc)
tunalloc.enable("arena")          # pymalloc's arenas are not traced: fine
tracemalloc.stop()
tunalloc.enable("raw")
print(json.dumps([res, list(tunalloc.status().active)]))
""").stdout
    res, active = json.loads(out)
    assert res.startswith("refused: tracemalloc is tracing")
    assert active == ["raw", "arena"]


def test_pythontracemalloc_at_startup_warns_and_runs():
    proc = run_py("import tunalloc; print(tunalloc.status().active)",
                  env=clean_env(PYTHONTRACEMALLOC="1", TUNALLOC_PYTHON="1"))
    assert "tracemalloc is tracing" in proc.stderr
    assert proc.stdout.strip() == "()"


def test_fork_child_and_parent_keep_working():
    out = run_py("""
import gc, os, json, threading, tunalloc
tunalloc.enable(tunalloc.DOMAINS)
keep = [str(i) * 3 for i in range(20000)]
t = threading.Thread(target=lambda: [bytes(100) for _ in range(100000)])
t.start()
pid = os.fork()
if pid == 0:
    more = {i: str(i) for i in range(50000)}
    del keep; gc.collect()
    ok = len(more) == 50000 and tunalloc.stats()["allocated"] > 0
    os._exit(0 if ok else 1)
_, status = os.waitpid(pid, 0)
t.join()
del keep; gc.collect()
print(json.dumps([os.waitstatus_to_exitcode(status), len(tunalloc.status().active)]))
""").stdout
    assert json.loads(out) == [0, 4]
