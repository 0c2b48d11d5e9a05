"""The Python suite on the other CPython versions (tools/pythons.sh names
them; `make test` installs the package and the test dependencies into each).

Each version runs as one pytest session in a subprocess, so this session's
summary line covers them all; their own summary lines are printed above it
(conftest's pytest_terminal_summary) and a failing version's report is the
failure message. A version with no interpreter here is skipped, saying so.
"""
import os
import subprocess
import sys

import pytest

from py_helpers import REPO, clean_env

HERE = os.path.dirname(os.path.abspath(__file__))
SELF = os.path.relpath(os.path.abspath(__file__), REPO)


def _others():
    """{version: path} of the versions found here."""
    proc = subprocess.run(["bash", os.path.join(REPO, "tools", "pythons.sh")],
                          capture_output=True, text=True, check=True)
    return dict(line.split(":", 1) for line in proc.stdout.split())


MAIN = "%d.%d" % sys.version_info[:2]
FOUND = _others()
VERSIONS = [v for v in ("3.11", "3.12", "3.13") if v != MAIN]

# Filled by the tests, printed by conftest.py before the final summary.
SUMMARIES = []


@pytest.mark.parametrize("version", VERSIONS)
def test_python_suite_on(version):
    path = FOUND.get(version)
    if path is None:
        pytest.skip(f"no Python {version} here: its suite was skipped")
    proc = subprocess.run(
        [path, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider",
         f"--ignore={SELF}", os.path.relpath(HERE, REPO)],
        cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=1800)
    lines = proc.stdout.rstrip().splitlines()
    last = lines[-1] if lines else "(no output)"
    SUMMARIES.append(f"Python {version}: {last}")
    tail = "\n".join(lines[-60:])
    assert proc.returncode == 0, f"Python {version} ({path}):\n{tail}\n{proc.stderr[-3000:]}"
