"""`make wheel`: a manylinux wheel (auditwheel-repaired) whose libraries
search only the package's own directory, with the licence and metadata
of pyproject.toml; installed into a fresh venv it enables tunalloc."""
import os
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
VERSION = re.search(r'#define TA_VERSION "([^"]+)"',
                    (ROOT / "core" / "include" / "tunalloc.h").read_text()).group(1)


def sh(*cmd, cwd=ROOT, env=None):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    sh("make", "-s", "wheel", f"WHEEL_DIR={out}", f"PYTHON={sys.executable}")
    (path,) = out.glob("tunalloc-*.whl")
    return path


def test_manylinux_tag_and_contents(wheel, tmp_path):
    assert re.fullmatch(rf"tunalloc-{re.escape(VERSION)}-cp3\d+-cp3\d+-manylinux_2_\d+_x86_64\.whl",
                        wheel.name), wheel.name
    z = zipfile.ZipFile(wheel)
    names = z.namelist()
    assert f"tunalloc-{VERSION}.dist-info/licenses/LICENSE" in names
    meta = z.read(f"tunalloc-{VERSION}.dist-info/METADATA").decode()
    for line in ("License-Expression: MIT", "Requires-Python: >=3.11",
                 "Provides-Extra: numpy", "Provides-Extra: prometheus",
                 "Classifier: Programming Language :: Python :: 3.13"):
        assert line in meta.splitlines(), line
    z.extractall(tmp_path)
    libs = [p for p in tmp_path.rglob("*.so*") if p.is_file()]
    assert len(libs) == 3, libs
    for lib in libs:
        dyn = sh("readelf", "-d", str(lib))
        paths = re.findall(r"\((?:RPATH|RUNPATH)\).*\[(.*)\]", dyn)
        assert paths in ([], ["$ORIGIN"]), (lib.name, paths)


def test_installs_into_a_fresh_venv_and_enables(wheel, tmp_path):
    sh(sys.executable, "-m", "venv", str(tmp_path / "venv"))
    py = str(tmp_path / "venv" / "bin" / "python")
    sh(py, "-m", "pip", "install", "-q", str(wheel))
    probe = ("import importlib.metadata as md, tunalloc; tunalloc.enable(); "
             "x = [str(i) * 10 for i in range(10000)]; "
             "print(tunalloc.__file__, ','.join(tunalloc.status().active), "
             "tunalloc.stats()['allocated'] > 0, tunalloc.__version__, md.version('tunalloc'))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TUNALLOC"))}
    out = sh(py, "-c", probe, cwd=tmp_path, env=env).split()
    assert out[0].startswith(str(tmp_path / "venv"))
    assert out[1:] == ["raw,mem,obj", "True", VERSION, VERSION]
