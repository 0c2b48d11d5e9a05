"""Drop-in replacement: real programs run with LD_PRELOAD=build/libtunalloc.so
must print exactly what they print without it, and must really have used
tunalloc (its library is mapped and their malloc is tunalloc's)."""
import hashlib
import os
import pathlib
import random
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"

PRELOAD = BUILD / "libtunalloc.so"
DATA = ROOT / "tests" / "data"
TIMEOUT = 300
LUA = shutil.which("lua5.4")


def run(argv, preload, stdin=None, **kw):
    """Runs argv with or without the preload; the locale is pinned so sort
    and ls order bytes the same way in both runs."""
    env = dict(os.environ, LC_ALL="C", PYTHONHASHSEED="0")
    env.pop("LD_PRELOAD", None)
    if preload:
        assert PRELOAD.exists(), f"{PRELOAD} missing: run `make core`"
        env["LD_PRELOAD"] = str(PRELOAD)
    res = subprocess.run(argv, env=env, stdin=stdin, capture_output=True,
                         timeout=TIMEOUT, cwd=ROOT, **kw)
    assert res.returncode == 0, (
        f"{argv} (preload={preload}) exited {res.returncode}\n"
        f"stderr: {res.stderr[-4000:]!r}")
    return res


def same_output(argv, **kw):
    """The output of argv with the preload, after checking it equals the
    output without."""
    plain = run(argv, False, **kw)
    pre = run(argv, True, **kw)
    assert pre.stdout == plain.stdout
    assert pre.stdout, "the program printed nothing"
    return pre


def test_python_threads_same_output():
    out = same_output([sys.executable, str(DATA / "py_workload.py")])
    assert len(out.stdout.splitlines()) == 4


def test_python_really_uses_tunalloc():
    """Inside the preloaded interpreter, malloc resolves to tunalloc and a
    large object's memory is owned by it."""
    code = (
        "import ctypes\n"
        "ta = ctypes.CDLL(%r)\n"
        "libc = ctypes.CDLL(None)\n"
        "ta.ta_owns.argtypes = [ctypes.c_void_p]\n"
        "libc.malloc.restype = ctypes.c_void_p\n"
        "libc.malloc.argtypes = [ctypes.c_size_t]\n"
        "libc.free.argtypes = [ctypes.c_void_p]\n"
        "p = libc.malloc(1000)\n"
        "big = b'q' * 1_000_000\n"
        "print(bool(ta.ta_owns(p)), bool(ta.ta_owns(id(big))))\n"
        "libc.free(p)\n"
        "print('libtunalloc.so' in open('/proc/self/maps').read())\n"
    ) % str(PRELOAD)
    res = run([sys.executable, "-c", code], True, text=True)
    assert res.stdout.split() == ["True", "True", "True"], res.stdout


@pytest.mark.skipif(LUA is None, reason="lua5.4 not installed (make deps)")
def test_lua_same_output():
    out = same_output([LUA, str(DATA / "lua_workload.lua")], text=True)
    assert out.stdout.startswith("checksum ")


@pytest.mark.skipif(LUA is None, reason="lua5.4 not installed (make deps)")
def test_lua_really_uses_tunalloc():
    code = ("local f = assert(io.open('/proc/self/maps'))\n"
            "print(f:read('a'):find('libtunalloc.so', 1, true) ~= nil)\n"
            "f:close()")
    res = run([LUA, "-e", code], True, text=True)
    assert res.stdout.strip() == "true"


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """50 MB of random lines (about 85 bytes on average) from a fixed seed:
    random bytes mapped onto letters, digits, spaces and some newlines."""
    path = tmp_path_factory.mktemp("sort") / "lines.txt"
    rng = random.Random(20240611)
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
    table = bytes(alphabet[i % len(alphabet)] for i in range(253)) + b"\n\n\n"
    path.write_bytes(rng.randbytes(50_000_000).translate(table) + b"\n")
    return path


def test_sort_large_file_same_output(big_file, tmp_path):
    plain_out, pre_out = tmp_path / "plain.txt", tmp_path / "pre.txt"
    run(["sort", "-o", str(plain_out), str(big_file)], False)
    run(["sort", "-o", str(pre_out), str(big_file)], True)
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (plain_out, pre_out)]
    assert digests[0] == digests[1]
    assert pre_out.stat().st_size == big_file.stat().st_size


def test_sort_really_uses_tunalloc():
    """sort reading its own memory map: the preloaded library is in it."""
    res = run(["sort", "/proc/self/maps"], True, text=True)
    assert "libtunalloc.so" in res.stdout


def test_coreutils_pipeline_same_output():
    pipeline = ("ls -la /usr/bin | sort -k9 | awk '{print $1, $9}' | uniq -c "
                "| sort -rn | head -50; ls -la /usr/bin | wc -l")
    out = same_output(["bash", "-c", pipeline], text=True)
    assert int(out.stdout.split()[-1]) > 10


def test_pipeline_processes_use_tunalloc():
    res = run(["bash", "-c", "grep -c libtunalloc /proc/self/maps | cat; "
                             "awk '/libtunalloc/ {n++} END {print n}' /proc/self/maps"],
              True, text=True)
    counts = [int(x) for x in res.stdout.split()]
    assert len(counts) == 2 and all(c > 0 for c in counts), res.stdout


def test_checked_mode_reports_and_survives_bad_pointers():
    """check:true: interior, stack, static, unmapped, double and wrongly
    sized frees, and a realloc of a stack address, are each reported once
    and ignored; the program runs to its end (no crash, no abort)."""
    prog = BUILD / "tests" / "bad_free"
    assert prog.exists(), f"{prog} missing: run `make test-build`"
    env = dict(os.environ, TUNALLOC_CONF="check:true", LD_PRELOAD=str(PRELOAD))
    res = subprocess.run([str(prog)], env=env, capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert "survived realloc=(nil) errno=22" in res.stdout
    reports = [l for l in res.stderr.splitlines() if "invalid pointer" in l]
    assert len(reports) == 8, res.stderr
