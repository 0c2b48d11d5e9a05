"""Imported by the tunalloc_startup.pth hook when TUNALLOC_PYTHON is set,
before the application's first import."""
import os
import sys


def _enable_from_env() -> None:
    """A bad TUNALLOC_PYTHON value is reported and ignored: the program
    still runs, on its usual allocator. Subinterpreters run the .pth too;
    the allocator is process-wide and the main interpreter switched it
    already, so they do nothing."""
    from . import _hook, _hooks
    if not _hook.is_main_interpreter():
        return
    value = os.environ.get("TUNALLOC_PYTHON", "")
    try:
        _hooks.enable(_hooks.parse_env(value))
    except (TypeError, ValueError, OSError, RuntimeError, ImportError) as exc:
        print(f"tunalloc: TUNALLOC_PYTHON={value!r} ignored: {exc}",
              file=sys.stderr)


_enable_from_env()
