"""usage: python -m tunalloc [--domains LIST] script.py [args...]
       python -m tunalloc profile report heap.pb.gz -o heap.svg

Enables tunalloc, then runs script.py as __main__ with sys.argv set to
[script.py, args...], as ``python script.py args...`` would.
"""
import os
import runpy
import sys

from . import _hooks

USAGE = ("usage: python -m tunalloc [--domains raw,mem,obj,arena|all] "
         "script.py [args...]")


def _parse(argv):
    """(domains, script argv) from our own command line."""
    domains = _hooks.DEFAULT_DOMAINS
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0)
    if argv and argv[0].startswith("--domains"):
        flag, _, value = argv[0].partition("=")
        argv = argv[1:]
        if not value:
            if not argv:
                sys.exit(USAGE)
            value, argv = argv[0], argv[1:]
        try:
            domains = _hooks.parse_env(value)
        except ValueError as exc:
            sys.exit(f"tunalloc: {exc}")
    if not argv:
        sys.exit(USAGE)
    return domains, argv


def main(argv=None) -> None:
    """Entry point of python -m tunalloc."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "profile":
        from .profile import cli
        sys.exit(cli(args[1:]))
    domains, script_argv = _parse(args)
    script = script_argv[0]
    if not os.path.exists(script):
        sys.exit(f"tunalloc: can't open file {script!r}")
    _hooks.enable(domains)
    sys.argv = list(script_argv)
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
