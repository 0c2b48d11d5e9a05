"""Prints the other CPython versions' summary lines (test_pyversions.py)
just above this session's own."""
import sys


def pytest_terminal_summary(terminalreporter):
    mod = sys.modules.get("test_pyversions")
    for line in getattr(mod, "SUMMARIES", ()):
        terminalreporter.write_line(line)
