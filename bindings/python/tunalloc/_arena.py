"""Arena objects, the arenas sequence, use_arena() and new_allocator()."""
import contextlib
import errno
from collections.abc import Sequence
from typing import Any, Dict, Iterator, Optional, Union

from . import _hook
from ._ctlapi import _raise_for, ctl, writer
from ._stats import arena_stats, refresh


def _decay_value(name: str, value: Optional[int]) -> Optional[int]:
    """None means "inherit the arenas.* default" (TA_DECAY_DEFAULT)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or None, not {type(value).__name__}")
    if not -1 <= value <= _hook.DECAY_MS_MAX:
        raise ValueError(f"{name} must be -1 (never), 0 (at once) or a number of "
                         f"milliseconds up to {_hook.DECAY_MS_MAX}, not {value}")
    return value


class ArenaBusyError(RuntimeError):
    """Arena.destroy() or reset() refused, nothing freed: ``live_blocks``
    blocks (``live_bytes`` bytes) of the arena are still live, or a thread
    (inside use_arena()) or a cache (a Lua state) is bound to it, or it is
    the arena under pymalloc."""

    def __init__(self, message: str, index: int, live_blocks: int,
                 live_bytes: int) -> None:
        super().__init__(message)
        self.index = index
        self.live_blocks = live_blocks
        self.live_bytes = live_bytes


ArenaBusyError.__module__ = "tunalloc"

# Arena indexes are unsigned, as in arena.<i>.*: past this no arena can be
# named, and the C side's parse would overflow or a wrapped index name a
# small one.
INDEX_MAX = 0xFFFFFFFF


# Arena.create's handle for each index it made, so a handle whose arena
# was destroyed stays dead even after a new arena takes the index.
_created: Dict[int, object] = {}


def _release(index: int, destroy: bool, force: bool) -> None:
    """Destroys or resets arena index unless blocks of it are live (the
    test and the act are one C call with the GIL held)."""
    verb = "destroy" if destroy else "reset"
    if not isinstance(force, bool):
        raise TypeError(f"force must be a bool, not {type(force).__name__}")
    err, blocks, nbytes = _hook.release_arena(index, destroy, force)
    if err == 0:
        if destroy:
            _created.pop(index, None)
        return
    if err == errno.EBUSY and blocks and not force:
        raise ArenaBusyError(
            f"arena {index} still has {blocks} live blocks ({nbytes} bytes) "
            f"that objects made in it (inside use_arena(), by new_allocator()) "
            f"may use; drop them first, or call {verb}(force=True) to free "
            f"them anyway (unsafe: whatever still uses them then crashes "
            f"the process)", index, blocks, nbytes)
    if err == errno.EBUSY:
        raise ArenaBusyError(
            f"arena {index} is in use: a thread (inside use_arena()) or a "
            f"cache (a Lua state) is bound to it", index, blocks, nbytes)
    if err == errno.EDOM:
        raise ArenaBusyError(
            f"arena {index} holds pymalloc's pools (tunalloc.enable('arena')) "
            f"for the life of the process; no {verb}, even with force",
            index, blocks, nbytes)
    _raise_for(err, f"arena.{index}.{verb}")


class Arena:
    """One tunalloc arena (an independent heap), addressed by index.

    Properties read and write the arena's settings through the control
    namespace; ``stats`` returns its statistics as a dict. A handle from
    Arena.create() raises ValueError once its arena is destroyed, even if
    a new arena takes the index; Arena(i) names whatever arena is at i.
    """

    __slots__ = ("_index", "_token")

    def __init__(self, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"arena index must be an int, not {type(index).__name__}")
        if not 0 <= index <= INDEX_MAX:
            raise ValueError(f"arena index must be an unsigned int (0 to 2**32-1), not {index}")
        self._index = index
        self._token: Optional[object] = None

    @classmethod
    def create(cls, dirty_decay_ms: Optional[int] = None,
               muzzy_decay_ms: Optional[int] = None, limit: int = 0) -> "Arena":
        """Makes a new manual arena; decay None inherits the defaults,
        limit caps its active bytes (0 = none)."""
        dirty = _decay_value("dirty_decay_ms", dirty_decay_ms)
        muzzy = _decay_value("muzzy_decay_ms", muzzy_decay_ms)
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"limit must be an int, not {type(limit).__name__}")
        if not 0 <= limit < 1 << 64:
            raise ValueError(f"limit must be a byte count >= 0, not {limit}")
        made = cls(_hook.arena_create(dirty, muzzy, limit))
        made._token = _created[made._index] = object()
        return made

    @property
    def index(self) -> int:
        """The arena's index in the control namespace (arena.<i>.*)."""
        return self._index

    def _live_index(self) -> int:
        """The index, checked to still name this handle's arena."""
        if self._token is not None and _created.get(self._index) is not self._token:
            raise ValueError(f"arena {self._index} was destroyed; this "
                             f"handle names no arena any more")
        return self._index

    def _name(self, leaf: str) -> str:
        return f"arena.{self._live_index()}.{leaf}"

    @property
    def dirty_decay_ms(self) -> int:
        """Milliseconds before unused dirty pages are purged (-1 never)."""
        return ctl(self._name("dirty_decay_ms"))

    @dirty_decay_ms.setter
    def dirty_decay_ms(self, value: int) -> None:
        ctl(self._name("dirty_decay_ms"), value)

    @property
    def muzzy_decay_ms(self) -> int:
        """Milliseconds before muzzy (lazily freed) pages are purged."""
        return ctl(self._name("muzzy_decay_ms"))

    @muzzy_decay_ms.setter
    def muzzy_decay_ms(self, value: int) -> None:
        ctl(self._name("muzzy_decay_ms"), value)

    @property
    def limit(self) -> int:
        """Cap on the arena's active bytes; allocations past it fail. 0 = none."""
        return ctl(self._name("limit"))

    @limit.setter
    def limit(self, value: int) -> None:
        ctl(self._name("limit"), value)

    @property
    def stats(self) -> Dict[Any, Any]:
        """Fresh statistics of this arena (stats.arenas.<i>.* as a dict)."""
        return arena_stats(self._live_index())

    @property
    def allocated(self) -> int:
        """Bytes in live blocks of this arena (small + large)."""
        index = self._live_index()
        refresh()
        base = f"stats.arenas.{index}"
        return ctl(base + ".small.allocated") + ctl(base + ".large.allocated")

    def purge(self) -> None:
        """Returns all unused pages of the arena to the system now."""
        ctl(self._name("purge"))

    def decay(self) -> None:
        """Purges what has aged past the decay times now."""
        ctl(self._name("decay"))

    def reset(self, force: bool = False) -> None:
        """Frees every block of the arena at once (manual arenas only).
        Refused with ArenaBusyError while blocks of it are live (objects
        made in it still exist) or a thread or cache is bound to it;
        force=True frees live blocks anyway, which crashes the process if
        anything still uses them."""
        _release(self._live_index(), False, force)

    def destroy(self, force: bool = False) -> None:
        """Frees every block and unmaps the arena (manual arenas only);
        refused and forced as reset()."""
        _release(self._live_index(), True, force)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Arena) and other._index == self._index

    def __hash__(self) -> int:
        return hash(("tunalloc.Arena", self._index))

    def __repr__(self) -> str:
        try:
            return (f"<tunalloc.Arena {self._index} "
                    f"allocated={self.allocated} "
                    f"dirty_decay_ms={self.dirty_decay_ms} "
                    f"muzzy_decay_ms={self.muzzy_decay_ms} "
                    f"limit={self.limit}>")
        except (KeyError, ValueError, OSError):
            return f"<tunalloc.Arena {self._index} (not in use)>"


class Arenas(Sequence):
    """The arena slots in use, as ``tunalloc.arenas``; ``arenas[0]`` is
    the first automatic arena."""

    def __len__(self) -> int:
        return ctl("arenas.narenas")

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [Arena(i) for i in range(len(self))[index]]
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"arena indexes are ints, not {type(index).__name__}")
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"arena index out of range (0..{n - 1})")
        return Arena(index)

    def __repr__(self) -> str:
        return f"<tunalloc.arenas: {len(self)} arenas>"


arenas = Arenas()


def _index_of(arena: Union[Arena, int]) -> int:
    if isinstance(arena, Arena):
        return arena._live_index()
    return Arena(arena).index


@contextlib.contextmanager
def use_arena(arena: Union[Arena, int]) -> Iterator[Arena]:
    """Routes the calling thread's allocations (including Python objects it
    creates) into arena for the duration of the with block."""
    index = _index_of(arena)
    if index == _hook.backing_index():
        raise ValueError("the arena backing pymalloc cannot take other blocks")
    previous = ctl("thread.arena")
    switch_back = writer("thread.arena")
    _hook.routing(1)
    try:
        ctl("thread.arena", index)
        yield Arena(index)
    finally:
        switch_back(previous)
        _hook.routing(-1)


def new_allocator(ffi_obj: Any, arena: Union[Arena, int, None] = None,
                  should_clear_after_alloc: bool = True) -> Any:
    """An ``ffi.new``-style allocator (see cffi's ffi.new_allocator) whose
    buffers come from tunalloc, from arena if given."""
    if not hasattr(ffi_obj, "new_allocator"):
        raise TypeError("new_allocator needs a cffi.FFI instance")
    # A cffi.FFI exists, so CFFI loads here and so does the bridge.
    from ._ctl import ffi, lib
    if arena is None:
        return ffi_obj.new_allocator(lib.ta_malloc, lib.ta_free,
                                     should_clear_after_alloc)
    index = _index_of(arena)
    if lib.ta_arena_get(index) == ffi.NULL:
        raise ValueError(f"no arena {index}")
    handle = arena if isinstance(arena, Arena) else Arena(index)

    # Through the hook module, with the GIL held, so no destroy can run
    # while the allocation is inside the arena.
    def alloc(size: int) -> Any:
        address = _hook.arena_malloc(handle._live_index(), size)
        if address is None:
            raise ValueError(f"arena {index} no longer exists")
        return ffi.cast("void *", address)

    return ffi_obj.new_allocator(alloc, lib.ta_free, should_clear_after_alloc)
