"""Enabling at start-up: TUNALLOC_PYTHON (the .pth hook) and
python -m tunalloc, both before the application's first import."""
import os
import sys

from py_helpers import clean_env, run_py

# The application reports whether tunalloc was on before its first import
# (tunalloc's own modules are imported by the start-up hook, not by it).
APP = """
import sys
mods = "tunalloc._hook" in sys.modules
from tunalloc._ctl import ffi, lib
import tunalloc
print("hooked-before-imports", mods)
print("active", ",".join(tunalloc.status().active))
print("argv", sys.argv)
print("owned", bool(lib.ta_owns(ffi.cast("void *", id(object())))))
"""


def write_app(tmp_path):
    path = tmp_path / "app.py"
    path.write_text(APP)
    return str(path)


def lines(proc):
    return dict(line.split(" ", 1) for line in proc.stdout.splitlines())


def test_env_variable_enables(tmp_path):
    app = write_app(tmp_path)
    out = lines(run_py(None, app, "x", env=clean_env(TUNALLOC_PYTHON="1")))
    assert out["hooked-before-imports"] == "True"
    assert out["active"] == "raw,mem,obj"
    assert out["owned"] == "True"
    assert out["argv"] == repr([app, "x"])


def test_env_variable_domain_list(tmp_path):
    app = write_app(tmp_path)
    out = lines(run_py(None, app, env=clean_env(TUNALLOC_PYTHON="obj,arena")))
    assert out["active"] == "obj,arena"
    out = lines(run_py(None, app, env=clean_env(TUNALLOC_PYTHON="all")))
    assert out["active"] == "raw,mem,obj,arena"


def test_without_env_nothing_is_enabled(tmp_path):
    app = write_app(tmp_path)
    for value in (None, "0", ""):
        env = clean_env() if value is None else clean_env(TUNALLOC_PYTHON=value)
        out = lines(run_py(None, app, env=env))
        assert out["hooked-before-imports"] == "False"
        assert out["active"] == ""
        assert out["owned"] == "False"


def test_bad_env_value_warns_and_runs(tmp_path):
    app = write_app(tmp_path)
    proc = run_py(None, app, env=clean_env(TUNALLOC_PYTHON="heap"))
    assert "TUNALLOC_PYTHON='heap' ignored" in proc.stderr
    assert lines(proc)["active"] == ""


def test_python_m_tunalloc(tmp_path):
    app = write_app(tmp_path)
    out = lines(run_py(None, "-m", "tunalloc", app, "a", "--b"))
    assert out["active"] == "raw,mem,obj"
    assert out["owned"] == "True"
    assert out["argv"] == repr([app, "a", "--b"])


def test_python_m_tunalloc_domains_and_exit_code(tmp_path):
    app = tmp_path / "fail.py"
    app.write_text("import sys, tunalloc\n"
                   "print(','.join(tunalloc.status().active))\n"
                   "print(sys.path[0])\nsys.exit(3)\n")
    proc = run_py(None, "-m", "tunalloc", "--domains", "all", str(app), check=False)
    assert proc.returncode == 3
    active, path0 = proc.stdout.split()
    assert active == "raw,mem,obj,arena"
    assert path0 == str(tmp_path)
    proc = run_py(None, "-m", "tunalloc", "--domains=mem", str(app), check=False)
    assert proc.stdout.split()[0] == "mem"


def test_python_m_tunalloc_usage_errors(tmp_path):
    for args in ([], ["--domains", "nope", "x.py"], [str(tmp_path / "missing.py")],
                 ["--domains"]):
        proc = run_py(None, "-m", "tunalloc", *args, check=False)
        assert proc.returncode != 0
        assert "tunalloc" in proc.stderr
    proc = run_py(None, "-m", "tunalloc", "--help")
    assert "usage" in proc.stdout.lower()


def test_pth_file_installed():
    import site
    dirs = site.getsitepackages() + [site.getusersitepackages()]
    assert any(os.path.exists(os.path.join(d, "tunalloc_startup.pth")) for d in dirs), sys.path
