"""Runs every C test program (tests/c/<kind>/test_*.c, kind: unit,
integration, stress) as pytest tests with ids like unit/test_slab-asan:
each one under the plain library, ASan+UBSan and the assertions build
(TA_DEBUG), the threaded (_mt) ones also under TSan. `make test-build`
builds them; a missing binary is a failure. Also checks that the kinds
are kept apart (no test outside them, no core/src for integration tests),
that the library build loads with dlopen when no static TLS is left, and
runs one program under valgrind."""
import functools
import importlib.util
import os
import pathlib
import platform
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
TEST_BUILD = BUILD / "tests"


def _scale():
    """TA_TEST_SCALE, which `make stress` sets to run the stress tests that
    many times longer, for the timeout; the programs refuse a bad value."""
    v = os.environ.get("TA_TEST_SCALE", "")
    return int(v) if v.isdigit() and int(v) > 0 else 1


TIMEOUT = 300 * _scale()
C_DIR = ROOT / "tests" / "c"
# unit: one internal module, white-box; integration: the public API only;
# stress: threads, random walks, long loops (tests/c/README.md).
KINDS = ("unit", "integration", "stress")
NAMES = sorted(f"{kind}/{src.stem}" for kind in KINDS for src in (C_DIR / kind).glob("test_*.c"))
SUMMARY = re.compile(r"^(\d+) checks, (\d+) failed$", re.M)

# The allocator maps its own memory, so LeakSanitizer has nothing to say
# about it; UBSan stays fatal through the build's -fno-sanitize-recover.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
    "TSAN_OPTIONS": "halt_on_error=1:second_deadlock_stack=1",
}
# tunalloc's prefork handler holds every allocator lock at once, more
# than the 64 held locks TSan's deadlock detector can track (it aborts with
# "sanitizer_deadlock_detector.h:67"); races are still checked.
TSAN_FORK_ENV = {"TSAN_OPTIONS": SANITIZER_ENV["TSAN_OPTIONS"] + ":detect_deadlocks=0"}


def _cases():
    """(kind/name, variant) pairs: plain, asan and debug for all, tsan for _mt."""
    for name in NAMES:
        yield name, "plain"
        yield name, "asan"
        yield name, "debug"
        if name.endswith("_mt"):
            yield name, "tsan"


CASES = list(_cases())


def _run(argv, env=None):
    """Runs argv from the repository root with the sanitizer settings."""
    full_env = dict(os.environ)
    full_env.pop("LD_PRELOAD", None)
    full_env.update(SANITIZER_ENV)
    full_env.update(env or {})
    return subprocess.run(argv, cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=TIMEOUT)


def _describe(res):
    return f"exit {res.returncode}\n--- stdout\n{res.stdout}\n--- stderr\n{res.stderr}"


def _assert_passed(res):
    """Exit 0 and a harness summary with checks run and none failed."""
    assert res.returncode == 0, _describe(res)
    m = SUMMARY.search(res.stdout)
    assert m, "no harness summary line\n" + _describe(res)
    assert int(m.group(1)) > 0 and int(m.group(2)) == 0, _describe(res)


@functools.lru_cache(maxsize=None)
def tsan_prefix():
    """(prefix, None) with the command prefix TSan binaries need here, or
    (None, reason). TSan aborts on some kernels ("unexpected memory
    mapping") because of ASLR; running without randomisation may fix it."""
    probe = TEST_BUILD / "tsan_probe"
    if not probe.exists():
        return None, None
    tried = []
    prefixes = [[]]
    if shutil.which("setarch"):
        prefixes.append(["setarch", platform.machine(), "-R"])
    for prefix in prefixes:
        res = _run(prefix + [str(probe)])
        if res.returncode == 0:
            return prefix, None
        out = (res.stderr or res.stdout).strip().replace("\n", " ")[:300]
        tried.append(f"`{' '.join(prefix + [probe.name])}` exited {res.returncode}: {out}")
    return None, "ThreadSanitizer cannot run on this machine: " + " | ".join(tried)


def test_every_source_is_collected():
    """Guards against a glob that silently finds nothing, and against a
    test left beside the kinds, which nothing would build or run."""
    for kind in KINDS:
        assert any(n.startswith(kind + "/") for n in NAMES), (kind, NAMES)
    stray = sorted(str(p.relative_to(ROOT)) for p in C_DIR.rglob("test_*.c")
                   if p.parent.name not in KINDS or p.parent.parent != C_DIR)
    assert not stray, f"C tests outside tests/c/{{{','.join(KINDS)}}}: {stray}"


def test_unit_tests_name_their_module():
    """A unit test's first line names the core/src file(s) it tests
    ("/* Unit test of bin.c."), and they exist."""
    core = ROOT / "core" / "src"
    for name in NAMES:
        if not name.startswith("unit/"):
            continue
        first = (C_DIR / f"{name}.c").read_text().splitlines()[0]
        m = re.match(r"/\* Unit test of (.+)\.$", first)
        assert m, f"{name}.c: first line does not name its module: {first!r}"
        files = re.findall(r"\b[\w-]+\.[ch]\b", m.group(1))
        assert files, f"{name}.c: no core/src file named in {first!r}"
        missing = [f for f in files if not (core / f).exists()]
        assert not missing, f"{name}.c names {missing}, not in core/src"


@pytest.mark.parametrize("value", ["0", "-3", "2x", "100001"])
def test_stress_scale_refuses_bad_values(value):
    """A TA_TEST_SCALE a stress test cannot use fails the run with a
    message instead of running some other length."""
    binary = TEST_BUILD / "plain" / "stress" / "test_arena_destroy_race_mt"
    assert binary.exists(), f"{binary} not built: run `make test-build`"
    res = _run([str(binary)], {"TA_TEST_SCALE": value})
    assert res.returncode != 0, _describe(res)
    assert f"TA_TEST_SCALE={value}: want a whole number" in res.stderr, _describe(res)


def _compile_commands(variant, names):
    """{name: argv} of the commands make would run to build each
    tests/c/<name>.c for variant (the make running pytest left out)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    targets = [str(TEST_BUILD.relative_to(ROOT) / variant / n) for n in names]
    res = subprocess.run(["make", "-n", "-B"] + targets, cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    commands = {}
    for name in names:
        lines = [ln for ln in res.stdout.splitlines() if f"tests/c/{name}.c" in ln]
        assert len(lines) == 1, res.stdout
        commands[name] = lines[0].split()
    return commands


@pytest.mark.parametrize("variant", ["plain", "asan", "debug", "tsan"])
def test_integration_tests_cannot_see_internals(variant):
    """Integration tests are compiled without core/src on the include path,
    so an internal #include there fails to build; unit tests have it."""
    integ = next(n for n in NAMES if n.startswith("integration/"))
    unit = next(n for n in NAMES if n.startswith("unit/"))
    cmd = _compile_commands(variant, [integ, unit])
    assert "-Icore/include" in cmd[integ]
    assert "-Icore/src" not in cmd[integ]
    assert "-Icore/src" in cmd[unit]


@pytest.mark.parametrize("name,variant", CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_c_program(name, variant):
    prefix, env = [], None
    if variant == "tsan":
        env = TSAN_FORK_ENV if "fork" in name else None
        prefix, reason = tsan_prefix()
        if prefix is None:
            if reason is None:
                pytest.fail(f"{TEST_BUILD / 'tsan_probe'} not built: run `make test-build`")
            pytest.skip(reason)
    binary = TEST_BUILD / variant / name
    assert binary.exists(), f"{binary} not built: run `make test-build`"
    _assert_passed(_run(prefix + [str(binary)], env))


def _has_static_tls_flag(lib):
    """True if the library's dynamic section asks for static TLS."""
    res = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    return "STATIC_TLS" in res.stdout


def test_library_build_needs_no_static_tls():
    lib = TEST_BUILD / "libta_dl.so"
    assert lib.exists(), f"{lib} not built: run `make test-build`"
    assert not _has_static_tls_flag(lib)


def test_python_core_loads_by_dlopen_after_static_tls_is_spent():
    """The Python package builds its own copy of the core (setup.py, from
    core/flags.mk): it too must load where no static TLS is left, as it
    does when `import tunalloc` comes after many extensions."""
    spec = importlib.util.find_spec("tunalloc")
    assert spec is not None, "tunalloc is not installed: run `make test-build`"
    cores = sorted(pathlib.Path(spec.origin).parent.glob("libtunalloc_core.so.*"))
    assert cores, f"no libtunalloc_core.so.* beside {spec.origin}"
    assert not _has_static_tls_flag(cores[0])
    res = _run([str(TEST_BUILD / "plain" / "integration" / "test_dlopen"), str(cores[0])])
    _assert_passed(res)
    assert "loaded " + str(cores[0]) + ": yes" in res.stdout, _describe(res)


def test_dlopen_check_catches_initial_exec():
    """Control for test_dlopen, which loads the library build after using
    up static TLS: the preload build, which may use initial-exec TLS, is
    refused in the same setting when it does, so the setting is real."""
    if not _has_static_tls_flag(BUILD / "libtunalloc.so"):
        pytest.skip("the preload build does not use static TLS")
    res = _run([str(TEST_BUILD / "plain" / "integration" / "test_dlopen"),
                str(BUILD / "libtunalloc.so")])
    assert res.returncode != 0, _describe(res)
    assert "cannot allocate memory in static TLS block" in res.stderr, _describe(res)


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_valgrind_clean():
    """tunalloc's own code paths read no uninitialised memory and make no
    invalid accesses that valgrind can see."""
    binary = TEST_BUILD / "plain" / "integration" / "test_basic"
    assert binary.exists(), f"{binary} not built: run `make test-build`"
    res = _run(["valgrind", "-q", "--error-exitcode=1", str(binary)])
    _assert_passed(res)
