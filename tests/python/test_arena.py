"""Arena, arenas, use_arena() and new_allocator()."""
import cffi
import pytest

import tunalloc
from tunalloc._ctl import ffi, lib

from py_helpers import run_py


@pytest.fixture
def arena():
    a = tunalloc.Arena.create()
    yield a
    a.destroy()


def test_arenas_sequence():
    n = len(tunalloc.arenas)
    assert n >= 1
    assert tunalloc.arenas[0] == tunalloc.Arena(0)
    assert tunalloc.arenas[-1].index == n - 1
    assert [a.index for a in tunalloc.arenas[:2]] == list(range(min(2, n)))
    with pytest.raises(IndexError):
        tunalloc.arenas[n]
    with pytest.raises(TypeError):
        tunalloc.arenas["0"]
    assert "arenas" in repr(tunalloc.arenas)


def test_arena_constructor_checks():
    with pytest.raises(TypeError):
        tunalloc.Arena("1")
    with pytest.raises(ValueError):
        tunalloc.Arena(-1)


def test_create_with_options():
    a = tunalloc.Arena.create(dirty_decay_ms=0, muzzy_decay_ms=-1, limit=1 << 20)
    try:
        assert (a.dirty_decay_ms, a.muzzy_decay_ms, a.limit) == (0, -1, 1 << 20)
        assert a.index in range(len(tunalloc.arenas))
    finally:
        a.destroy()


def test_create_defaults_inherit():
    a = tunalloc.Arena.create()
    try:
        assert a.dirty_decay_ms == tunalloc.ctl("arenas.dirty_decay_ms")
        assert a.limit == 0
    finally:
        a.destroy()


def test_create_rejects_bad_options():
    with pytest.raises(TypeError):
        tunalloc.Arena.create(dirty_decay_ms="1")
    with pytest.raises(ValueError):
        tunalloc.Arena.create(muzzy_decay_ms=-5)
    with pytest.raises(TypeError):
        tunalloc.Arena.create(limit=1.0)
    with pytest.raises(ValueError):
        tunalloc.Arena.create(limit=-1)
    # past the core's TA_DECAY_MS_MAX: a ValueError, not OSError or OverflowError
    for huge in (tunalloc._hook.DECAY_MS_MAX + 1, 2**64):
        with pytest.raises(ValueError):
            tunalloc.Arena.create(dirty_decay_ms=huge)
    a = tunalloc.Arena.create(dirty_decay_ms=tunalloc._hook.DECAY_MS_MAX)
    a.destroy()


def test_properties_write(arena):
    arena.dirty_decay_ms = 250
    arena.muzzy_decay_ms = 0
    arena.limit = 4 << 20
    assert (arena.dirty_decay_ms, arena.muzzy_decay_ms, arena.limit) == (250, 0, 4 << 20)
    with pytest.raises(ValueError):
        arena.dirty_decay_ms = -3
    with pytest.raises(TypeError):
        arena.limit = "big"


def test_limit_makes_allocations_fail(arena):
    arena.limit = 1 << 20
    alloc = tunalloc.new_allocator(cffi.FFI(), arena)
    with pytest.raises(MemoryError):
        alloc("char[]", 8 << 20)


def test_stats_purge_decay_reset(arena):
    p = lib.ta_arena_malloc(lib.ta_arena_get(arena.index), 100000)
    assert p != ffi.NULL
    assert arena.allocated >= 100000
    st = arena.stats
    assert st["large"]["allocated"] >= 100000
    assert "bins" in st
    with pytest.raises(tunalloc.ArenaBusyError) as info:
        arena.reset()
    assert info.value.live_blocks == 1 and info.value.live_bytes >= 100000
    assert arena.allocated >= 100000
    arena.reset(force=True)
    assert arena.allocated == 0
    arena.decay()
    arena.purge()
    assert arena.stats["pdirty"] == 0


def test_repr_shows_state(arena):
    arena.dirty_decay_ms = 77
    text = repr(arena)
    assert f"Arena {arena.index}" in text and "dirty_decay_ms=77" in text


def test_destroyed_arena_errors_cleanly():
    a = tunalloc.Arena.create()
    a.destroy()
    with pytest.raises((KeyError, ValueError, OSError)):
        a.dirty_decay_ms
    assert "not in use" in repr(a)


def test_destroy_automatic_arena_is_refused():
    with pytest.raises(PermissionError):
        tunalloc.arenas[0].destroy()


def test_use_arena_routes_thread(arena):
    before = tunalloc.ctl("thread.arena")
    with tunalloc.use_arena(arena) as a:
        assert a == arena
        assert tunalloc.ctl("thread.arena") == arena.index
        p = lib.ta_malloc(64)
        assert lib.ta_arena_index(lib.ta_arena_of(p)) == arena.index
        lib.ta_free(p)
    assert tunalloc.ctl("thread.arena") == before


def test_use_arena_leaves_nothing_in_the_arena():
    """Leaving use_arena() switched the thread back through Python-level
    ctl() while the arena was still the thread's: a list and a tuple it
    made there went to CPython's free lists and stayed live blocks of the
    arena, so destroy() was refused after an empty-handed block."""
    out = run_py("""
        import tunalloc
        tunalloc.enable()
        arena = tunalloc.Arena.create()
        blob = None
        with tunalloc.use_arena(arena):
            blob = bytes(1 << 20)
        assert tunalloc.ctl("arenas.lookup", id(blob)) == arena.index
        del blob
        arena.destroy()
        print("ok")
    """)
    assert out.stdout == "ok\n"


def test_use_arena_restores_on_error(arena):
    before = tunalloc.ctl("thread.arena")
    with pytest.raises(RuntimeError):
        with tunalloc.use_arena(arena.index):
            raise RuntimeError
    assert tunalloc.ctl("thread.arena") == before


def test_use_arena_bad_arguments():
    with pytest.raises(TypeError):
        with tunalloc.use_arena("0"):
            pass
    before = tunalloc.ctl("thread.arena")
    with pytest.raises((KeyError, ValueError, OSError)):
        with tunalloc.use_arena(3999):
            pass
    assert tunalloc.ctl("thread.arena") == before


def test_new_allocator_default_and_arena(arena):
    user_ffi = cffi.FFI()
    buf = tunalloc.new_allocator(user_ffi)("int[]", 1000)
    addr = user_ffi.cast("void *", buf)
    assert lib.ta_owns(addr)
    assert list(buf[0:4]) == [0, 0, 0, 0]
    in_arena = tunalloc.new_allocator(user_ffi, arena)("char[]", 5000)
    owner = lib.ta_arena_of(user_ffi.cast("void *", in_arena))
    assert lib.ta_arena_index(owner) == arena.index
    del buf, in_arena


def test_new_allocator_bad_arguments():
    with pytest.raises(TypeError):
        tunalloc.new_allocator(object())
    with pytest.raises(ValueError):
        tunalloc.new_allocator(cffi.FFI(), 3999)
