"""Smoke runs of the libFuzzer targets (tests/fuzz/fuzz_*.c): each is
built through make and run for a few seconds from its committed seed
corpus, so a target that no longer builds, crashes on a seed or breaks a
property within seconds fails here. `make fuzz` runs them for
FUZZ_SECONDS each."""
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FUZZ_DIR = ROOT / "tests" / "fuzz"
NAMES = sorted(p.stem[len("fuzz_"):] for p in FUZZ_DIR.glob("fuzz_*.c"))
SMOKE_SECONDS = 4
EXECUTED = re.compile(r"^stat::number_of_executed_units: (\d+)$", re.M)


def _make(*args, timeout):
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def _describe(res):
    return (f"exit {res.returncode}\n--- stdout\n{res.stdout[-4000:]}"
            f"\n--- stderr\n{res.stderr[-8000:]}")


@pytest.fixture(scope="module")
def fuzz_build():
    res = _make("-j2", "fuzz-build", timeout=1800)
    assert res.returncode == 0, _describe(res)


def test_every_target_is_collected():
    assert {"conf", "ctl", "ops"} <= set(NAMES), NAMES


@pytest.mark.parametrize("name", NAMES)
def test_seed_corpus_is_small(name):
    """A committed corpus of a few small hand-made seeds, no artefacts."""
    seeds = [p for p in (FUZZ_DIR / "corpus" / name).iterdir() if p.is_file()]
    assert seeds, f"tests/fuzz/corpus/{name} has no seeds"
    assert all(p.stat().st_size <= 4096 for p in seeds)
    assert not any(p.name.startswith(("crash-", "leak-", "timeout-", "oom-")) for p in seeds)


@pytest.mark.parametrize("name", NAMES)
def test_fuzz_smoke(fuzz_build, name):
    res = _make(f"fuzz-{name}", f"FUZZ_SECONDS={SMOKE_SECONDS}", timeout=SMOKE_SECONDS + 300)
    assert res.returncode == 0, _describe(res)
    m = EXECUTED.search(res.stdout + res.stderr)
    assert m and int(m.group(1)) > 0, _describe(res)
