"""tunalloc.monitor() JSON lines, `python -m tunalloc plot`, and the
prometheus_client collector."""
import json
import os

import pytest

from py_helpers import clean_env, run_py


def test_monitor_writes_samples_that_follow_the_program(tmp_path):
    path = tmp_path / "mem.jsonl"
    proc = run_py(f"""
import time, tunalloc
from tunalloc._ctl import lib
with tunalloc.monitor(0.05, {str(path)!r}, progress=True) as mon:
    time.sleep(0.2)
    blocks = [lib.ta_malloc(1 << 20) for _ in range(64)]
    time.sleep(0.3)
    for b in blocks:
        lib.ta_free(b)
    time.sleep(0.2)
mon.stop()                                   # harmless twice
""")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) >= 6
    times = [r["time"] for r in rows]
    assert times == sorted(times)
    for key in ("allocated", "active", "resident", "mapped", "retained", "metadata",
                "dirty", "muzzy", "arenas"):
        assert key in rows[0], key
    peak = max(r["allocated"] for r in rows)
    assert peak >= rows[0]["allocated"] + (64 << 20)
    assert rows[-1]["allocated"] < peak - (60 << 20)
    assert max(r["arenas"]["0"]["allocated"] for r in rows) >= 64 << 20
    assert "tunalloc: allocated" in proc.stderr


def test_monitor_rejects_bad_interval(tmp_path):
    import tunalloc
    for bad, exc in ((0, ValueError), (-1, ValueError), ("1", TypeError), (True, TypeError),
                     (float("nan"), ValueError), (float("inf"), ValueError),
                     (2**64, ValueError), (1e300, ValueError)):
        with pytest.raises(exc):
            tunalloc.monitor(bad, str(tmp_path / "x.jsonl"))


def test_monitor_rejects_a_file_descriptor_for_a_path(tmp_path):
    """stop() closes the file it opened: given an int, open() would have
    taken it as a descriptor and closed the caller's (stdout for 1)."""
    import tunalloc
    fd = os.open(tmp_path / "x.jsonl", os.O_WRONLY | os.O_CREAT)
    try:
        for bad in (fd, True, None):
            with pytest.raises(TypeError):
                tunalloc.monitor(1, bad)
        os.fstat(fd)
    finally:
        os.close(fd)


def test_plot_draws_a_monitor_file(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "mem.jsonl"
    run_py(f"""
import time, tunalloc
with tunalloc.monitor(0.02, {str(path)!r}):
    keep = [bytearray(1 << 20) for _ in range(20)]
    time.sleep(0.1)
""", env=clean_env(TUNALLOC_PYTHON="1"))
    out = tmp_path / "mem.png"
    proc = run_py(None, "-m", "tunalloc", "plot", str(path), "-o", str(out))
    assert proc.stdout.strip() == str(out)
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(out) > 10_000
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    bad = run_py(None, "-m", "tunalloc", "plot", str(empty), "-o", str(out), check=False)
    assert bad.returncode != 0 and "no samples" in bad.stderr


def test_prometheus_collector():
    pytest.importorskip("prometheus_client")
    out = run_py("""
import json
from prometheus_client import CollectorRegistry, generate_latest
import tunalloc, tunalloc.prometheus
from tunalloc._ctl import lib
registry = CollectorRegistry()
col = tunalloc.prometheus.register(registry)
assert tunalloc.prometheus.register(registry) is col
keep = [lib.ta_malloc(100) for _ in range(1000)] + [lib.ta_malloc(1 << 16) for _ in range(10)]
lib.ta_free(lib.ta_malloc(100))
text = generate_latest(registry).decode()
def value(name, **labels):
    return registry.get_sample_value(name, labels or None)
print(json.dumps({
    "allocated": value("tunalloc_allocated_bytes"),
    "stats": tunalloc.stats()["allocated"],
    "arena0_small": value("tunalloc_arena_allocated_bytes", arena="0", kind="small"),
    "live112": value("tunalloc_size_class_live", size="112", kind="small"),
    "reqs112": value("tunalloc_size_class_requests_total", size="112", kind="small"),
    "large": value("tunalloc_size_class_live", size="65536", kind="large"),
    "dirty": value("tunalloc_arena_bytes", arena="0", state="dirty"),
    "text": "tunalloc_arena_purged_pages_total" in text,
}))
tunalloc.prometheus.unregister(registry)
assert registry.get_sample_value("tunalloc_allocated_bytes") is None
""").stdout
    got = json.loads(out)
    assert got["allocated"] >= 1000 * 112 + 10 * 65536
    assert abs(got["allocated"] - got["stats"]) < 1 << 20
    assert got["arena0_small"] >= 1000 * 112
    assert got["live112"] >= 1000
    assert got["reqs112"] >= 1001
    assert got["large"] >= 10
    assert got["dirty"] is not None and got["text"]
