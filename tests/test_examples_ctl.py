"""Runs examples/tune_decay (decay tuning by name, then statistics) and the
jemalloc-API example under the preload library; also checks TUNALLOC_CONF
end to end: options applied, malformed pairs warned once each and skipped,
statistics printed at exit with stats_print."""
import json
import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "build" / "examples"
TUNE = EXAMPLES / "tune_decay"
COMPAT = EXAMPLES / "mallctl_compat"
PRELOAD = ROOT / "build" / "libtunalloc.so"
VERSION = re.search(r'#define TA_VERSION "([^"]+)"',
                    (ROOT / "core" / "include" / "tunalloc.h").read_text()).group(1)


def _run(argv, conf=None, preload=False):
    for path in [pathlib.Path(argv[0])] + ([PRELOAD] if preload else []):
        assert path.exists(), f"{path} not built: run `make test-build`"
    env = dict(os.environ)
    env.pop("TUNALLOC_CONF", None)
    if conf is not None:
        env["TUNALLOC_CONF"] = conf
    if preload:
        env["LD_PRELOAD"] = str(PRELOAD)
    res = subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def _values(stdout):
    """The key=value lines before the statistics report."""
    head = stdout.split("___ Begin", 1)[0].split("{", 1)[0]
    return dict(line.split("=", 1) for line in head.splitlines() if "=" in line)


def test_decay_settings_take_effect():
    res = _run([TUNE])
    v = _values(res.stdout)
    page = os.sysconf("SC_PAGESIZE")
    freed_pages = (4 << 20) // page
    assert int(v["keep.pdirty_after_free"]) >= freed_pages
    assert int(v["keep.pdirty_after_purge"]) == 0
    assert int(v["keep.dirty_purged"]) >= int(v["keep.pdirty_after_free"])
    assert int(v["eager.pdirty_after_free"]) == 0
    assert int(v["eager.pmuzzy_after_free"]) == 0
    assert "___ Begin tunalloc statistics ___" in res.stdout
    assert "--- End tunalloc statistics ---" in res.stdout
    assert "Merged arenas stats:" in res.stdout
    assert f"arenas[{v['keep.arena']}]:" in res.stdout
    assert res.stderr == ""


def test_json_report_parses():
    res = _run([TUNE, "--json"])
    report = json.loads(res.stdout[res.stdout.index("{"):])
    arenas = report["tunalloc"]["stats"]["arenas"]
    keep = _values(res.stdout)["keep.arena"]
    assert arenas[keep]["pdirty"] == 0
    assert arenas[keep]["dirty_purged"] >= (4 << 20) // os.sysconf("SC_PAGESIZE")


def test_conf_applies_and_warns_on_malformed_pairs():
    conf = "dirty_decay_ms:1234,bogus:1,narenas:3,muzzy_decay_ms:x,background_thread:true"
    res = _run([TUNE], conf=conf)
    v = _values(res.stdout)
    assert v["opt.dirty_decay_ms"] == "1234"
    assert v["opt.narenas"] == "3"
    assert v["opt.muzzy_decay_ms"] == "0"
    assert v["opt.background_thread"] == "true"
    warnings = res.stderr.splitlines()
    assert len(warnings) == 2, res.stderr
    assert '"bogus:1"' in warnings[0] and "TUNALLOC_CONF" in warnings[0]
    assert '"muzzy_decay_ms:x"' in warnings[1]


@pytest.mark.parametrize("conf", ["", ",,,", "garbage", ":", "narenas:99999999999999999999999"])
def test_bad_conf_never_breaks_startup(conf):
    res = _run([TUNE], conf=conf)
    assert _values(res.stdout)["opt.narenas"] == "0"


def test_stats_print_at_exit_json():
    res = _run([TUNE], conf="stats_print:true,stats_print_opts:J")
    report = json.loads(res.stderr)
    assert report["tunalloc"]["opt"]["stats_print"] is True
    assert report["tunalloc"]["opt"]["stats_print_opts"] == "J"


def test_stats_print_at_exit_text():
    res = _run([TUNE], conf="stats_print:true,stats_print_opts:gbl")
    assert res.stderr.startswith("___ Begin tunalloc statistics ___")
    assert "Version:" not in res.stderr and "bins:" not in res.stderr


def test_jemalloc_api_runs_on_tunalloc_unchanged():
    res = _run([COMPAT], preload=True)
    v = _values(res.stdout)
    assert v["version"] == VERSION
    assert v["allocated_nonzero"] == "1"
    assert "___ Begin tunalloc statistics ___" in res.stdout
