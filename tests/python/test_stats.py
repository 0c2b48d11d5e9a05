"""stats(), stats_text(), stats_json(), purge()."""
import json

import pytest

import tunalloc
import tunalloc._stats
from tunalloc._ctl import lib

from py_helpers import run_py


@pytest.fixture
def small_block():
    """A live small block, so some size class has been used."""
    p = lib.ta_malloc(64)
    yield p
    lib.ta_free(p)


def test_stats_nested_dict(small_block):
    st = tunalloc.stats()
    for key in ("allocated", "active", "metadata", "resident", "mapped", "retained"):
        assert isinstance(st[key], int), key
    assert st["allocated"] <= st["active"] <= st["mapped"]
    assert 0 in st["arenas"] and tunalloc.ARENAS_ALL in st["arenas"]
    merged = st["arenas"][tunalloc.ARENAS_ALL]
    assert 0 < len(merged["bins"]) <= tunalloc.ctl("arenas.nbins")
    assert len(merged["lextents"]) <= tunalloc.ctl("arenas.nlextents")
    for row in merged["bins"].values():
        assert "nmalloc" in row and any(row.values())


def test_stats_class_rows_are_the_used_ones():
    """Walks show the size classes ever used, as stats_text does, so a
    report costs what the activity costs; the other rows read as zeros."""
    arena = tunalloc.Arena.create()
    try:
        a = lib.ta_arena_get(arena.index)
        block = lib.ta_arena_malloc(a, 3000)
        st = tunalloc.stats()["arenas"][arena.index]
        used = [j for j in range(tunalloc.ctl("arenas.nbins"))
                if tunalloc.ctl(f"stats.arenas.{arena.index}.bins.{j}.curregs")]
        assert sorted(st["bins"]) == used and len(used) == 1
        lib.ta_free(block)
    finally:
        arena.destroy()


def test_stats_follow_allocations():
    blocks = [lib.ta_malloc(1 << 16) for _ in range(64)]
    grown = tunalloc.stats()["allocated"]
    for b in blocks:
        lib.ta_free(b)
    tunalloc.ctl("thread.tcache.flush")
    assert tunalloc.stats()["allocated"] <= grown - 64 * (1 << 16)


def test_stats_text():
    text = tunalloc.stats_text()
    assert "allocated" in text
    assert len(tunalloc.stats_text("ab")) < len(text)


def test_stats_json_parses():
    doc = json.loads(tunalloc.stats_json())
    assert isinstance(doc, dict)
    assert str(tunalloc.ctl("arenas.page")) in tunalloc.stats_json()


def test_stats_opts_checked():
    with pytest.raises(ValueError):
        tunalloc.stats_text("z")
    with pytest.raises(TypeError):
        tunalloc.stats_json(1)


def test_purge_releases_dirty_pages():
    arena = tunalloc.Arena.create(dirty_decay_ms=-1, muzzy_decay_ms=-1)
    try:
        a = lib.ta_arena_get(arena.index)
        blocks = [lib.ta_arena_malloc(a, 1 << 16) for _ in range(32)]
        for b in blocks:
            lib.ta_free(b)
        tunalloc.ctl("thread.tcache.flush")
        assert arena.stats["pdirty"] > 0
        tunalloc.purge()
        assert arena.stats["pdirty"] == 0
    finally:
        arena.destroy()


def test_stats_reads_create_no_arena():
    """stats() and Arena.stats only read: before they walked the namespace
    with ta_arena_get, which created every empty automatic arena slot
    (the list grew from [0, 4096] to [0..7, 4096] after one call)."""
    out = run_py("""
        import json, tunalloc
        def existing():
            doc = json.loads(tunalloc.stats_json("gbl"))
            return sorted(doc["tunalloc"]["stats"]["arenas"], key=int)
        before = existing()
        st = tunalloc.stats()
        tunalloc.Arena(0).stats
        print(json.dumps([before, existing(), sorted(st["arenas"])]))
    """)
    before, after, seen = json.loads(out.stdout)
    assert before == after == ["0", "4096"]
    assert seen == [0, 4096]


def _shape(node):
    """A tree's keys (as JSON's strings) and value types, values left out."""
    if isinstance(node, dict):
        return {str(key): _shape(value) for key, value in node.items()}
    return type(node).__name__


def test_stats_is_the_json_report_reshaped(small_block):
    """One walker, one shape: stats() is the JSON report's tree with the
    index keys as ints, the merged arenas under ARENAS_ALL (4096) in both."""
    st = tunalloc.stats()
    doc = json.loads(tunalloc.stats_json())["tunalloc"]["stats"]
    assert set(st) == set(doc)
    assert {str(k) for k in st["arenas"]} == set(doc["arenas"])
    merged, raw = st["arenas"][tunalloc.ARENAS_ALL], doc["arenas"]["4096"]
    assert set(merged) == set(raw)
    assert sorted(merged["bins"]) == sorted(map(int, raw["bins"]))
    j = min(merged["bins"])
    assert merged["bins"][j].keys() == raw["bins"][str(j)].keys()
    # the whole tree: the same names and value types at every level (the
    # dict is built by the walker in C, not parsed from the JSON)
    assert _shape(st) == _shape(doc)
    assert _shape(tunalloc.Arena(0).stats) == _shape(doc["arenas"]["0"])
    with pytest.raises(KeyError):
        tunalloc._stats.arena_stats(4095)
