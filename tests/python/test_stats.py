"""stats(), stats_text(), stats_json(), purge()."""
import json

import pytest

import tunalloc
from tunalloc._ctl import lib


def test_stats_nested_dict():
    st = tunalloc.stats()
    for key in ("allocated", "active", "metadata", "resident", "mapped", "retained"):
        assert isinstance(st[key], int), key
    assert st["allocated"] <= st["active"] <= st["mapped"]
    assert 0 in st["arenas"] and "all" in st["arenas"]
    merged = st["arenas"]["all"]
    assert len(merged["bins"]) == tunalloc.ctl("arenas.nbins")
    assert len(merged["lextents"]) == tunalloc.ctl("arenas.nlextents")
    assert "nmalloc" in merged["bins"][0]


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
