"""numpy array buffers on tunalloc (tunalloc.numpy): counted, in the
thread's arena with its limit, correct results, sized frees, and which
threads and contexts get the handler. Each test runs in a fresh
interpreter."""
import json

import pytest

from py_helpers import clean_env, run_py

pytest.importorskip("numpy")

PRELUDE = """
import json, sys, threading
import numpy as np
import tunalloc, tunalloc.numpy
from tunalloc._ctl import ffi, lib
def allocated():
    return tunalloc.stats()["allocated"]
def on_tunalloc(arr):
    return bool(lib.ta_owns(ffi.cast("void *", arr.ctypes.data)))
def handler(arr):
    return tunalloc.numpy._multiarray(np).get_handler_name(arr)
"""


def child(code, **env):
    return json.loads(run_py(PRELUDE + code, env=clean_env(**env)).stdout)


def test_array_buffers_are_counted():
    out = child("""
before = allocated()
plain = np.ones(8 << 20)                        # 64 MiB on numpy's default handler
moved_default = allocated() - before
tunalloc.numpy.enable()
before = allocated()
mine = np.ones(8 << 20)
moved = allocated() - before
del mine
print(json.dumps([moved_default, moved, on_tunalloc(plain), before - allocated()]))
""")
    moved_default, moved, plain_owned, after_free = out
    assert moved_default < 1 << 20
    assert 64 << 20 <= moved < 65 << 20
    assert plain_owned is False
    assert after_free > -(1 << 20)               # freed again: back near before


def test_enable_disable_status_and_domain_name():
    out = child("""
states = [tunalloc.status().active]
tunalloc.enable(("raw", "mem", "obj", "numpy"))
st = tunalloc.status()
states.append(st.active)
a = np.arange(1000.0)
tunalloc.disable("numpy")
b = np.arange(1000.0)
states.append(tunalloc.status().active)
tunalloc.numpy.enable(); tunalloc.numpy.enable()   # idempotent
states.append(tunalloc.status().active)
tunalloc.disable()
states.append(tunalloc.status().active)
print(json.dumps([states, "numpy" in st.since, handler(a), handler(b),
                  float(a.sum())]))
""")
    states, since, a_handler, b_handler, total = out
    assert states == [[], ["raw", "mem", "obj", "numpy"], ["raw", "mem", "obj"],
                      ["raw", "mem", "obj", "numpy"], []]
    assert since and a_handler == "tunalloc" and b_handler == "default_allocator"
    assert total == 499500.0


def test_startup_domain_list_takes_numpy():
    out = child("""
print(json.dumps([tunalloc.status().active, on_tunalloc(np.ones(100))]))
""", TUNALLOC_PYTHON="raw,mem,obj,numpy")
    assert out == [["raw", "mem", "obj", "numpy"], True]


def test_arena_limit_honoured():
    out = child("""
tunalloc.numpy.enable()
arena = tunalloc.Arena.create(limit=32 << 20)
with tunalloc.use_arena(arena):
    inside = np.ones(2 << 20)                    # 16 MiB
    held = arena.allocated
    try:
        np.ones(8 << 20)                         # 64 MiB: past the limit
        refused = False
    except MemoryError:
        refused = True
    zeros_refused = False
    try:
        np.zeros((4096, 4096))                   # 128 MiB through calloc
    except MemoryError:
        zeros_refused = True
outside = np.ones(8 << 20)                       # the default arena again
print(json.dumps([held, refused, zeros_refused,
                  lib.ta_arena_index(lib.ta_arena_of(ffi.cast("void *", inside.ctypes.data))),
                  arena.index, on_tunalloc(outside), float(outside.sum())]))
""")
    held, refused, zeros_refused, inside_arena, arena, outside_owned, total = out
    assert held >= 16 << 20
    assert refused and zeros_refused
    assert inside_arena == arena
    assert outside_owned and total == float(8 << 20)


def test_numpy_results_unchanged_and_zeroing_kept():
    """The same computations on numpy's default handler and on tunalloc's
    give identical results; np.zeros right after dirty frees is zero."""
    out = child("""
def work():
    rng = np.random.default_rng(7)
    out = []
    for n in (0, 1, 7, 100, 5000, 300000):
        a = rng.standard_normal(n)
        b = np.concatenate([a, a[::-1]]).reshape(2, -1) if n else np.empty((2, 0))
        c = np.sort(a)
        d = a.astype(np.float32).astype(np.float64)
        e = np.cumsum(np.abs(a)) if n else a
        f = np.array([str(x) for x in range(n % 500)], dtype=object)
        g = np.append(np.arange(n), -1)
        h = np.fft.rfft(a).real if n else a
        m = (rng.standard_normal((30, 30)) @ rng.standard_normal((30, 30)))
        r = np.arange(n, dtype=np.int64); r.resize(n * 2 + 1, refcheck=False)
        out.append([float(b.sum()), c.tolist()[:5], float(d.sum()), float(e[-1]) if n else 0.0,
                    len(f), int(g.sum()), float(h.sum()), float(np.linalg.det(m)),
                    int(r.sum())])
    return out
plain = work()
tunalloc.numpy.enable()
mine = work()
dirty = [np.full(4096, 7.0) for _ in range(200)]
del dirty
zeros_ok = all(not np.zeros(4096).any() for _ in range(200))
big_zero_ok = not np.zeros(3 << 20).any()
print(json.dumps([plain == mine, zeros_ok, big_zero_ok]))
""")
    assert out == [True, True, True]


def test_sized_frees_match_in_checked_mode():
    """Every free numpy makes passes the size it allocated: checked mode
    (opt.check) verifies each sized free and reports a mismatch."""
    proc = run_py(PRELUDE + """
assert tunalloc.ctl("opt.check")
tunalloc.numpy.enable()
for i in range(300):
    a = np.arange(i); b = a.reshape(-1, 1) * a; c = np.concatenate([a, a])
    d = np.empty((0, 5)); e = np.zeros(i * 3); f = np.array([str(i)] * i)
    a.resize(i * 2 + 1, refcheck=False); g = np.sort(c).astype(np.float32)
    m = np.frombuffer(b"abcd" * i, dtype=np.uint8).copy(); m = np.append(m, 1)
print("ok")
""", env=clean_env(TUNALLOC_CONF="check:true"))
    assert proc.stdout == "ok\n"
    assert proc.stderr == ""


def test_threads_and_contexts():
    """The handler is a context variable: threads started afterwards begin
    with an empty context (numpy's default handler) until they enable it;
    asyncio tasks copy the context; buffers are freed by any thread."""
    out = child("""
import asyncio, concurrent.futures, contextvars
tunalloc.numpy.enable()
seen = {}
t = threading.Thread(target=lambda: seen.update(plain=handler(np.ones(1000))))
t.start(); t.join()
with concurrent.futures.ThreadPoolExecutor(4, initializer=tunalloc.numpy.enable) as pool:
    def churn(seed):
        rng = np.random.default_rng(seed)
        total = 0.0
        owned = True
        for _ in range(300):
            a = rng.standard_normal(int(rng.integers(1, 20000)))
            owned &= on_tunalloc(a)
            total += float((a * 2).sum())
        return owned, np.ones(5000)             # made here, freed by the main thread
    results = list(pool.map(churn, range(8)))
made_here = [np.ones(3000) for _ in range(50)]
def drop(arrays):
    arrays.clear()
t = threading.Thread(target=drop, args=(made_here,)); t.start(); t.join()
async def task():
    return on_tunalloc(np.ones(100))
seen["task"] = asyncio.run(task())
seen["copied"] = contextvars.copy_context().run(lambda: on_tunalloc(np.ones(100)))
seen["pool"] = all(owned for owned, _ in results)
seen["pool_arrays"] = all(on_tunalloc(a) for _, a in results)
del results
print(json.dumps(seen))
""")
    assert out == {"plain": "default_allocator", "task": True, "copied": True, "pool": True,
                   "pool_arrays": True}


def test_without_numpy_enable_says_so():
    out = json.loads(run_py("""
import json, sys
sys.modules["numpy"] = None                      # as if numpy were not installed
import tunalloc, tunalloc.numpy
errors = []
for call in (tunalloc.numpy.enable, lambda: tunalloc.enable("numpy")):
    try:
        call()
    except ImportError as exc:
        errors.append(str(exc))
print(json.dumps([errors, tunalloc.status().active]))
""").stdout)
    errors, active = out
    assert len(errors) == 2 and all("numpy >= 1.22" in e for e in errors)
    assert active == []



def test_startup_with_broken_numpy_warns_once_and_changes_nothing(tmp_path):
    """TUNALLOC_PYTHON naming numpy where numpy cannot be imported: one
    warning line, nothing enabled (numpy is tried first), the program
    runs on its usual allocators."""
    fake = tmp_path / "numpy"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('numpy is broken here')\n")
    proc = run_py("import tunalloc; print(tunalloc.status().active)",
                  env=clean_env(TUNALLOC_PYTHON="raw,mem,obj,numpy",
                                PYTHONPATH=str(tmp_path)))
    assert proc.stdout == "()\n"
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "ignored" in lines[0] and "numpy >= 1.22" in lines[0], lines
