"""A slice of CPython's own regression tests with tunalloc enabled at
start-up on every domain (TUNALLOC_PYTHON=all reaches the -j workers,
which are fresh interpreters started with the same environment)."""
import importlib.util
import signal
import sys

import pytest

from py_helpers import clean_env, run_py

# 3.13 renamed test_unicode to test_str.
TESTS = ["test_dict", "test_list", "test_set",
         "test_str" if sys.version_info >= (3, 13) else "test_unicode",
         "test_json", "test_threading", "test_gc", "test_weakref"]
# Fails on this machine without tunalloc too: a .pth file of the
# environment imports threading at start-up, and the test asserts that
# `python -I` starts without it.
EXCLUDED = ["test_import_from_another_thread"]


@pytest.mark.skipif(importlib.util.find_spec("test.libregrtest") is None,
                    reason="this Python has no test package")
def test_cpython_tests_pass_under_tunalloc():
    env = clean_env(TUNALLOC_PYTHON="all")
    # test_threading interrupts itself with _thread.interrupt_main(), which
    # does nothing where SIGINT is ignored, as it is in a suite a
    # non-interactive shell started in the background (gh-102056's test
    # then recurses for ever): the tests get SIGINT's default back.
    proc = run_py(None, "-m", "test", "-j2", "--timeout", "600", *TESTS,
                  *(arg for name in EXCLUDED for arg in ("--ignore", name)),
                  env=env, timeout=1200, check=False,
                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    tail = "\n".join(proc.stdout.splitlines()[-30:])
    assert proc.returncode == 0, f"{tail}\n{proc.stderr[-3000:]}"
    assert "Tests result: SUCCESS" in proc.stdout, tail
    assert f"All {len(TESTS)} tests OK" in proc.stdout, tail


def test_workers_really_run_on_tunalloc():
    """Guards the test above: a regrtest-style child started with the same
    environment has tunalloc active on every domain."""
    proc = run_py("import tunalloc, sys; print(','.join(tunalloc.status().active))",
                  env=clean_env(TUNALLOC_PYTHON="all"))
    assert proc.stdout.strip() == "raw,mem,obj,arena"
