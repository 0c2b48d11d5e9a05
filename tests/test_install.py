"""`make install` into a staged prefix (DESTDIR + PREFIX, as packagers do):
the files and sonames, a static archive that exports the public API only,
programs built against the installed tree with pkg-config and with CMake's
find_package, the installed tunalua and Lua module, and `make uninstall`."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
HEADER = ROOT / "core" / "include" / "tunalloc.h"
LUA_HEADER = ROOT / "bindings" / "lua" / "ta_lua.h"
VERSION = re.search(r'#define TA_VERSION "([^"]+)"', HEADER.read_text()).group(1)
MAJOR = VERSION.split(".")[0]
PREFIX = "/usr/local"

EXAMPLE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <tunalloc.h>

int main(void)
{
    void *p = ta_malloc(100), *q = malloc(100);
    size_t limit;
    int bad = ta_parse_size("64m", 3, &limit);
    const char *v;
    size_t len = sizeof v;
    if (p == NULL || q == NULL || bad || ta_ctl("version", &v, &len, NULL, 0))
        return 1;
    printf("%s %d %d %zu\n", v, ta_owns(p), ta_owns(q), limit);
    free(q);
    ta_free(p);
    return 0;
}
"""

CMAKELISTS = """
cmake_minimum_required(VERSION 3.16)
project(tunalloc_user C)
find_package(tunalloc %s REQUIRED)
foreach(t tunalloc api api_static)
  add_executable(example_${t} example.c)
  target_link_libraries(example_${t} PRIVATE tunalloc::${t})
endforeach()
""" % VERSION


def sh(*cmd, env=None, cwd=ROOT):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def public_api(header=HEADER):
    """The TA_API functions a header declares: the one list."""
    names = re.findall(r"^TA_API\b[^;(]*?\b((?:ta|luaopen)_\w+)\s*\(", header.read_text(), re.M)
    assert len(names) > 5
    return set(names)


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    dest = tmp_path_factory.mktemp("dest")
    sh("make", "-s", "install", f"DESTDIR={dest}", f"PREFIX={PREFIX}")
    return dest


def root_of(dest):
    return dest / PREFIX.lstrip("/")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A plain install into a temporary PREFIX, where the pkg-config and
    CMake files name the real paths, as a user's install does."""
    prefix = tmp_path_factory.mktemp("prefix")
    sh("make", "-s", "install", f"PREFIX={prefix}")
    return prefix


def test_installed_files(staged):
    root = root_of(staged)
    lib = root / "lib"
    for name in ("libtunalloc.so", "libtunalloc-api.so"):
        assert os.readlink(lib / name) == f"{name}.{MAJOR}"
        assert os.readlink(lib / f"{name}.{MAJOR}") == f"{name}.{VERSION}"
        dyn = sh("readelf", "-d", str(lib / f"{name}.{VERSION}"))
        assert f"Library soname: [{name}.{MAJOR}]" in dyn
    for rel in ("include/tunalloc.h", "include/ta_lua.h", "lib/libtunalloc-api.a",
                "lib/libtunalloc-lua.a", "bin/tunalua", "lib/pkgconfig/tunalloc.pc",
                "lib/pkgconfig/tunalloc-api.pc", "lib/pkgconfig/tunalloc-lua.pc",
                "lib/cmake/tunalloc/tunallocConfig.cmake",
                "lib/cmake/tunalloc/tunallocConfigVersion.cmake",
                "lib/lua/5.4/tunalloc.so", "share/doc/tunalloc/LICENSE"):
        assert (root / rel).is_file(), rel
    # malloc is replaced by libtunalloc.so only
    preload = sh("nm", "-D", "--defined-only", str(lib / "libtunalloc.so"))
    api = sh("nm", "-D", "--defined-only", str(lib / "libtunalloc-api.so"))
    assert re.search(r" T malloc$", preload, re.M)
    assert not re.search(r" T malloc$", api, re.M)


@pytest.mark.parametrize("archive,headers", [("libtunalloc-api.a", [HEADER]),
                                             ("libtunalloc-lua.a", [HEADER, LUA_HEADER])])
def test_static_archives_export_only_the_api(staged, archive, headers):
    """Internals are local in the installed archives: their global symbols
    are exactly the TA_API declarations of their headers."""
    path = str(root_of(staged) / "lib" / archive)
    out = sh("nm", "-g", "--defined-only", path)
    defined = {line.split()[-1] for line in out.splitlines() if re.match(r"^[0-9a-f]+ ", line)}
    assert defined == set().union(*(public_api(h) for h in headers))
    undefined = sh("nm", "-u", path)
    assert not re.search(r"\bta_", undefined), undefined


@pytest.mark.parametrize("name", ["libtunalloc.so", "libtunalloc-api.so"])
def test_libraries_link_no_optional_glibc_function(name):
    """The profile's stack walker looks _dl_find_object up at run time:
    linked, it made the core (and a wheel, manylinux_2_35) refuse to load
    on glibc 2.34 for a walker backtrace() stands in for there."""
    out = sh("nm", "-D", "--undefined-only", str(BUILD / name))
    assert "_dl_find_object" not in out
    needed = re.findall(r"GLIBC_2\.(\d+)", sh("readelf", "-V", "--wide", str(BUILD / name)))
    assert max(map(int, needed)) <= 34, sorted(set(needed))


def test_api_library_loads_by_dlopen_after_static_tls_is_spent():
    """The API library keeps the TLS-descriptor build: test_dlopen loads
    it where no static TLS is left."""
    prog = BUILD / "tests" / "plain" / "integration" / "test_dlopen"
    assert prog.exists(), f"{prog} not built: run `make test-build`"
    out = sh(str(prog), str(BUILD / "libtunalloc-api.so"))
    assert " 0 failed" in out, out


def run_example(path, root):
    env = dict(os.environ, LD_LIBRARY_PATH=str(root / "lib"))
    return sh(str(path), env=env).split()


@pytest.mark.parametrize("package,malloc_owned", [("tunalloc", "1"), ("tunalloc-api", "0")])
def test_pkg_config_build(installed, tmp_path, package, malloc_owned):
    root = installed
    (tmp_path / "example.c").write_text(EXAMPLE)
    env = dict(os.environ, PKG_CONFIG_PATH=str(root / "lib" / "pkgconfig"))
    assert sh("pkg-config", "--modversion", package, env=env).strip() == VERSION
    flags = sh("pkg-config", "--cflags", "--libs", package, env=env).split()
    assert f"-I{root}/include" in flags
    sh("cc", "-std=c11", "-Wall", "-Werror", "example.c", "-o", "example", *flags,
       cwd=tmp_path)
    assert run_example(tmp_path / "example", root) == [VERSION, "1", malloc_owned, str(64 << 20)]


def test_lua_host_against_the_installed_tree(installed, tmp_path):
    """A C program embedding Lua (examples/lua_host.c) builds with
    pkg-config's tunalloc-lua and runs its states on tunalloc."""
    env = dict(os.environ, PKG_CONFIG_PATH=str(installed / "lib" / "pkgconfig"))
    flags = sh("pkg-config", "--cflags", "--libs", "tunalloc-lua", env=env).split()
    sh("cc", "-std=c11", "-Wall", "-Werror", str(ROOT / "examples" / "lua_host.c"),
       "-o", "lua_host", *flags, "-lm", "-ldl", cwd=tmp_path)
    out = sh(str(tmp_path / "lua_host"))
    assert "greedy" in out and "not enough memory" in out and "arena destroyed" in out


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not installed")
def test_cmake_find_package(staged, tmp_path):
    """The staged tree: the CMake package finds its files relative to
    itself."""
    root = root_of(staged)
    (tmp_path / "example.c").write_text(EXAMPLE)
    (tmp_path / "CMakeLists.txt").write_text(CMAKELISTS)
    sh("cmake", "-S", str(tmp_path), "-B", str(tmp_path / "b"),
       f"-DCMAKE_PREFIX_PATH={root}", cwd=tmp_path)
    sh("cmake", "--build", str(tmp_path / "b"), cwd=tmp_path)
    for target, owned in (("tunalloc", "1"), ("api", "0"), ("api_static", "0")):
        assert run_example(tmp_path / "b" / f"example_{target}", root) == \
            [VERSION, "1", owned, str(64 << 20)]
    # a newer version than installed is refused
    (tmp_path / "CMakeLists.txt").write_text(CMAKELISTS.replace(VERSION, f"{int(MAJOR) + 1}.0"))
    r = subprocess.run(["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "c"),
                        f"-DCMAKE_PREFIX_PATH={root}"], capture_output=True, text=True)
    assert r.returncode != 0 and "tunalloc" in r.stderr


def test_installed_lua_pieces(installed):
    root = installed
    out = sh(str(root / "bin" / "tunalua"), "-v", "-e",
             "print(require('tunalloc').version)")
    assert out.splitlines() == [out.splitlines()[0], VERSION]
    assert out.splitlines()[0].endswith(f"(tunalloc {VERSION})")
    env = dict(os.environ, LUA_CPATH=str(root / "lib" / "lua" / "5.4" / "?.so"))
    assert sh("lua5.4", "-e", "print(require('tunalloc').version)", env=env).strip() == VERSION


def test_uninstall_removes_everything(tmp_path):
    sh("make", "-s", "install", f"DESTDIR={tmp_path}", f"PREFIX={PREFIX}")
    sh("make", "-s", "uninstall", f"DESTDIR={tmp_path}", f"PREFIX={PREFIX}")
    left = [p for p in tmp_path.rglob("*") if not p.is_dir()]
    assert left == []
