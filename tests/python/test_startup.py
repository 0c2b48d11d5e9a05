"""Enabling at start-up: TUNALLOC_PYTHON (the .pth hook) and
python -m tunalloc, both before the application's first import."""
import json
import os
import sys

from py_helpers import REPO, clean_env, run_py

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


MODULE = """
import os, sys, tunalloc
print("name", __name__)
print("argv", repr(sys.argv[1:]))
print("argv0", os.path.basename(sys.argv[0]))
print("active", ",".join(tunalloc.status().active))
print("path0", sys.path[0])
"""


def test_python_m_tunalloc_runs_a_module(tmp_path):
    """As coverage and cProfile accept: before, "-m" was taken for a
    script name ("can't open file '-m'")."""
    (tmp_path / "mymod.py").write_text(MODULE)
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(MODULE)
    env = clean_env(PYTHONPATH=str(tmp_path))
    out = lines(run_py(None, "-m", "tunalloc", "-m", "mymod", "a", "--b", env=env))
    assert out == {"name": "__main__", "argv": repr(["a", "--b"]), "argv0": "mymod.py",
                   "active": "raw,mem,obj", "path0": REPO}
    out = lines(run_py(None, "-m", "tunalloc", "--domains", "obj", "-m", "mypkg", "-x",
                       env=env))
    assert out["argv"] == repr(["-x"]) and out["argv0"] == "__main__.py"
    assert out["active"] == "obj"
    proc = run_py(None, "-m", "tunalloc", "-m", "json.tool", input_text='{"a": [1]}')
    assert json.loads(proc.stdout) == {"a": [1]}


def test_python_m_tunalloc_help_lists_domains_and_environment():
    text = run_py(None, "-m", "tunalloc", "--help").stdout
    for word in ("raw", "mem", "obj", "arena", "numpy", "TUNALLOC_PYTHON",
                 "TUNALLOC_CONF", "PYTHONMALLOC", "-m module", "stats", "plot"):
        assert word in text, word


def test_python_m_tunalloc_stats_prints_the_report_after_the_run(tmp_path):
    app = tmp_path / "app.py"
    app.write_text("import sys\nkeep = [bytearray(1 << 20) for _ in range(8)]\n"
                   "print('done')\nsys.exit(4)\n")
    proc = run_py(None, "-m", "tunalloc", "stats", str(app), check=False)
    assert proc.returncode == 4
    assert proc.stdout == "done\n"
    assert proc.stderr.startswith("___ Begin tunalloc statistics ___")
    assert "Allocated:" in proc.stderr and "arenas[0]" in proc.stderr
    short = run_py(None, "-m", "tunalloc", "stats", "--opts", "ab", "--domains", "mem",
                   "-m", "json.tool", input_text="[]")
    assert short.stdout.strip() == "[]"
    assert "Allocated:" in short.stderr and "arenas[0]" not in short.stderr


def test_python_m_tunalloc_command_line_errors(tmp_path):
    for args in (["-m"], ["-m", "no_such_module_here"], ["--opts", "a", "x.py"],
                 ["stats", "--opts", "z", "x.py"], ["stats"], ["--bogus", "x.py"],
                 ["-X", "x.py"]):
        proc = run_py(None, "-m", "tunalloc", *args, check=False)
        assert proc.returncode != 0, args
        assert proc.stderr.startswith("tunalloc: "), (args, proc.stderr)
        assert "usage:" in proc.stderr
