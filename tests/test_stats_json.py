"""The JSON statistics parse with Python's json module and hold every
number the namespace has: build/examples/ctl_dump prints ta_stats_print's
JSON, then lists every readable name with its value (found through the
public enumeration, independently of the JSON code), and each listed value
must sit at the same path in the JSON. Also checks the omission letters."""
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DUMP = ROOT / "build" / "examples" / "ctl_dump"
ALL = "4096"


def _dump(letters):
    assert DUMP.exists(), f"{DUMP} not built: run `make test-build`"
    env = {k: v for k, v in os.environ.items() if k != "TUNALLOC_CONF"}
    res = subprocess.run([str(DUMP), "--stats", letters], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    report, listing = res.stdout.split("\n--\n", 1)
    flat = dict(line.split("\t", 1) for line in listing.splitlines())
    return report, flat


def _parse(value):
    if value in ("true", "false"):
        return value == "true"
    if value.startswith('"'):
        return value[1:-1]
    return int(value)


def _lookup(tree, name):
    node = tree["tunalloc"]
    for part in name.split("."):
        node = node[part]
    return node


@pytest.fixture(scope="module")
def full():
    report, flat = _dump("J")
    return json.loads(report), flat


def _class_row(name):
    """stats.arenas.<i>.bins.<j>.x or .lextents.<j>.x: walks show a class
    row only if one of its counters is nonzero."""
    parts = name.split(".")
    return len(parts) == 6 and parts[:2] == ["stats", "arenas"] and \
        parts[3] in ("bins", "lextents")


def test_every_listed_value_is_in_the_json(full):
    tree, flat = full
    missing, wrong = [], []
    for name, value in flat.items():
        try:
            got = _lookup(tree, name)
        except KeyError:
            row = name.rsplit(".", 1)[0] + "."
            if not (_class_row(name) and all(
                    _parse(v) == 0 for n, v in flat.items() if n.startswith(row))):
                missing.append(name)
            continue
        if got != _parse(value):
            wrong.append((name, value, got))
    assert not missing, missing[:20]
    assert not wrong, wrong[:20]


def test_listing_covers_the_namespace(full):
    _, flat = full
    assert len(flat) > 1000
    for name in ("version", "epoch", "opt.stats_print_opts", "arenas.bin.35.size",
                 "arenas.lextent.0.size", "arena.0.limit", "thread.allocated",
                 "stats.allocated", f"stats.arenas.{ALL}.bins.0.nmalloc",
                 "stats.arenas.0.lextents.131.curlextents", "stats.arenas.0.peak"):
        assert name in flat, name
    assert f"stats.arenas.{ALL}.peak" not in flat


def test_json_numbers_agree_with_each_other(full):
    tree, _ = full
    stats = tree["tunalloc"]["stats"]
    merged = stats["arenas"][ALL]
    per_arena = [a for key, a in stats["arenas"].items() if key != ALL]
    assert merged["small"]["allocated"] == sum(a["small"]["allocated"] for a in per_arena)
    assert stats["allocated"] == merged["small"]["allocated"] + merged["large"]["allocated"]
    assert stats["allocated"] <= stats["active"] <= stats["mapped"]
    for a in per_arena + [merged]:
        bins = a["bins"].values()
        assert a["small"]["nmalloc"] == sum(b["nmalloc"] for b in bins)
        assert a["small"]["nrequests"] == sum(b["nrequests"] for b in bins)


def test_class_rows_are_those_used(full):
    """A class row with a nonzero counter is in the JSON, and one with none
    is not: the per-class tables are as long as the activity, as in the
    text report, not 168 rows per arena."""
    tree, flat = full
    for key, arena in tree["tunalloc"]["stats"]["arenas"].items():
        for table in ("bins", "lextents"):
            for j, row in arena.get(table, {}).items():
                assert any(row.values()), (key, table, j)
    used = {n.rsplit(".", 1)[0] for n, v in flat.items() if _class_row(n) and _parse(v) != 0}
    for row in used:
        assert isinstance(_lookup(tree, row), dict), row


@pytest.mark.parametrize("letter,absent", [
    ("g", lambda t: "version" in t or "opt" in t or "arenas" in t),
    ("m", lambda t: ALL in t["stats"]["arenas"]),
    ("a", lambda t: "arena" in t or set(t["stats"]["arenas"]) != {ALL}),
    ("b", lambda t: "bin" in t["arenas"] or "bins" in t["stats"]["arenas"][ALL]),
    ("l", lambda t: "lextent" in t["arenas"] or "lextents" in t["stats"]["arenas"][ALL]),
])
def test_omission_letters(letter, absent):
    report, _ = _dump("J" + letter)
    tree = json.loads(report)["tunalloc"]
    assert not absent(tree)
    assert "stats" in tree and "allocated" in tree["stats"]


def test_text_report_sections():
    full, _ = _dump("")
    assert full.startswith("___ Begin tunalloc statistics ___\n")
    assert full.rstrip().endswith("--- End tunalloc statistics ---")
    for part in ("Version:", "Allocated:", "Merged arenas stats:", "arenas[0]:", "bins:", "util"):
        assert part in full, part
    short, _ = _dump("gmab")
    for part in ("Version:", "Merged arenas stats:", "arenas[0]:", "bins:"):
        assert part not in short, part
    assert "Allocated:" in short
