"""tunalloc for Python: run CPython on the tunalloc allocator, then tune
and watch it from the REPL.

    >>> import tunalloc
    >>> tunalloc.enable()                      # CPython now allocates from tunalloc
    >>> tunalloc.stats()["allocated"]
    >>> tunalloc.arenas[0].dirty_decay_ms = 0
    >>> tunalloc.purge()
    >>> print(tunalloc.stats_text())

Enabling: enable(), disable(), status(); or at start-up without code
changes, ``TUNALLOC_PYTHON=1 python app.py`` or ``python -m tunalloc app.py``.

Control and statistics: ctl(name, value=None) reads or writes any control
name (ctl_children() and ctl_info() browse the namespace); stats(),
stats_text(), stats_json(); purge().

Arenas: ``arenas`` (a sequence of Arena), Arena.create(...),
``with use_arena(a):`` and new_allocator(ffi, arena) for CFFI buffers.
"""
from . import numpy
from ._arena import Arena, ArenaBusyError, Arenas, arenas, new_allocator, use_arena
from ._ctlapi import CtlInfo, ctl, ctl_children, ctl_info
from ._hooks import DEFAULT_DOMAINS, DOMAINS, Status, disable, enable, status
from ._monitor import Monitor, monitor
from ._stats import ARENAS_ALL, purge, stats, stats_json, stats_text

# The core's: one version for every artefact.
__version__ = ctl("version")

__all__ = [
    "ARENAS_ALL", "Arena", "ArenaBusyError", "Arenas", "CtlInfo", "DEFAULT_DOMAINS",
    "DOMAINS", "Monitor", "Status", "arenas", "ctl", "ctl_children", "ctl_info",
    "disable", "monitor",
    "enable", "new_allocator", "purge", "stats", "stats_json", "stats_text",
    "status", "use_arena",
]
