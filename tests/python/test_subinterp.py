"""Isolated subinterpreters (3.12 _xxsubinterpreters, 3.13 _interpreters),
each with its own GIL, under TUNALLOC_PYTHON=1: the start-up .pth is
silent in them, `import tunalloc` works there, and they allocate from
tunalloc concurrently, from several threads at once."""
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
try:
    tunalloc.ctl("epoch", 1)
except ImportError as exc:
    assert "subinterpreter" in str(exc)
"""

errors = []

def run(iid):
    try:
        failed = interp.run_string(iid, WORK)    # 3.13: a snapshot on error
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

