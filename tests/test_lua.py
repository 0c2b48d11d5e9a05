"""Lua integration tests: every Lua test script under tunalua and under
the stock lua5.4 with the C module, and every host-API C test plain,
under ASan/UBSan, and (threaded ones) under TSan."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
LUA_TESTS = ROOT / "tests" / "lua"
SCRIPTS = sorted(p.name for p in LUA_TESTS.glob("test_*.lua"))
C_TESTS = sorted(p.stem for p in (LUA_TESTS / "c").glob("test_*.c"))
TIMEOUT = 300


def lua_env():
    env = dict(os.environ)
    env["LUA_PATH"] = f"{LUA_TESTS}/?.lua;;"
    env["LUA_CPATH"] = f"{BUILD}/lua/?.so"
    return env


def interpreters():
    return {"tunalua": [str(BUILD / "tunalua")], "lua5.4": ["lua5.4"]}


def run(cmd, env=None):
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)


@pytest.mark.parametrize("interp", ["tunalua", "lua5.4"])
@pytest.mark.parametrize("script", SCRIPTS)
def test_lua_script(script, interp):
    cmd = interpreters()[interp] + [str(LUA_TESTS / script)]
    r = run(cmd, lua_env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{script}: " in r.stdout and "checks passed" in r.stdout, r.stdout
    assert r.stderr == "", r.stderr


def run_c_test(path):
    assert path.exists(), f"{path} not built (make test-build)"
    r = run([str(path)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 failed" in r.stdout, r.stdout
    return r


@pytest.mark.parametrize("name", C_TESTS)
def test_host_api(name):
    run_c_test(BUILD / "tests" / "lua" / name)


@pytest.mark.parametrize("name", C_TESTS)
def test_host_api_asan(name):
    r = run_c_test(BUILD / "tests" / "lua" / "asan" / name)
    assert "runtime error" not in r.stderr, r.stderr


TSAN_C_TESTS = [n for n in C_TESTS if n.endswith("_mt")]


@pytest.mark.parametrize("name", TSAN_C_TESTS)
def test_host_api_tsan(name):
    path = BUILD / "tests" / "lua" / "tsan" / name
    assert path.exists(), f"{path} not built (make test-build)"
    r = run([str(path)])
    # TSan refuses to start on some kernels (address-space layout): that
    # is a property of the machine, not a test failure.
    if "FATAL: ThreadSanitizer" in r.stderr and "checks" not in r.stdout:
        pytest.skip("ThreadSanitizer cannot run on this machine: "
                    + r.stderr.strip().splitlines()[0][:200])
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 failed" in r.stdout, r.stdout
    assert "WARNING: ThreadSanitizer" not in r.stderr, r.stderr


def test_tunalua_cli():
    """-e, -l, arguments in arg and ..., -M limit, --gc, errors."""
    tl = str(BUILD / "tunalua")
    r = run([tl, "-e", "x = 6", "-l", "tl=tunalloc", "-e",
             "print(x * 7, tl.version == require('tunalloc').version)"])
    assert r.returncode == 0 and r.stdout == "42\ttrue\n", r.stdout + r.stderr
    script = LUA_TESTS / "cli_args.lua"
    r = run([tl, str(script), "a", "b"])
    assert r.stdout.split() == ["2", "a", "b", str(script), "a"], r.stdout + r.stderr
    r = run([tl, "-M", "256k", "-e",
             "local t = {} for i = 1, 1e7 do t[i] = i end"])
    assert r.returncode == 1 and "not enough memory" in r.stderr, r.stderr
    r = run([tl, "-M", "256k", "-e",
             "assert(not pcall(function() local t = {} for i = 1, 1e7 do t[i] = i end end)) "
             "print(require('tunalloc').state().limit)"])
    assert r.stdout.strip() == str(256 * 1024), r.stdout + r.stderr
    for mode, expected in (("incremental", "incremental"), ("generational", "generational")):
        r = run([tl, f"--gc={mode}", "-e",
                 "print(collectgarbage('incremental') == 'incremental' and 'incremental' or 'generational')"])
        assert r.stdout.strip() == expected, r.stdout + r.stderr
    # --alloc=system: the same interpreter on the C library's allocator
    r = run([tl, "--alloc=system", "--gc=incremental", "-e",
             "print(pcall(require('tunalloc').state), collectgarbage('incremental'))"])
    assert r.returncode == 0 and r.stdout.startswith("false\t") \
        and r.stdout.strip().endswith("incremental"), r.stdout + r.stderr
    r = run([tl, "--alloc=system", str(script), "a"], lua_env())
    assert r.stdout.split() == ["1", "a", "nil", str(script), "a"], r.stdout + r.stderr
    r = run([tl, "--alloc=system", "-e",
             "local t = require('tunalloc') t.install() print(t.state().installed)"],
            lua_env())
    assert r.stdout.strip() == "true", r.stdout + r.stderr
    for bad in (["-M", "1m"], ["--stats"]):
        r = run([tl, "--alloc=system"] + bad + ["-e", "print(1)"])
        assert r.returncode == 1 and "need the tunalloc allocator" in r.stderr, r.stderr
    r = run([tl, "-M", "lots", "-e", "print(1)"])
    assert r.returncode == 1 and "bad size" in r.stderr
    r = run([tl, "--bogus"])
    assert r.returncode == 1 and "unrecognized option" in r.stderr
    r = run([tl, "-e", "error('boom')"])
    assert r.returncode == 1 and "boom" in r.stderr and "traceback" in r.stderr


def test_tunalua_repl():
    """-i reads statements from stdin, continues incomplete ones, prints
    expression values, and survives errors."""
    r = subprocess.run([str(BUILD / "tunalua"), "-i"], cwd=ROOT,
                       input="1 + 2\nfunction f(x)\nreturn x * 2 end\nf(21)\nerror('oops')\n'still here'\n",
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert "3\n" in r.stdout and "42\n" in r.stdout and "still here" in r.stdout
    assert "oops" in r.stderr


def test_lua_host_example():
    r = run([str(BUILD / "examples" / "lua_host")])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "greedy" in r.stdout and "not enough memory" in r.stdout
    assert "arena destroyed" in r.stdout


@pytest.mark.parametrize("interp", ["tunalua", "lua5.4"])
@pytest.mark.parametrize("example", ["watch.lua", "demo.lua"])
def test_lua_examples(example, interp):
    """The watcher and the demo run to the end under both interpreters,
    and their limit step stops the runaway loop."""
    r = run(interpreters()[interp] + [str(ROOT / "examples" / example)], lua_env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "stopped (not enough memory)" in r.stdout, r.stdout


def test_stock_interpreter_dash_l():
    """`lua5.4 -l tunalloc` then install(): the state switches and exits
    cleanly (the module stays loaded past lua_close)."""
    r = run(["lua5.4", "-l", "tunalloc", "-e",
             "assert(tunalloc.install()) local t = {} for i = 1, 1e5 do t[i] = {i} end "
             "print(tunalloc.state().installed, tunalloc.arena_of(t) ~= nil)"], lua_env())
    assert r.returncode == 0, r.stderr
    assert r.stdout == "true\ttrue\n", r.stdout


def test_tunalua_secure_mode():
    """tunalua under secure:true runs the preload tests' workload to the
    same checksum with no report: states resize through the path that
    moves each block's canary (a same-class resize used to leave it
    inside the block, reported as an overflow, and abort)."""
    script = ROOT / "tests" / "data" / "lua_workload.lua"
    plain = run([str(BUILD / "tunalua"), str(script)])
    secure = run([str(BUILD / "tunalua"), str(script)],
                 dict(os.environ, TUNALLOC_CONF="secure:true"))
    assert plain.returncode == 0 and plain.stdout.startswith("checksum "), plain.stderr
    assert secure.returncode == 0 and secure.stderr == "", secure.stderr
    assert secure.stdout == plain.stdout


@pytest.mark.parametrize("src", sorted(p.name for p in (ROOT / "bindings" / "lua").glob("*.c")))
def test_binding_sees_public_headers_only(src):
    """Every binding source compiles with the public header directory and
    no core/src on the include path, so libta_lua.a is built on
    tunalloc.h alone and works with any core build of that API."""
    lua_inc = subprocess.run(["pkg-config", "--cflags", "lua5.4"], capture_output=True,
                             text=True).stdout.split() or ["-I/usr/include/lua5.4"]
    r = run(["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
             "-fsyntax-only", "-Icore/include", "-Ibindings/lua", *lua_inc,
             f"bindings/lua/{src}"])
    assert r.returncode == 0, r.stderr
