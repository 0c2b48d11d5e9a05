"""tunalua is a lua5.4 look-alike: the same command lines through both give
the same stdout, stderr and exit code, once the program name and
tunalua's version suffix are normalised. Its own options come on top."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TUNALUA = ROOT / "build" / "tunalua"
OWN_OPTIONS = ("  -M size", "  --gc=MODE", "  --stats", "  --profile", "  --alloc=system",
               "                 interpreter")


def run(interp, args, tmp_path, env_extra=None, stdin=""):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUA_")}
    env.update(env_extra or {})
    r = subprocess.run([interp] + args, cwd=tmp_path, env=env, input=stdin,
                       capture_output=True, text=True, timeout=60)
    out = r.stdout.replace(f" (tunalloc {version()})", "").replace(interp, "LUA")
    err = r.stderr.replace(interp, "LUA")
    err = "".join(l for l in err.splitlines(True) if not l.startswith(OWN_OPTIONS))
    return r.returncode, out, err


def version():
    return subprocess.run([str(TUNALUA), "-v"], capture_output=True, text=True,
                          check=True).stdout.split("(tunalloc ")[1].rstrip(")\n")


@pytest.fixture
def files(tmp_path):
    (tmp_path / "args.lua").write_text(
        "print(select('#', ...), ...)\n"
        "for i = -3, #arg do print(i, arg[i]) end\n")
    (tmp_path / "init.lua").write_text("INIT = 'from file'\n")
    (tmp_path / "fail.lua").write_text("local x = nil\nreturn x.y\n")
    (tmp_path / "exit.lua").write_text("os.exit(7)\n")
    (tmp_path / "syntax.lua").write_text("x = = 1\n")
    (tmp_path / "mymod.lua").write_text("return {name = 'mymod'}\n")
    return tmp_path


CASES = [
    (["-e", "print(1 + 1)"], {}, ""),
    (["-eprint'joined'"], {}, ""),
    (["-e", "x = 6", "-e", "print(x * 7)"], {}, ""),
    (["-l", "mymod", "-e", "print(mymod.name)"], {"LUA_PATH": "./?.lua"}, ""),
    (["-l", "m=mymod", "-e", "print(m.name, mymod)"], {"LUA_PATH": "./?.lua"}, ""),
    (["-lnosuchmod"], {}, ""),
    (["args.lua", "a", "b c"], {}, ""),
    (["-e", "y=1", "args.lua", "-e", "x"], {}, ""),
    (["--", "args.lua", "-v"], {}, ""),
    (["-", "p", "q"], {}, "print(..., arg[0])"),
    ([], {}, "print('stdin', arg[0])"),
    (["-e", "arg[1] = 'changed'", "args.lua", "orig"], {}, ""),
    (["-e", "print(X)"], {"LUA_INIT": "X = 5"}, ""),
    (["-e", "print(X)"], {"LUA_INIT": "X = 5", "LUA_INIT_5_4": "X = 54"}, ""),
    (["-e", "print(INIT)"], {"LUA_INIT": "@init.lua"}, ""),
    (["-e", "print(1)"], {"LUA_INIT": "@missing.lua"}, ""),
    (["-e", "print(1)"], {"LUA_INIT": "error('in init')"}, ""),
    (["-E", "-e", "print(X, package.path)"], {"LUA_INIT": "X = 5", "LUA_PATH": "/x/?.lua"}, ""),
    (["-e", "print(package.path)"], {"LUA_PATH": "/x/?.lua;;"}, ""),
    (["-W", "-e", "warn('hi') warn('a', 'b')"], {}, ""),
    (["-e", "warn('hidden') warn('@on') warn('shown')"], {}, ""),
    (["-v"], {}, ""),
    (["-v", "-e", "print(1)"], {}, ""),
    (["-i"], {}, "1 + 1\n=2\nfor i = 1, 2 do\nprint(i)\nend\nerror('x')\nx(\n_PROMPT = 'P> '\nprint(nil)\n"),
    (["fail.lua"], {}, ""),
    (["syntax.lua"], {}, ""),
    (["missing.lua"], {}, ""),
    (["exit.lua"], {}, ""),
    (["-e", "error({})"], {}, ""),
    (["-e", "error(setmetatable({}, {__tostring = function() return 'custom' end}))"], {}, ""),
    (["-e", "os.exit(false)"], {}, ""),
    (["-e", "os.exit(true)"], {}, ""),
    (["-e"], {}, ""),
    (["-l"], {}, ""),
    (["-e", "-x"], {}, ""),
    (["-x"], {}, ""),
    (["-ix"], {}, ""),
    (["-Ex"], {}, ""),
    (["--gc=foo"], {}, ""),
    (["--bogus", "-e", "print(1)"], {}, ""),
    (["---"], {}, ""),
]


@pytest.mark.parametrize("args,env,stdin", CASES, ids=[" ".join(c[0]) or "(none)" for c in CASES])
def test_same_as_lua54(args, env, stdin, files):
    """-i's echo differs: Debian's lua5.4 uses readline, which echoes the
    line it read when stdin is not a terminal; tunalua reads plain lines."""
    want = run("lua5.4", args, files, env, stdin)
    got = run(str(TUNALUA), args, files, env, stdin)
    if "-i" in args:
        lines = set(stdin.splitlines())
        want = (want[0], "".join(l for l in want[1].splitlines(True)
                                 if l.rstrip("\n").split(" ", 1)[-1] not in lines), want[2])
        got = (got[0], got[1].replace(">> ", "").replace("> ", ""), got[2])
        want = (want[0], want[1].replace(">> ", "").replace("> ", ""), want[2])
    assert got == want


def test_own_options_on_top(files):
    """tunalua's options mix with lua5.4's; a bad value or a missing
    argument names the option."""
    t = str(TUNALUA)
    r = subprocess.run([t, "-M", "64m", "--gc=incremental", "-E", "-e",
                        "print(require('tunalloc').state().limit)", "args.lua", "z"],
                       cwd=files, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == str(64 << 20)
    assert r.stdout.splitlines()[1] == "1\tz"
    r = subprocess.run([t, "-M64k", "-e", "print(require('tunalloc').state().limit)"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == f"{64 << 10}\n", r.stderr
    r = subprocess.run([t, "-M"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.startswith(f"{t}: '-M' needs argument\n"), r.stderr
    r = subprocess.run([t, "-M", "64x"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr == f"{t}: bad size '64x' for -M (digits, then k, m or g)\n"


@pytest.mark.parametrize("interp", ["lua5.4", str(TUNALUA)])
def test_ctrl_c_interrupts_the_script(interp, tmp_path):
    """SIGINT while a chunk runs raises "interrupted!" in it, as lua5.4 does."""
    import signal
    import time
    p = subprocess.Popen([interp, "-e", "io.write('ready\\n') io.flush() while true do end"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 1
    assert err.startswith(f"{interp}: interrupted!\nstack traceback:\n"), err
