"""enable(), disable() and status(): tunalloc as CPython's allocator."""
import _thread
import time
from typing import Dict, Iterable, NamedTuple, Optional, Tuple, Union

from . import _hook

# CPython's allocator domains ("all" at start-up).
DOMAINS = ("raw", "mem", "obj", "arena")
DEFAULT_DOMAINS = ("raw", "mem", "obj")
# numpy's array buffers (tunalloc.numpy): named explicitly, since enabling
# it imports numpy.
NUMPY = "numpy"
DOMAIN_HELP = {
    "raw": "PyMem_RawMalloc & co. (called without the GIL)",
    "mem": "PyMem_Malloc & co.",
    "obj": "PyObject_Malloc & co.: objects move from pymalloc to tunalloc",
    "arena": "pymalloc keeps small objects, its 1 MiB arenas come from a tunalloc arena",
    NUMPY: "numpy's array buffers (numpy >= 1.22; not part of all)",
}

_lock = _thread.allocate_lock()
_numpy_since: Dict[str, float] = {}


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
        if name not in DOMAINS and name != NUMPY:
            raise ValueError(f"unknown domain {name!r}; choose from "
                             f"{DOMAINS + (NUMPY,)}")
    return names


def _check_no_tracemalloc_below(names: Tuple[str, ...]) -> None:
    """tracemalloc.stop() (and interpreter exit) puts back the allocators
    tracemalloc found, which would drop tunalloc's wrappers if they sat on
    top of it; its blocks would then be freed by pymalloc. Only the order
    tunalloc first, tracemalloc on top, is safe."""
    import _tracemalloc
    new = [n for n in names if n not in ("arena", NUMPY) and not _hook.state(n)[1]]
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
        # numpy first: the one that can fail (not installed) changes
        # nothing else when it does.
        for name in sorted(names, key=lambda n: n != NUMPY):
            if name == NUMPY:
                _enable_numpy()
            else:
                _hook.enable(name)


def disable(domains: Union[str, Iterable[str], None] = None) -> None:
    """Stops new allocations from tunalloc in the given domains (default:
    all). Blocks tunalloc already handed out are still freed into it."""
    names = DOMAINS + (NUMPY,) if domains is None else _domains(domains)
    _hook.check_switch()
    with _lock:
        for name in names:
            if name == NUMPY:
                from . import numpy
                numpy.disable()
            else:
                _hook.disable(name)


def _enable_numpy() -> None:
    from . import numpy
    numpy.enable()
    _numpy_since.setdefault(NUMPY, time.time())


def status() -> Status:
    """Which domains are active (and since when), which are wrapped, and
    whether the fast GIL-guarded cache is in use. "numpy" is active when
    numpy's handler in the calling context is tunalloc's; its since is
    when tunalloc.numpy was first enabled."""
    from . import numpy
    with _lock:
        states = {name: _hook.state(name) for name in DOMAINS}
        if numpy.active():
            states[NUMPY] = (True, True, _numpy_since.get(NUMPY, 0.0))
        names = DOMAINS + (NUMPY,) if NUMPY in states else DOMAINS
        return Status(
            active=tuple(n for n in names if states[n][0]),
            since={n: states[n][2] for n in names if states[n][0]},
            installed=tuple(n for n in names if states[n][1]),
            gil_cache=_hook.gil_cache(),
            pymalloc_arena=_hook.backing_index(),
        )


def parse_env(value: str) -> Tuple[str, ...]:
    """TUNALLOC_PYTHON's value: "1"/"true"/"on" for the default domains,
    "all" for every CPython domain, or a comma list such as
    "raw,mem,obj,arena" or "raw,mem,obj,numpy"."""
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return DEFAULT_DOMAINS
    if text == "all":
        return DOMAINS
    return _domains(tuple(p.strip() for p in text.split(",")))
