"""python -m tunalloc: run a program on tunalloc, print its statistics, or
plot a monitor file. `python -m tunalloc --help` says how."""
import importlib.util
import os
import runpy
import sys

from . import _hooks

USAGE = """\
usage: python -m tunalloc [--domains LIST] script.py [args...]
       python -m tunalloc [--domains LIST] -m module [args...]
       python -m tunalloc stats [--domains LIST] [--opts LETTERS] (script.py | -m module) [args...]
       python -m tunalloc plot STATS.jsonl [-o OUT.png]
       python -m tunalloc profile report HEAP.pb.gz -o OUT.svg   (or OUT.png)"""

ENVIRONMENT = {
    "TUNALLOC_PYTHON": "enable tunalloc at start-up of any python run: 1 (the "
                       "default domains), all (raw,mem,obj,arena) or a domain list",
    "TUNALLOC_CONF": "core options as name:value pairs, one per opt.* control "
                     "(e.g. dirty_decay_ms:1000,narenas:4,check:true)",
    "PYTHONMALLOC": "debug (or -X dev): CPython's debug hooks stay on top of "
                    "tunalloc and check its blocks",
    "PYTHONTRACEMALLOC": "starts tracemalloc before start-up, so TUNALLOC_PYTHON "
                         "only warns: start tracemalloc after tunalloc instead",
}


def help_text() -> str:
    lines = [USAGE, "",
             "Runs the program as `python script.py args` or `python -m module args`",
             "would, with tunalloc enabled first. `stats` then prints the text",
             "statistics report (stats_text(LETTERS); letters omit sections:",
             "g general, m merged, a per arena, b bins, l large classes) on stderr;",
             "`plot` draws a tunalloc.monitor() file (needs matplotlib); `profile",
             "report` draws a heap profile (pprof or folded) as a flame graph, SVG or PNG (matplotlib).",
             "A script named stats, plot or profile is run as ./stats.", "",
             "domains (--domains, TUNALLOC_PYTHON; comma list, default "
             f"{','.join(_hooks.DEFAULT_DOMAINS)}):"]
    lines += [f"  {name:<7}{text}" for name, text in _hooks.DOMAIN_HELP.items()]
    lines += ["", "environment:"]
    lines += [f"  {name:<18}{text}" for name, text in ENVIRONMENT.items()]
    return "\n".join(lines)


def fail(message: str) -> None:
    sys.exit(f"tunalloc: {message}\n{USAGE}")


def take_value(argv, flag):
    """The value of --flag=VALUE or --flag VALUE at argv[0], and the rest."""
    name, eq, value = argv[0].partition("=")
    if name != flag:
        return None, argv
    if eq:
        return value, argv[1:]
    if len(argv) < 2:
        fail(f"{flag} needs a value")
    return argv[1], argv[2:]


def parse_run(argv):
    """(domains, --opts letters or None, ("script" | "module", target,
    args)) of a run command line."""
    domains = _hooks.DEFAULT_DOMAINS
    opts = None
    while argv and argv[0].startswith("--"):
        value, rest = take_value(argv, "--domains")
        if value is not None:
            try:
                domains = _hooks.parse_env(value)
            except ValueError as exc:
                fail(str(exc))
            argv = rest
            continue
        value, rest = take_value(argv, "--opts")
        if value is not None:
            opts, argv = value, rest
            continue
        fail(f"unknown option {argv[0]}")
    if not argv:
        fail("nothing to run")
    if argv[0] == "-m":
        if len(argv) < 2:
            fail("-m needs a module name")
        try:
            found = importlib.util.find_spec(argv[1]) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            fail(f"no module named {argv[1]!r}")
        return domains, opts, ("module", argv[1], argv[2:])
    if argv[0].startswith("-"):
        fail(f"unknown option {argv[0]}")
    if not os.path.exists(argv[0]):
        fail(f"can't open file {argv[0]!r}")
    return domains, opts, ("script", argv[0], argv[1:])


def run(kind, target, args) -> None:
    """Runs the program as __main__ with sys.argv and sys.path[0] as
    `python script.py` or `python -m module` sets them."""
    if kind == "module":
        sys.argv = [target] + list(args)   # runpy puts the module's path first
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.argv = [target] + list(args)
        sys.path[0] = os.path.dirname(os.path.abspath(target))
        runpy.run_path(target, run_name="__main__")


def main(argv=None) -> None:
    """Entry point of python -m tunalloc."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ("-h", "--help"):
        print(help_text())
        return
    command = argv[0] if argv else None
    if command == "plot":
        from ._monitor import plot_main
        plot_main(argv[1:])
        return
    if command == "profile":
        from .profile import cli
        sys.exit(cli(argv[1:]))
    stats_mode = command == "stats"
    domains, opts, (kind, target, args) = parse_run(argv[1:] if stats_mode else argv)
    if opts is not None and not stats_mode:
        fail("--opts goes with the stats command")
    if stats_mode:
        from ._stats import _check_opts
        try:
            _check_opts(opts or "")
        except ValueError as exc:
            fail(str(exc))
    _hooks.enable(domains)
    try:
        run(kind, target, args)
    finally:
        if stats_mode:
            from ._stats import stats_text
            if sys.stdout is not None and not sys.stdout.closed:   # json.tool closes it
                sys.stdout.flush()
            sys.stderr.write(stats_text(opts or ""))


if __name__ == "__main__":
    main()
