"""tunalloc.monitor(): the main figures as JSON lines, one per interval,
and `python -m tunalloc plot` to draw them."""
import json
import os
import sys
import threading
import time
from typing import Any, Dict, Optional, TextIO

from ._ctlapi import ctl
from ._stats import tree

# Totals copied into every sample, in bytes.
TOTALS = ("allocated", "active", "resident", "mapped", "retained", "metadata")
# What the plot draws, in MiB, from each sample.
PLOTTED = ("allocated", "active", "resident", "dirty")


def sample(page: int) -> Dict[str, Any]:
    """One sample: wall time, the totals, dirty and muzzy bytes summed over
    the arenas, and per arena its allocated, active, dirty and muzzy bytes.
    Read without bins, large classes and merged stats, which a sample
    does not need."""
    stats = tree("stats", "blm")
    out: Dict[str, Any] = {"time": time.time()}
    out.update({key: stats[key] for key in TOTALS})
    arenas = {}
    for index, arena in stats.get("arenas", {}).items():
        arenas[index] = {
            "allocated": arena["small"]["allocated"] + arena["large"]["allocated"],
            "active": arena["pactive"] * page,
            "dirty": arena["pdirty"] * page,
            "muzzy": arena["pmuzzy"] * page,
        }
    out["dirty"] = sum(a["dirty"] for a in arenas.values())
    out["muzzy"] = sum(a["muzzy"] for a in arenas.values())
    out["arenas"] = arenas
    return out


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


class Monitor:
    """A daemon thread appending one sample per interval to a file;
    stop() (or leaving a with block) writes a last sample and closes it."""

    def __init__(self, interval: float, path: str, progress: bool = False):
        if isinstance(interval, bool) or not isinstance(interval, (int, float)):
            raise TypeError(f"interval must be a number, not {type(interval).__name__}")
        # Above TIMEOUT_MAX the sampling thread's wait would raise and the
        # thread die after the first sample, with the caller long gone.
        if not 0 < interval <= threading.TIMEOUT_MAX:
            raise ValueError(f"interval must be > 0 and at most {threading.TIMEOUT_MAX}, "
                             f"not {interval!r}")
        # A file descriptor would be closed by stop() behind its owner's back.
        os.fspath(path)
        self.interval = float(interval)
        self.path = path
        self.progress = progress
        self._page = ctl("arenas.page")
        self._file: Optional[TextIO] = open(path, "a", encoding="utf-8")
        self._stop = threading.Event()
        self._write()
        self._thread = threading.Thread(target=self._loop, name="tunalloc-monitor",
                                        daemon=True)
        self._thread.start()

    def _write(self) -> None:
        row = sample(self._page)
        assert self._file is not None
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        if self.progress:
            sys.stderr.write(f"\rtunalloc: allocated {_mib(row['allocated'])}, "
                             f"resident {_mib(row['resident'])}, "
                             f"dirty {_mib(row['dirty'])}   ")
            sys.stderr.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._write()

    def stop(self) -> None:
        """Stops sampling after one last sample; harmless twice."""
        if self._file is None:
            return
        self._stop.set()
        self._thread.join()
        self._write()
        if self.progress:
            sys.stderr.write("\n")
        self._file.close()
        self._file = None

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def monitor(interval: float, path: str, progress: bool = False) -> Monitor:
    """Appends a JSON line of the main figures to path now and every
    interval seconds from a daemon thread: time, allocated, active,
    resident, mapped, retained, metadata, dirty and muzzy bytes, and the
    same per arena under "arenas". progress=True also keeps a one-line
    summary on stderr. Returns the Monitor (stop() it, or use it in a
    with block); `python -m tunalloc plot PATH -o OUT.png` draws it."""
    return Monitor(interval, path, progress)


def load(path: str) -> list:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def plot(path: str, out: str) -> None:
    """Draws a monitor file: the totals over time, and each arena's
    allocated bytes below."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = load(path)
    if not rows:
        raise ValueError(f"{path} holds no samples")
    t0 = rows[0]["time"]
    times = [r["time"] - t0 for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 6.5))
    for key in PLOTTED:
        top.plot(times, [r[key] / (1 << 20) for r in rows], label=key)
    top.set_ylabel("MiB")
    top.set_title(f"tunalloc: {path}")
    top.legend(loc="upper left")
    arenas = sorted({i for r in rows for i in r["arenas"]}, key=int)
    for index in arenas:
        bottom.plot(times, [r["arenas"].get(index, {}).get("allocated", 0) / (1 << 20)
                            for r in rows], label=f"arena {index}")
    bottom.set_ylabel("allocated, MiB")
    bottom.set_xlabel("seconds")
    if arenas:
        bottom.legend(loc="upper left", fontsize="small", ncol=4)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def plot_main(argv: list) -> None:
    """python -m tunalloc plot STATS.jsonl [-o OUT.png]."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m tunalloc plot",
                                 description="Draw a tunalloc.monitor() file.")
    ap.add_argument("path", help="JSON lines written by tunalloc.monitor()")
    ap.add_argument("-o", "--out", default="tunalloc.png", help="image to write")
    args = ap.parse_args(argv)
    try:
        plot(args.path, args.out)
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"tunalloc plot: {exc}")
    print(args.out)
