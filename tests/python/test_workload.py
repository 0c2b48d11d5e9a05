"""Whole programs under tunalloc: same output as without it, and the
statistics move the way the workload says."""
import json

from py_helpers import clean_env, run_py

CHURN = """
import threading, hashlib
def work(seed, out):
    h = hashlib.sha256()
    d = {}
    for i in range(30000):
        k = f"{seed}-{i % 5000}"
        d[k] = [k * (i % 7), i, str(i)]
        if i % 3 == 0:
            d.pop(f"{seed}-{(i * 7) % 5000}", None)
        s = "".join(sorted(k))
        h.update(s.encode())
    lst = sorted(d.items())
    h.update(repr(lst[:100]).encode())
    out[seed] = h.hexdigest() + " " + str(len(d))
out = {}
ts = [threading.Thread(target=work, args=(s, out)) for s in range(4)]
for t in ts: t.start()
for t in ts: t.join()
for s in sorted(out): print(s, out[s])
"""


def test_threaded_churn_same_output_all_domains():
    plain = run_py(CHURN, env=clean_env()).stdout
    hooked = run_py(CHURN, env=clean_env(TUNALLOC_PYTHON="all")).stdout
    assert plain.count("\n") == 4
    assert hooked == plain


def test_stats_grow_then_fall():
    out = run_py("""
import gc, json, tunalloc
tunalloc.enable()
def allocated():
    tunalloc.purge()
    return tunalloc.stats()["allocated"]
base = allocated()
data = [("x" * 100) + str(i) for i in range(200000)]
grown = allocated()
del data
gc.collect()
fallen = allocated()
print(json.dumps([base, grown, fallen]))
""").stdout
    base, grown, fallen = json.loads(out)
    assert grown - base > 200000 * 100
    assert grown - fallen > 200000 * 100
