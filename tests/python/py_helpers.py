"""Helpers shared by the Python package tests: run a snippet or a script
in a fresh interpreter, with or without tunalloc enabled at start-up."""
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def clean_env(**extra):
    """The environment of a child interpreter: no tunalloc unless asked,
    no inherited allocator settings."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TUNALLOC_PYTHON", "PYTHONMALLOC", "PYTHONTRACEMALLOC",
                        "LD_PRELOAD")}
    env.update(extra)
    return env


def run_py(code, *args, env=None, timeout=120, check=True, input_text=None, cwd=REPO,
           preexec_fn=None):
    """Runs code with `python -c` (or a script path with args) in cwd and
    returns the CompletedProcess; fails the test with the child's stderr.
    input_text is the child's stdin (none by default)."""
    cmd = [sys.executable]
    cmd += ["-c", textwrap.dedent(code)] if code is not None else []
    cmd += list(args)
    proc = subprocess.run(cmd, env=env or clean_env(), capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, input=input_text,
                          stdin=None if input_text is not None else subprocess.DEVNULL,
                          preexec_fn=preexec_fn)
    if check and proc.returncode != 0:
        pytest.fail(f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc
