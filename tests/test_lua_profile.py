"""tunalua --profile=FILE: the script runs sampled and the live heap at
exit is written as pprof, with the Lua frames of the allocating code."""
import gzip
import pathlib
import subprocess

from test_prof_dump import parse_profile

ROOT = pathlib.Path(__file__).resolve().parent.parent
TUNALUA = ROOT / "build" / "tunalua"

SCRIPT = """
keep = {}
local function hold(n)
  for i = 1, n do keep[i] = string.rep("y", 3000) .. i end
end
hold(2000)
"""


def test_tunalua_profile_names_the_lua_site(tmp_path):
    script = tmp_path / "hold.lua"
    script.write_text(SCRIPT)
    out = tmp_path / "heap.pb.gz"
    r = subprocess.run([str(TUNALUA), f"--profile={out}", str(script)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    prof = parse_profile(gzip.decompress(out.read_bytes()))
    s = prof["strings"]
    held = 0
    for ids, vals in prof["samples"]:
        leaf = prof["locations"][ids[0]]["lines"][0]
        name, file = prof["functions"][leaf[0]]
        if (s[name], s[file], leaf[1]) == ("hold", str(script), 4):
            held += vals[3]
    assert held > 2000 * 3000 * 0.6


def test_tunalua_profile_errors(tmp_path):
    script = tmp_path / "x.lua"
    script.write_text("local x = 1\n")
    r = subprocess.run([str(TUNALUA), "--profile=/nonexistent-dir/h.pb.gz", str(script)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "No such file" in r.stderr
    r = subprocess.run([str(TUNALUA), "--alloc=system", f"--profile={tmp_path}/h", str(script)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "--profile" in r.stderr
