"""Stacking with PYTHONMALLOC=debug and tracemalloc, and os.fork()."""
import json

from conftest import clean_env, run_py

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


def test_tracemalloc_on_top_and_below():
    out = run_py("""
import tracemalloc, tunalloc, json
tracemalloc.start()
tunalloc.enable()                  # wraps tracemalloc's hooks
a = [str(i) for i in range(10000)]
traced_a = tracemalloc.get_traced_memory()[0]
tracemalloc.stop()
tracemalloc.start()                # tracemalloc now wraps tunalloc
b = bytearray(1 << 20)
traced_b = tracemalloc.get_traced_memory()[0]
tracemalloc.stop()
del a, b
print(json.dumps([traced_a > 10000 * 40, traced_b >= 1 << 20]))
""").stdout
    assert json.loads(out) == [True, True]


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
