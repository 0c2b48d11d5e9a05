"""enable(), disable() and status(): tunalloc as CPython's allocator."""
import _thread
from typing import Dict, Iterable, NamedTuple, Optional, Tuple, Union

from . import _hook

DOMAINS = ("raw", "mem", "obj", "arena")
DEFAULT_DOMAINS = ("raw", "mem", "obj")

_lock = _thread.allocate_lock()


class Status(NamedTuple):
    """What tunalloc.status() reports."""

    active: Tuple[str, ...]          # domains whose new blocks come from tunalloc
    since: Dict[str, float]          # domain -> time.time() it became active
    installed: Tuple[str, ...]       # domains whose wrappers are in place
    gil_cache: bool                  # MEM/OBJ use the GIL-guarded cache
    pymalloc_arena: Optional[int]    # arena index backing pymalloc, if any


def _domains(domains: Union[str, Iterable[str]]) -> Tuple[str, ...]:
    """Validates every name before anything changes, so a typo enables
    nothing."""
    names = (domains,) if isinstance(domains, str) else tuple(domains)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"domain names are str, not {type(name).__name__}")
        if name not in DOMAINS:
            raise ValueError(f"unknown domain {name!r}; choose from {DOMAINS}")
    return names


def _check_no_tracemalloc_below(names: Tuple[str, ...]) -> None:
    """tracemalloc.stop() (and interpreter exit) puts back the allocators
    tracemalloc found, which would drop tunalloc's wrappers if they sat on
    top of it; its blocks would then be freed by pymalloc. Only the order
    tunalloc first, tracemalloc on top, is safe."""
    import _tracemalloc
    new = [n for n in names if n != "arena" and not _hook.state(n)[1]]
    if new and _tracemalloc.is_tracing():
        raise RuntimeError("tracemalloc is tracing: enable tunalloc first and "
                           "start tracemalloc after it (PYTHONTRACEMALLOC "
                           "starts it too early)")


def enable(domains: Union[str, Iterable[str]] = DEFAULT_DOMAINS) -> None:
    """Makes CPython allocate from tunalloc in the given domains: "raw",
    "mem", "obj" (PyMem_SetAllocator, as a wrapper over the allocators in
    place) and, opt-in, "arena" (pymalloc's 1 MiB arenas). Safe at any
    time and idempotent; blocks made before keep going to their allocator.
    RuntimeError if tracemalloc is already tracing (start it afterwards)
    or if called from a subinterpreter (the allocator is process-wide: the
    main interpreter switches it for all).
    """
    names = _domains(domains)
    _hook.check_switch()
    with _lock:
        _check_no_tracemalloc_below(names)
        for name in names:
            _hook.enable(name)


def disable(domains: Union[str, Iterable[str], None] = None) -> None:
    """Stops new allocations from tunalloc in the given domains (default:
    all). Blocks tunalloc already handed out are still freed into it."""
    names = DOMAINS if domains is None else _domains(domains)
    _hook.check_switch()
    with _lock:
        for name in names:
            _hook.disable(name)


def status() -> Status:
    """Which domains are active (and since when), which are wrapped, and
    whether the fast GIL-guarded cache is in use."""
    with _lock:
        states = {name: _hook.state(name) for name in DOMAINS}
        return Status(
            active=tuple(n for n in DOMAINS if states[n][0]),
            since={n: states[n][2] for n in DOMAINS if states[n][0]},
            installed=tuple(n for n in DOMAINS if states[n][1]),
            gil_cache=_hook.gil_cache(),
            pymalloc_arena=_hook.backing_index(),
        )


def parse_env(value: str) -> Tuple[str, ...]:
    """TUNALLOC_PYTHON's value: "1"/"true"/"on" for the default domains,
    "all" for every domain, or a comma list such as "raw,mem,obj,arena"."""
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return DEFAULT_DOMAINS
    if text == "all":
        return DOMAINS
    return _domains(tuple(p.strip() for p in text.split(",")))
