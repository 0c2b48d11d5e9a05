"""enable(), disable(), status() and the wrappers' contract. Each test runs
in a fresh interpreter so the pytest process keeps its own allocator."""
import json
import sys

from py_helpers import clean_env, run_py

PRELUDE = """
import gc, json, sys, time
import tunalloc
from tunalloc._ctl import ffi, lib
def owned(obj):
    return bool(lib.ta_owns(ffi.cast("void *", id(obj))))
"""


def child(body, **env):
    """Runs PRELUDE + body; body prints one JSON document as its result."""
    proc = run_py(PRELUDE + body, env=clean_env(**env))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_enable_routes_new_objects_only():
    out = child("""
before = [object() for _ in range(3)]
assert tunalloc.status().active == ()
tunalloc.enable()
after = [object() for _ in range(3)]
big = bytearray(100000)
print(json.dumps([any(map(owned, before)), all(map(owned, after)), owned(big)]))
del before   # pymalloc blocks freed through the wrapper go back to pymalloc
""")
    assert out == [False, True, True]


def test_disable_keeps_freeing_tunalloc_blocks():
    out = child("""
tunalloc.enable()
keep = [str(i) * 50 for i in range(20000)]
tunalloc.disable()
fresh = [object() for _ in range(3)]
del keep; gc.collect()
d = {i: [i] * 10 for i in range(10000)}
st = tunalloc.status()
print(json.dumps([any(map(owned, fresh)), list(st.active), list(st.installed)]))
""")
    assert out == [False, [], ["raw", "mem", "obj"]]


def test_enable_twice_and_status():
    out = child("""
t0 = time.time()
tunalloc.enable(("raw", "mem"))
since = tunalloc.status().since["raw"]
tunalloc.enable(("raw", "mem"))
st = tunalloc.status()
print(json.dumps([list(st.active), st.since["raw"] == since, since >= t0,
                  st.gil_cache, st.pymalloc_arena, repr(st).startswith("Status(")]))
""")
    assert out[0] == ["raw", "mem"]
    assert out[1:3] == [True, True]
    # MEM enabled: the GIL-guarded cache, up to 3.11 (one GIL per process)
    assert out[3] is (sys.version_info < (3, 12))
    assert out[4] is None and out[5] is True


def test_enable_rejects_bad_domains_atomically():
    out = child("""
errors = []
for bad in (["raw", "nope"], [1], "heap"):
    try:
        tunalloc.enable(bad)
    except (TypeError, ValueError) as exc:
        errors.append(type(exc).__name__)
print(json.dumps([errors, list(tunalloc.status().active)]))
""")
    assert out == [["ValueError", "TypeError", "ValueError"], []]


def test_single_domain_string():
    out = child("""
tunalloc.enable("obj")
print(json.dumps(list(tunalloc.status().active)))
""")
    assert out == ["obj"]


def test_arena_domain_backs_pymalloc_arenas():
    out = child("""
tunalloc.enable("arena")
objs = [object() for _ in range(200000)]    # needs new pymalloc arenas
st = tunalloc.status()
idx = st.pymalloc_arena
arena_bytes = tunalloc.Arena(idx).allocated
inside = tunalloc.ctl("arenas.lookup", id(objs[-1])) == idx
del objs; gc.collect()
print(json.dumps([list(st.active), idx is not None, arena_bytes >= 1 << 20, inside]))
""")
    assert out == [["arena"], True, True, True]


def test_arena_domain_with_all_domains():
    out = child("""
tunalloc.enable(tunalloc.DOMAINS)
data = [{"k": str(i), "v": [i] * 5} for i in range(100000)]
total = sum(len(d["v"]) for d in data)
del data; gc.collect()
print(json.dumps(total))
""")
    assert out == 500000


def test_wrapper_contract_zero_calloc_realloc():
    """Exercises the C wrappers directly through ctypes' view of PyMem_*."""
    out = child("""
import ctypes
tunalloc.enable()
api = ctypes.pythonapi
results = []
for fam in ("PyMem_Raw", "PyMem_", "PyObject_"):
    m, c, r, f = (getattr(api, fam + op) for op in ("Malloc", "Calloc", "Realloc", "Free"))
    m.restype = c.restype = r.restype = ctypes.c_void_p
    m.argtypes = [ctypes.c_size_t]
    c.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
    r.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    f.argtypes = [ctypes.c_void_p]
    a, b = m(0), m(0)
    z = c(0, 8)
    distinct = a is not None and b is not None and a != b and z is not None
    big = c(1000, 10)
    zeroed = ctypes.string_at(big, 10000) == bytes(10000)
    overflow = c(1 << 62, 16) is None
    g = r(None, 16)
    ctypes.memmove(g, b"0123456789abcdef", 16)
    g = r(g, 100000)
    kept = ctypes.string_at(g, 16) == b"0123456789abcdef"
    owned_all = all(lib.ta_owns(ffi.cast("void *", p)) for p in (a, b, z, big, g))
    for p in (a, b, z, big, g):
        f(p)
    f(None)
    results.append([distinct, zeroed, overflow, kept, owned_all])
print(json.dumps(results))
""")
    assert out == [[True] * 5] * 3


def test_foreign_realloc_stays_with_previous_allocator():
    out = child("""
import ctypes
api = ctypes.pythonapi
api.PyMem_RawMalloc.restype = api.PyMem_RawRealloc.restype = ctypes.c_void_p
api.PyMem_RawMalloc.argtypes = [ctypes.c_size_t]
api.PyMem_RawRealloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
api.PyMem_RawFree.argtypes = [ctypes.c_void_p]
p = api.PyMem_RawMalloc(64)
ctypes.memmove(p, b"x" * 64, 64)
tunalloc.enable("raw")
q = api.PyMem_RawRealloc(p, 4096)
res = [bool(lib.ta_owns(ffi.cast("void *", q))), ctypes.string_at(q, 64) == b"x" * 64]
api.PyMem_RawFree(q)
print(json.dumps(res))
""")
    assert out == [False, True]


def test_blocks_from_before_enable_are_freed_by_pymalloc():
    """MEM/OBJ frees of blocks pymalloc made before enable() reach pymalloc
    (the hook's foreign-block fallback); tunalloc's own blocks, made
    before disable(), still reach tunalloc afterwards."""
    out = child("""
import ctypes
api = ctypes.pythonapi
fams = [(getattr(api, f + "Malloc"), getattr(api, f + "Free")) for f in ("PyMem_", "PyObject_")]
for m, f in fams:
    m.restype = ctypes.c_void_p
    m.argtypes = [ctypes.c_size_t]
    f.argtypes = [ctypes.c_void_p]
old = [[m(16 + i % 300) for i in range(2000)] for m, _ in fams]
tunalloc.enable()
foreign = sum(not lib.ta_owns(ffi.cast("void *", p)) for blocks in old for p in blocks)
for (_, f), blocks in zip(fams, old):
    for p in blocks:
        f(p)
mine = [[m(16 + i % 300) for i in range(2000)] for m, _ in fams]
owned = sum(bool(lib.ta_owns(ffi.cast("void *", p))) for blocks in mine for p in blocks)
tunalloc.disable()
for (_, f), blocks in zip(fams, mine):
    for p in blocks:
        f(p)
again = [m(64) for m, _ in fams]
after_disable = [bool(lib.ta_owns(ffi.cast("void *", p))) for p in again]
for (_, f), p in zip(fams, again):
    f(p)
print(json.dumps([foreign, owned, after_disable]))
""")
    assert out == [4000, 4000, [False, False]]


def test_use_arena_routes_python_objects():
    out = child("""
tunalloc.enable()
a = tunalloc.Arena.create()
with tunalloc.use_arena(a):
    objs = [bytearray(100) for _ in range(1000)]  # not GC-tracked: id() is the block
inside = sum(tunalloc.ctl("arenas.lookup", id(o)) == a.index for o in objs)
outside = sum(tunalloc.ctl("arenas.lookup", id(o)) == a.index for o in [bytearray(100) for _ in range(1000)])
print(json.dumps([inside, outside]))
""")
    # A block freed into the thread's cache during the block may be reused
    # (as in jemalloc); new memory comes from the chosen arena.
    inside, outside = out
    assert inside >= 900 and outside <= 100


def test_use_arena_refuses_pymalloc_backing_arena():
    out = child("""
tunalloc.enable("arena")
try:
    with tunalloc.use_arena(tunalloc.status().pymalloc_arena):
        pass
    print(json.dumps("entered"))
except ValueError:
    print(json.dumps("refused"))
""")
    assert out == "refused"
