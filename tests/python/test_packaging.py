"""Packaging: the wheel's contents, one core instance shared by both
extension modules, and installs into a venv (regular and editable)."""
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from py_helpers import REPO, clean_env

import tunalloc._ctl
import tunalloc._hook

PKG_DIR = os.path.dirname(tunalloc._hook.__file__)
VERSION = tunalloc.__version__
CORE = "libtunalloc_core.so." + VERSION.split(".")[0]


def sh(*cmd, cwd=None, env=None):
    proc = subprocess.run(cmd, cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


def test_extensions_link_the_one_shared_core():
    """Both modules load libtunalloc_core.so.0 (rpath $ORIGIN) and define no
    ta_* function themselves: compiling the core into each would give two
    heaps."""
    assert os.path.exists(os.path.join(PKG_DIR, CORE))
    for mod in (tunalloc._hook, tunalloc._ctl):
        dyn = sh("readelf", "-d", mod.__file__)
        assert f"[{CORE}]" in dyn
        assert "$ORIGIN" in dyn
        defined = sh("nm", "-D", "--defined-only", mod.__file__)
        assert " ta_" not in defined, defined
    core = sh("nm", "-D", "--defined-only", os.path.join(PKG_DIR, CORE))
    assert " T ta_malloc" in core
    assert " T malloc\n" not in core


def copy_sources(dest):
    """The files setup.py needs, so builds never write into the checkout."""
    for name in ("setup.py", "pyproject.toml", "MANIFEST.in", "LICENSE"):
        shutil.copy(os.path.join(REPO, name), dest)
    ignore = shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info", "build")
    for tree in ("core", "bindings/python", "docs"):
        if os.path.isdir(os.path.join(REPO, tree)):
            shutil.copytree(os.path.join(REPO, tree), os.path.join(dest, tree),
                            ignore=ignore)


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    dest = tmp_path_factory.mktemp("src")
    copy_sources(dest)
    return dest


@pytest.fixture(scope="module")
def wheel(src, tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
       "--no-build-isolation", "-w", str(out), ".", cwd=src)
    (path,) = out.glob("tunalloc-*.whl")
    return path


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("tunalloc/__init__.py", "tunalloc/__init__.pyi",
                   "tunalloc/py.typed", "tunalloc/__main__.py",
                   "tunalloc/" + CORE, "tunalloc-%s.dist-info/licenses/LICENSE" % VERSION):
        assert needed in names
    assert any(n.startswith("tunalloc/_hook.") and n.endswith(".so") for n in names)
    assert any(n.startswith("tunalloc/_ctl.") and n.endswith(".so") for n in names)
    assert any(n.endswith("site-packages/tunalloc_startup.pth") for n in names)


def venv_python(tmp_path):
    # no pip or setuptools of its own: the system's (setuptools>=77) build it
    sh(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
       str(tmp_path / "venv"))
    return str(tmp_path / "venv" / "bin" / "python")


PROBE = ("import tunalloc; print(tunalloc.__file__); "
         "print(','.join(tunalloc.status().active)); "
         "print(tunalloc.stats()['allocated'] > 0)")


def test_wheel_installs_into_venv_with_startup_hook(wheel, tmp_path):
    py = venv_python(tmp_path)
    sh(py, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", str(wheel))
    out = sh(py, "-c", PROBE, cwd=tmp_path,
             env=clean_env(TUNALLOC_PYTHON="1")).split()
    assert out[0].startswith(str(tmp_path / "venv"))
    assert out[1:] == ["raw,mem,obj", "True"]


def test_editable_install(src, tmp_path):
    py = venv_python(tmp_path)
    sh(py, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--ignore-installed",
       "-e", ".", cwd=src)
    out = sh(py, "-c", PROBE, cwd=tmp_path,
             env=clean_env(TUNALLOC_PYTHON="1")).split()
    assert out[0].startswith(str(src))
    assert out[1:] == ["raw,mem,obj", "True"]
