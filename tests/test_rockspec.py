"""The rockspec: its version is TA_VERSION, and `luarocks make` builds and
installs the module into a local tree from which the stock lua5.4
requires it and runs on it."""
import os
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
VERSION = re.search(r'#define TA_VERSION "([^"]+)"',
                    (ROOT / "core" / "include" / "tunalloc.h").read_text()).group(1)


def rockspec():
    (path,) = ROOT.glob("tunalloc-*.rockspec")
    return path


def test_rockspec_version_is_the_libraries():
    path = rockspec()
    assert path.name == f"tunalloc-{VERSION}-1.rockspec"
    assert f'version = "{VERSION}-1"' in path.read_text()


def test_luarocks_make_into_a_local_tree(tmp_path):
    tree = tmp_path / "tree"
    r = subprocess.run(["luarocks", "--lua-version", "5.4", "--tree", str(tree), "make",
                        rockspec().name], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tree / "lib" / "lua" / "5.4" / "tunalloc.so").is_file()
    env = dict(os.environ, LUA_CPATH=str(tree / "lib" / "lua" / "5.4" / "?.so"),
               LUA_PATH="")
    r = subprocess.run(["lua5.4", "-e",
                        "local t = require 'tunalloc' assert(t.install()) "
                        "local x = {} for i = 1, 1e4 do x[i] = {i} end "
                        "print(t.version, t.state().installed, t.state().nalloc > 1e4)"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [VERSION, "true", "true"]
