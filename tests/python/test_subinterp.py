"""Isolated subinterpreters (3.12 _xxsubinterpreters, 3.13 _interpreters),
each with its own GIL, under TUNALLOC_PYTHON=1: the start-up .pth is
silent in them, `import tunalloc` works there, they allocate from
tunalloc concurrently, from several threads at once, and read and write
the control namespace and make, fill, limit and destroy arenas there, and
start and stop the heap profile without switching the process-wide
callbacks, which only the main interpreter may do."""
import sys

import pytest

from py_helpers import clean_env, run_py

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 12),
    reason="interpreters with their own GIL arrive in CPython 3.12")

DRIVER = r'''
import sys, threading
try:
    import _interpreters as interp           # 3.13
except ImportError:
    import _xxsubinterpreters as interp      # 3.12

WORK = """
import tunalloc
assert tunalloc.status().active == ("raw", "mem", "obj"), tunalloc.status()
keep = bytearray(64 << 20)                   # OBJ -> RAW -> tunalloc
assert tunalloc.stats()["allocated"] >= 64 << 20
del keep
docs = []
for i in range(30000):
    docs.append({"k": str(i) * (i % 7), "v": [i] * (i % 13), "b": b"x" * (i % 3000)})
    if len(docs) > 400:
        docs = docs[200:]
assert "Allocated" in tunalloc.stats_text()
for call in (tunalloc.enable, tunalloc.disable):
    try:
        call()
    except RuntimeError as exc:
        assert "main interpreter" in str(exc)
    else:
        raise AssertionError(call.__name__ + " worked in a subinterpreter")
# The profile samples here too, but the allocator's callbacks, which its
# counting entries would switch, are left to the main interpreter.
from tunalloc import _hook, profile
try:
    _hook.prof_count(True)
except RuntimeError as exc:
    assert "main interpreter" in str(exc)
else:
    raise AssertionError("prof_count worked in a subinterpreter")
# The profile is the process's: another interpreter's stop() may come
# between this one's start() and a look at active(), so whether start()
# took is asked below, in one interpreter while no other runs.
profile.start()
profile.stop()
# The control namespace and arenas, through tunalloc._hook (CFFI's
# backend does not load here).
assert tunalloc.ctl("version") == tunalloc.__version__
tunalloc.ctl("epoch", 1)
assert tunalloc.ctl("stats.allocated") > 0
assert any(c.name == "purge" for c in tunalloc.ctl_children("arena.0"))
assert tunalloc.ctl_info("arena.0.limit").writable
arena = tunalloc.Arena.create(dirty_decay_ms=0, limit=8 << 20)
arena.muzzy_decay_ms = 0
assert arena.muzzy_decay_ms == 0
assert tunalloc.ctl(f"arena.{arena.index}.limit") == 8 << 20


def over_limit():
    # in a function, so the traceback's frame object goes with it
    try:
        bytearray(16 << 20)
    except MemoryError:
        return True
    return False


blob = refused = None     # globals added inside would grow the globals into the arena
with tunalloc.use_arena(arena):
    blob = bytes(3 << 20)
    refused = over_limit()
assert refused, "the arena's limit was not enforced"
assert arena.allocated >= 3 << 20
assert tunalloc.ctl("arenas.lookup", id(blob)) == arena.index
assert arena.index in tunalloc.stats()["arenas"]
assert arena.stats["large"]["allocated"] >= 3 << 20
try:
    arena.destroy()
except tunalloc.ArenaBusyError as exc:
    assert exc.live_blocks >= 1
else:
    raise AssertionError("destroyed under a live block")
del blob
arena.destroy()
tunalloc.purge()
"""

errors = []

def run(iid, script=WORK):
    try:
        failed = interp.run_string(iid, script)  # 3.13: a snapshot on error
    except Exception as exc:                     # 3.12: raises
        failed = exc
    if failed is not None:
        errors.append(getattr(failed, "formatted", repr(failed)))

ids = [interp.create() for _ in range(4)]
for rounds in range(2):
    threads = [threading.Thread(target=run, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    junk = [str(i) * 50 for i in range(200000)]  # the main interpreter too
    del junk
    for t in threads:
        t.join()
PROFILE = """
from tunalloc import profile
profile.start()
assert profile.active(), "profile.start() in a subinterpreter did not start it"
profile.stop()
assert not profile.active(), "profile.stop() in a subinterpreter did not stop it"
"""
run(ids[0], PROFILE)
for i in ids:
    interp.destroy(i)
assert not errors, errors
import tunalloc
assert tunalloc.status().active == ("raw", "mem", "obj")
print("ok")
'''


def test_isolated_subinterpreters_allocate_concurrently_and_silently():
    proc = run_py(DRIVER, env=clean_env(TUNALLOC_PYTHON="1"), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "ok\n"
    assert proc.stderr == ""

