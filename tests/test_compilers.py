"""The core builds with clang as well as gcc, through the Makefile and
through setup.py (the Python package's copy of the core): core/flags.mk's
library-only flags are added where the compiler takes them, and clang 14
has no -mtls-dialect=gnu2."""
import ctypes
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")


def sh(*cmd, env=None):
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def test_make_core_with_clang(tmp_path):
    sh("make", "-s", "-j2", "CC=clang", f"BUILD={tmp_path}", "core")
    for name in ("libtunalloc.so", "libtunalloc.a"):
        assert (tmp_path / name).exists(), name
    # The preload library, loaded beside glibc's malloc here, hands out
    # and takes back blocks through its own API.
    lib = ctypes.CDLL(str(tmp_path / "libtunalloc.so"))
    lib.ta_malloc.restype = ctypes.c_void_p
    lib.ta_owns.argtypes = [ctypes.c_void_p]
    lib.ta_free.argtypes = [ctypes.c_void_p]
    p = lib.ta_malloc(100)
    assert p and lib.ta_owns(p) == 1
    lib.ta_free(p)


def test_setup_py_builds_the_core_with_clang(tmp_path):
    env = dict(os.environ, CC="clang", LDSHARED="clang -shared")
    sh(sys.executable, "setup.py", "-q", "build_ext", f"--build-lib={tmp_path / 'lib'}",
       f"--build-temp={tmp_path / 'temp'}", env=env)
    (core,) = (tmp_path / "lib" / "tunalloc").glob("libtunalloc_core.so.*")
    lib = ctypes.CDLL(str(core))
    lib.ta_malloc.restype = ctypes.c_void_p
    lib.ta_free.argtypes = [ctypes.c_void_p]
    p = lib.ta_malloc(64)
    assert p
    lib.ta_free(p)
