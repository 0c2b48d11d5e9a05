"""tunalloc.ctl(), ctl_info(), ctl_children(): types and every error path."""
import pytest

import tunalloc


def test_reads_have_namespace_types():
    assert isinstance(tunalloc.ctl("version"), str)
    assert tunalloc.ctl("version") == tunalloc.__version__
    assert isinstance(tunalloc.ctl("background_thread"), bool)
    assert tunalloc.ctl("arenas.page") >= 4096
    assert tunalloc.ctl("arenas.narenas") >= 1
    assert isinstance(tunalloc.ctl("arenas.dirty_decay_ms"), int)


def test_write_then_read_back():
    arena = tunalloc.Arena.create()
    try:
        name = f"arena.{arena.index}.dirty_decay_ms"
        tunalloc.ctl(name, 1234)
        assert tunalloc.ctl(name) == 1234
        tunalloc.ctl(name, -1)
        assert tunalloc.ctl(name) == -1
    finally:
        arena.destroy()


def test_actions_take_no_value():
    assert tunalloc.ctl("thread.tcache.flush") is None
    with pytest.raises(TypeError):
        tunalloc.ctl("thread.tcache.flush", 1)


def test_unknown_name_is_keyerror_naming_it():
    for name in ("no.such.name", "stats.allocatedx", "", "stats.", ".stats",
                 "stats..allocated", "arena.0.purge.x"):
        with pytest.raises(KeyError) as exc:
            tunalloc.ctl(name)
        assert name in str(exc.value)


def test_node_is_not_a_value():
    with pytest.raises(KeyError):
        tunalloc.ctl("stats")


def test_out_of_range_index_is_an_error_not_a_crash():
    for name in ("arena.99999999999999999999999.dirty_decay_ms",
                 "arena.4000.dirty_decay_ms"):
        with pytest.raises((KeyError, ValueError, OSError)):
            tunalloc.ctl(name)


def test_wrong_type_is_typeerror():
    with pytest.raises(TypeError):
        tunalloc.ctl("arena.0.dirty_decay_ms", "fast")
    with pytest.raises(TypeError):
        tunalloc.ctl("arena.0.dirty_decay_ms", 1.5)
    with pytest.raises(TypeError):
        tunalloc.ctl("arena.0.dirty_decay_ms", True)
    with pytest.raises(TypeError):
        tunalloc.ctl("background_thread", 1)
    with pytest.raises(TypeError):
        tunalloc.ctl(42)
    with pytest.raises(TypeError):
        tunalloc.ctl("arenas.lookup", "address")


def test_bad_value_is_valueerror():
    with pytest.raises(ValueError):
        tunalloc.ctl("arena.0.dirty_decay_ms", -2)
    with pytest.raises(ValueError):
        tunalloc.ctl("arena.0.limit", -1)
    with pytest.raises(ValueError):
        tunalloc.ctl("arena.0.limit", 1 << 64)
    with pytest.raises(ValueError):
        tunalloc.ctl("thread.arena", 1 << 40)


def test_read_only_is_permissionerror():
    with pytest.raises(PermissionError):
        tunalloc.ctl("stats.allocated", 5)
    with pytest.raises(PermissionError):
        tunalloc.ctl("version", "9.9")
    assert tunalloc.ctl("stats.allocated") >= 0


def test_lookup_maps_pointer_to_arena():
    from tunalloc._ctl import ffi, lib
    arena = tunalloc.Arena.create()
    try:
        p = lib.ta_arena_malloc(lib.ta_arena_get(arena.index), 100)
        assert tunalloc.ctl("arenas.lookup", p) == arena.index
        assert tunalloc.ctl("arenas.lookup", int(ffi.cast("uintptr_t", p))) == arena.index
        lib.ta_free(p)
    finally:
        arena.destroy()
    with pytest.raises((KeyError, ValueError, OSError)):
        tunalloc.ctl("arenas.lookup", 8)
    with pytest.raises(ValueError):
        tunalloc.ctl("arenas.lookup", -1)


def test_ctl_info_and_children():
    info = tunalloc.ctl_info("arena.0.dirty_decay_ms")
    assert info.name == "dirty_decay_ms"
    assert info.readable and info.writable
    assert info.type == "ssize_t"
    assert tunalloc.ctl_info("stats.allocated").writable is False
    top = {c.name for c in tunalloc.ctl_children()}
    assert {"version", "epoch", "opt", "arenas", "arena", "thread", "stats"} <= top
    assert any(c.name == "purge" for c in tunalloc.ctl_children("arena.0"))
    with pytest.raises(KeyError):
        tunalloc.ctl_children("stats.allocated")
    with pytest.raises(KeyError):
        tunalloc.ctl_info("nope")
    # a name that is no string is a TypeError, as ctl() raises, for the
    # falsy ones too (0 once read as the root)
    for bad in (0, 5, None, [], b"arena"):
        with pytest.raises(TypeError):
            tunalloc.ctl_info(bad)
        with pytest.raises(TypeError):
            tunalloc.ctl_children(bad)


def test_every_readable_leaf_reads():
    """Walks the whole namespace (index 0 for indexes): every readable
    scalar returns a value of its declared type or a clean error."""
    py_types = {"bool": bool, "string": (str, type(None)), "unsigned": int,
                "size_t": int, "ssize_t": int, "uint64_t": int}
    seen = 0

    def walk(node):
        nonlocal seen
        for kid in tunalloc.ctl_children(node):
            name = f"{node}.{'0' if kid.name.startswith('<') else kid.name}".lstrip(".")
            if kid.type == "node":
                walk(name)
            elif kid.readable and kid.type in py_types:
                try:
                    value = tunalloc.ctl(name)
                except (KeyError, ValueError, OSError):
                    continue
                assert isinstance(value, py_types[kid.type]), name
                seen += 1
    walk("")
    assert seen > 50
