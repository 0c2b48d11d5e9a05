"""Hostile calls of the whole public Python API, at random with fixed
seeds: every call returns or raises an ordinary exception, the
interpreter's objects stay intact, and the process neither crashes nor
loses its standard streams (a path argument of 1 once meant stdout, which
the callee then closed). Longer runs: TUNALLOC_FUZZ_CALLS=100000."""
import gzip
import json
import os
import random

import pytest

from py_helpers import clean_env, run_py

CALLS = int(os.environ.get("TUNALLOC_FUZZ_CALLS", "4000"))

# SystemError means a C function returned NULL without an exception (or
# the reverse); AttributeError, IndexError and the like are internals
# leaking through where a TypeError or ValueError should say what is wrong.
CHILD = r"""
import inspect, json, os, random, sys
import tunalloc
from tunalloc import profile

seed, calls = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
VALUES = [None, -1, 0, 1, 7, 4096, 2**31, 2**32, 2**63, 2**64, -2**63, 10**40,
          1.5, float("nan"), float("inf"), True, False, "", "x", "\0", "0",
          "arena.0.purge", "prof.active", "stats", b"x", b"", [], {}, (), object()]
ALLOWED = (TypeError, ValueError, KeyError, PermissionError, OSError,
           tunalloc.ArenaBusyError, RuntimeError)

def walk(node, out):
    for kid in tunalloc.ctl_children(node.replace("<i>", "0")):
        name = f"{node}.{kid.name}" if node else kid.name
        (walk(name, out) if kid.type == "node" else out.append(name))

names = []
walk("", names)
# a limit on the arena Python itself lives in (enable() is among the
# calls) fails its allocations, as it should: MemoryError everywhere is
# that limit working
names = [n for n in names if not n.endswith(".limit")]
INDEXES = ["0", "1", "2", "3", "63", "4095", "4096", "4294967295", "4294967296",
           str(2**64), "01"]

def ctl_call():
    name = rng.choice(names).replace("<i>", rng.choice(INDEXES))
    return tunalloc.ctl, ((name,) if rng.random() < 0.4 else (name, rng.choice(VALUES)))

targets = []
for mod in (tunalloc, profile):
    for attr in dir(mod):
        f = getattr(mod, attr)
        if not attr.startswith("_") and callable(f) and not inspect.ismodule(f):
            targets.append(f)

bad = {}
def note(where, exc):
    if not isinstance(exc, ALLOWED):
        bad.setdefault(f"{where}: {type(exc).__name__}", repr(exc)[:200])

keep = []
for i in range(calls):
    if rng.random() < 0.5:
        f, args = ctl_call()
    else:
        f = rng.choice(targets)
        args = tuple(rng.choice(VALUES) for _ in range(rng.randint(0, 3)))
    where = getattr(f, "__qualname__", repr(f))
    try:
        result = f(*args)
    except Exception as exc:
        note(where, exc)
        result = None
    # and a method of whatever came back (Arena, Snapshot, Monitor ...)
    if result is not None and not isinstance(result, (int, float, str, bytes, list, dict, tuple)):
        methods = [m for m in dir(result) if not m.startswith("_")]
        m = rng.choice(methods) if methods else None
        try:
            g = getattr(result, m) if m else None
            if callable(g):
                g(*(rng.choice(VALUES) for _ in range(rng.randint(0, 2))))
        except Exception as exc:
            note(f"{where}().{m}", exc)
    keep.append([i] * rng.randint(0, 40))
    if len(keep) > 500:
        del keep[rng.randrange(len(keep))]
    assert all(x == [x[0]] * len(x) for x in keep if x)
os.fstat(0), os.fstat(1), os.fstat(2)
print(json.dumps(bad))
"""


@pytest.mark.parametrize("hooked", [False, True], ids=["plain", "enabled"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_hostile_calls(tmp_path, seed, hooked):
    script = tmp_path / "fuzz.py"
    script.write_text(CHILD)
    env = clean_env(**({"TUNALLOC_PYTHON": "1"} if hooked else {}))
    # prof.dump and monitor() write files named by the values: in tmp_path
    proc = run_py(None, str(script), str(seed), str(CALLS), env=env, timeout=600, check=False, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Exception in thread" not in proc.stderr, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {}


def test_read_pprof_of_damaged_profiles():
    """Every byte of a real profile changed, cut or doubled: read_pprof
    returns stacks or raises ValueError, never an internal error."""
    from tunalloc import profile
    frames = [profile.Frame("f", "a.py", 3), profile.Frame("g", "b.py", 9)]
    snap = profile.Snapshot([profile.Stack(frames, ["main"], 2.0, 8192.0, 3.0, 12288.0)], 4096)
    good = profile._encode_pprof(snap)
    assert profile.read_pprof(good)[0][1] == 8192
    rng = random.Random(5)
    damaged = [good[:n] for n in range(len(good))]
    for _ in range(2000):
        b = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        damaged.append(bytes(b))
    damaged += [gzip.compress(good)[:n] for n in range(0, 40, 3)]
    for data in damaged:
        try:
            out = profile.read_pprof(data)
        except ValueError:
            continue
        assert all(isinstance(v, int) and all(isinstance(f, str) for f in fs) for fs, v in out)
    for bad in (None, 5, "text"):
        with pytest.raises(TypeError):
            profile.read_pprof(bad)
    with pytest.raises(TypeError):
        profile.read_folded(b"a;b 1")
    with pytest.raises(TypeError):
        profile.Snapshot([("not", "a", "stack")], 4096)
