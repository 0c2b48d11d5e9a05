"""The lauxlib buffer pitfall (issue 17): tests/lua/buffer_limit.lua, the
issue's reproducer, in fresh states of tunalua and of lua5.4 after
tunalloc.install(), over eight registry layouts."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "lua" / "buffer_limit.lua"
INTERPRETERS = {"tunalua": [str(ROOT / "build" / "tunalua")], "lua5.4": ["lua5.4"]}


@pytest.mark.parametrize("interp", sorted(INTERPRETERS))
@pytest.mark.parametrize("pad", range(8))
def test_buffers_survive_a_limit_in_their_first_growth(interp, pad):
    env = dict(os.environ, LUA_CPATH=str(ROOT / "build" / "lua" / "?.so"))
    r = subprocess.run(INTERPRETERS[interp] + [str(SCRIPT), str(pad)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout == "buffer_limit: ok\n", r.stdout + r.stderr
