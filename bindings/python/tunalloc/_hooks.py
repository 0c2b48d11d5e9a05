"""enable(), disable() and status(): tunalloc as CPython's allocator."""
import threading
import time
from typing import Dict, Iterable, NamedTuple, Optional, Tuple, Union

from . import _hook

DOMAINS = ("raw", "mem", "obj", "arena")
DEFAULT_DOMAINS = ("raw", "mem", "obj")

_since: Dict[str, float] = {}
_lock = threading.Lock()


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


def enable(domains: Union[str, Iterable[str]] = DEFAULT_DOMAINS) -> None:
    """Makes CPython allocate from tunalloc in the given domains: "raw",
    "mem", "obj" (PyMem_SetAllocator, as a wrapper over the allocators in
    place) and, opt-in, "arena" (pymalloc's 1 MiB arenas). Safe at any
    time and idempotent; blocks made before keep going to their allocator.
    """
    names = _domains(domains)
    with _lock:
        for name in names:
            _hook.enable(name)
            _since.setdefault(name, time.time())


def disable(domains: Union[str, Iterable[str], None] = None) -> None:
    """Stops new allocations from tunalloc in the given domains (default:
    all). Blocks tunalloc already handed out are still freed into it."""
    names = DOMAINS if domains is None else _domains(domains)
    with _lock:
        for name in names:
            _hook.disable(name)
            _since.pop(name, None)


def status() -> Status:
    """Which domains are active (and since when), which are wrapped, and
    whether the fast GIL-guarded cache is in use."""
    with _lock:
        states = {name: _hook.state(name) for name in DOMAINS}
        return Status(
            active=tuple(n for n in DOMAINS if states[n][0]),
            since={n: _since[n] for n in DOMAINS if states[n][0]},
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
