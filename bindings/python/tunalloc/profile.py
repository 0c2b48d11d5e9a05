"""Sampled heap profiling of a running Python program, from the REPL.

    >>> from tunalloc import profile
    >>> profile.start(sample_bytes=512 * 1024)   # also enables tunalloc
    >>> before = profile.snapshot()
    >>> ...                                       # let the program run
    >>> after = profile.snapshot()
    >>> for stat in after.diff(before)[:10]:      # what grew: the leak hunt
    ...     print(stat)
    >>> after.top(10, by="bytes", key="line")
    >>> after.dump("heap.pb.gz")                  # pprof; or format="folded"
    >>> profile.stop()

About one block per ``sample_bytes`` allocated is sampled, with the
Python frames that made it (file, function, line; up to 32 frames) and
the C frames below; figures are estimates of all blocks (each sample
scaled by the inverse of its chance of being sampled). Blocks that
tunalloc does not make (before ``tunalloc.enable()``, or in domains left
on the previous allocator) are not seen. Allocations made without the GIL
have C frames only; their stacks show ``[no Python frame]``.

``python -m tunalloc profile report heap.pb.gz -o heap.svg`` draws a
flame graph of a dump (pprof or folded); ``-o heap.png`` draws the same
picture as a PNG, with matplotlib if it is installed.
"""
import gzip
import html
import os
import sys
import zlib
from collections import namedtuple
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from . import _hook, _hooks
from ._ctlapi import ctl

DEFAULT_SAMPLE_BYTES = 512 * 1024
NO_PYTHON = "[no Python frame]"

Frame = namedtuple("Frame", "function file line")
Stack = namedtuple("Stack", "frames c_frames live_blocks live_bytes alloc_blocks alloc_bytes")
Stack.__doc__ = """One allocation stack: Python frames innermost first (Frame
tuples), C frames innermost first (names), and estimated live and
cumulative (since start) blocks and bytes."""
Stat = namedtuple("Stat", "key bytes blocks")
StatDiff = namedtuple("StatDiff", "key bytes blocks bytes_diff blocks_diff")

_BY = ("bytes", "blocks")
_KEYS = ("function", "line", "stack")
_FORMATS = ("pprof", "folded")


def start(sample_bytes: int = DEFAULT_SAMPLE_BYTES) -> None:
    """Starts sampling, about one block per sample_bytes allocated. Enables
    tunalloc for the default domains first if no domain is on it."""
    if isinstance(sample_bytes, bool) or not isinstance(sample_bytes, int):
        raise TypeError("sample_bytes must be an int")
    if sample_bytes <= 0 or sample_bytes > 1 << 40:
        raise ValueError("sample_bytes must be between 1 and 2**40")
    if not _hooks.status().active:
        _hooks.enable()
    ctl("prof.sample_bytes", sample_bytes)
    _hook.prof_hook(True)
    ctl("prof.active", True)
    _count_entries(True)


def stop() -> None:
    """Stops sampling. Sampled blocks stay in the profile until freed."""
    _count_entries(False)
    ctl("prof.active", False)


def _count_entries(on: bool) -> None:
    # The counting callbacks only make sampling cheaper (plain ones are
    # counted in the core's slow paths), and only the main interpreter may
    # switch the process-wide callbacks: a subinterpreter samples without.
    if _hook.is_main_interpreter():
        _hook.prof_count(on)


def active() -> bool:
    """Whether the profile is sampling."""
    return bool(ctl("prof.active"))


def snapshot() -> "Snapshot":
    """The profile as it is now: live blocks by stack, and cumulative
    allocations since sampling started. The objects it builds are not
    sampled (nor counted towards the next sample)."""
    _hook.prof_reading(True)   # a call, not a with statement, whose objects would be sampled
    try:
        stacks = []
        for (frames, cframes, _lb, lbe, _lz, lze, _ab, abe, _az, aze) in _hook.prof_read():
            stacks.append(Stack(tuple(Frame(*f) for f in frames), tuple(cframes),
                                lbe, lze, abe, aze))
        return Snapshot(stacks, ctl("prof.sample_bytes"))
    finally:
        _hook.prof_reading(False)


def _frame_label(f: Frame) -> str:
    return f"{f.function} ({f.file}:{f.line})"


def _key(stack: Stack, key: str) -> str:
    if not stack.frames:
        inner = stack.c_frames[0] if stack.c_frames else "?"
        return f"{NO_PYTHON} {inner}"
    f = stack.frames[0]
    if key == "function":
        return f"{f.function} ({f.file})"
    if key == "line":
        return f"{f.file}:{f.line} ({f.function})"
    return " <- ".join(_frame_label(fr) for fr in stack.frames)


def _check(by: str, key: str) -> None:
    if by not in _BY:
        raise ValueError(f"by must be one of {_BY}, not {by!r}")
    if key not in _KEYS:
        raise ValueError(f"key must be one of {_KEYS}, not {key!r}")


class Snapshot:
    """Live heap by allocation stack at one moment (see snapshot())."""

    def __init__(self, stacks: Sequence[Stack], sample_bytes: int):
        self.stacks = list(stacks)
        if not all(isinstance(s, Stack) for s in self.stacks):
            raise TypeError("stacks must be tunalloc.profile.Stack tuples")
        self.sample_bytes = sample_bytes

    @property
    def live_bytes(self) -> float:
        """Estimated bytes of all live blocks the profile covers."""
        return sum(s.live_bytes for s in self.stacks)

    def _grouped(self, key: str) -> Dict[str, Tuple[float, float]]:
        out: Dict[str, List[float]] = {}
        for s in self.stacks:
            acc = out.setdefault(_key(s, key), [0.0, 0.0])
            acc[0] += s.live_bytes
            acc[1] += s.live_blocks
        return {k: (v[0], v[1]) for k, v in out.items()}

    def top(self, n: int = 10, by: str = "bytes", key: str = "line") -> List[Stat]:
        """The n biggest holders of live memory, grouped by the innermost
        Python function or line, or by whole stack."""
        _check(by, key)
        stats = [Stat(k, round(b), round(c)) for k, (b, c) in self._grouped(key).items()
                 if c >= 0.5]
        stats.sort(key=lambda s: (getattr(s, by), s.key), reverse=True)
        return stats[:n]

    def diff(self, older: "Snapshot", by: str = "bytes", key: str = "line") -> List[StatDiff]:
        """What changed since older, biggest growth first."""
        if not isinstance(older, Snapshot):
            raise TypeError("diff() takes an older Snapshot")
        _check(by, key)
        new, old = self._grouped(key), older._grouped(key)
        out = []
        for k in set(new) | set(old):
            b, c = new.get(k, (0.0, 0.0))
            ob, oc = old.get(k, (0.0, 0.0))
            if max(c, oc) < 0.5:
                continue
            out.append(StatDiff(k, round(b), round(c), round(b - ob), round(c - oc)))
        field = "bytes_diff" if by == "bytes" else "blocks_diff"
        out.sort(key=lambda s: (getattr(s, field), s.key), reverse=True)
        return out

    def folded(self) -> List[Tuple[List[str], float]]:
        """(frames outermost first, estimated live bytes) per stack with
        live blocks; frames named function@file:line, as the core's
        folded dumps name them."""
        out = []
        for s in self.stacks:
            if s.live_blocks < 0.5:
                continue
            if s.frames:
                names = [f"{f.function}@{f.file}:{f.line}" for f in reversed(s.frames)]
            else:
                names = [NO_PYTHON] + list(reversed(s.c_frames))
            out.append((names, s.live_bytes))
        return out

    def dump(self, path: str, format: str = "pprof") -> None:
        """Writes the snapshot: "pprof" (gzipped profile.proto, for pprof
        and the tools that read it) or "folded" (flame graph text)."""
        if format not in _FORMATS:
            raise ValueError(f"format must be one of {_FORMATS}, not {format!r}")
        # open() would take an int for a descriptor and close the caller's.
        os.fspath(path)
        _hook.prof_reading(True)   # what the dump builds is not sampled
        try:
            if format == "folded":
                with open(path, "w") as f:
                    for names, value in self.folded():
                        f.write(";".join(n.replace(";", "_").replace(" ", "_") for n in names))
                        f.write(f" {round(value)}\n")
                return
            with open(path, "wb") as f:
                f.write(gzip.compress(_encode_pprof(self)))
        finally:
            _hook.prof_reading(False)


# ---- pprof's profile.proto, written and read by hand --------------------

def _varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _field(number: int, value) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _encode_pprof(snap: Snapshot) -> bytes:
    strings: Dict[str, int] = {"": 0}

    def sid(s: str) -> int:
        return strings.setdefault(s, len(strings))

    body = bytearray()
    for t, u in (("alloc_objects", "count"), ("alloc_space", "bytes"),
                 ("inuse_objects", "count"), ("inuse_space", "bytes")):
        body += _field(1, _field(1, sid(t)) + _field(2, sid(u)))
    functions: Dict[Tuple[str, str], int] = {}
    locations: Dict[Tuple[int, int], int] = {}

    def loc(name: str, file: str, line: int) -> int:
        fid = functions.get((name, file))
        if fid is None:
            fid = functions[(name, file)] = len(functions) + 1
            body.extend(_field(5, _field(1, fid) + _field(2, sid(name)) +
                               _field(3, sid(name)) + _field(4, sid(file))))
        lid = locations.get((fid, line))
        if lid is None:
            lid = locations[(fid, line)] = len(locations) + 1
            body.extend(_field(4, _field(1, lid) + _field(4, _field(1, fid) + _field(2, line))))
        return lid

    for s in snap.stacks:
        if s.frames:
            ids = [loc(f.function, f.file, max(f.line, 0)) for f in s.frames]
        else:
            ids = [loc(c, "", 0) for c in s.c_frames] + [loc(NO_PYTHON, "", 0)]
        vals = [round(s.alloc_blocks), round(s.alloc_bytes),
                round(s.live_blocks), round(s.live_bytes)]
        body += _field(2, _field(1, b"".join(map(_varint, ids))) +
                       _field(2, b"".join(map(_varint, vals))))
    body += _field(11, _field(1, sid("space")) + _field(2, sid("bytes")))
    body += _field(12, snap.sample_bytes)
    body += _field(14, sid("inuse_space"))
    for s in strings:
        body += _field(6, s.encode())
    return bytes(body)


def _fields(buf: bytes) -> Iterable[Tuple[int, object]]:
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = value = 0
        while True:
            b = buf[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    while pos < len(buf):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, varint()
        elif wire == 2:
            n = varint()
            yield number, buf[pos:pos + n]
            pos += n
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            yield number, int.from_bytes(buf[pos:pos + width], "little")
            pos += width
        else:
            raise ValueError(f"not a profile.proto: wire type {wire}")


def _ints(value) -> List[int]:
    if isinstance(value, int):
        return [value]
    out, shift, acc = [], 0, 0
    for b in value:
        acc |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            out.append(acc)
            shift = acc = 0
    return out


def read_pprof(data: bytes, sample_type: str = "inuse_space") -> List[Tuple[List[str], int]]:
    """(frames outermost first, value of sample_type) per sample of a
    pprof profile (gzipped or not); ValueError if data is not one."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    if not isinstance(sample_type, str):
        raise TypeError(f"sample_type must be a str, not {type(sample_type).__name__}")
    try:
        return _read_pprof(bytes(data), sample_type)
    except (IndexError, KeyError, TypeError, EOFError, OSError, zlib.error) as exc:
        # a field cut short, of the wrong wire type, or a dangling index
        raise ValueError(f"not a pprof profile: {exc!r}") from None


def _read_pprof(data: bytes, sample_type: str) -> List[Tuple[List[str], int]]:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    strings: List[str] = []
    types, samples, functions, locations = [], [], {}, {}
    for number, value in _fields(data):
        if number == 6:
            strings.append(bytes(value).decode("utf-8", "replace"))
        elif number == 1:
            types.append(dict(_fields(value)).get(1, 0))
        elif number == 2:
            ids, vals = [], []
            for n, v in _fields(value):
                if n == 1:
                    ids += _ints(v)
                elif n == 2:
                    vals += _ints(v)
            samples.append((ids, vals))
        elif number == 4:
            lid, lines = 0, []
            for n, v in _fields(value):
                if n == 1:
                    lid = v
                elif n == 4:
                    line = dict(_fields(v))
                    lines.append((line.get(1, 0), line.get(2, 0)))
            locations[lid] = lines
        elif number == 5:
            fn = dict(_fields(value))
            functions[fn.get(1, 0)] = (fn.get(2, 0), fn.get(4, 0))
    names = [strings[t] for t in types]
    if sample_type not in names:
        raise ValueError(f"no sample type {sample_type!r} in the profile ({names})")
    col = names.index(sample_type)
    out = []
    for ids, vals in samples:
        frames = []
        for lid in ids:
            for fid, line in locations.get(lid, []):
                name, file = functions.get(fid, (0, 0))
                label = strings[name]
                if strings[file] and line:
                    label += f" ({strings[file]}:{line})"
                frames.append(label)
        out.append((list(reversed(frames)), vals[col] if col < len(vals) else 0))
    return out


def read_folded(text: str) -> List[Tuple[List[str], int]]:
    """(frames outermost first, value) per line of folded stacks."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    out = []
    for line in text.splitlines():
        stack, _, value = line.rpartition(" ")
        if stack and value.isdigit():
            out.append((stack.split(";"), int(value)))
    return out


# ---- flame graph ----------------------------------------------------------

FLAME_ROW, FLAME_PAD = 18, 30

Box = namedtuple("Box", "x level width label value")


def flame_layout(stacks: Sequence[Tuple[List[str], float]], width: int = 1200
                 ) -> Tuple[float, int, List[Box]]:
    """The boxes of a flame graph of (frames outermost first, value)
    pairs: (total, levels, boxes), x and width in pixels of a picture
    `width` wide, level 0 the root ("all"); boxes under half a pixel are
    left out. Both pictures (SVG, PNG) draw these."""
    root: dict = {"": [0.0, {}]}
    for frames, value in stacks:
        if value <= 0:
            continue
        node = root[""]
        node[0] += value
        for f in frames:
            node = node[1].setdefault(f, [0.0, {}])
            node[0] += value
    total = root[""][0]
    boxes: List[Box] = []

    def depth(node) -> int:
        return 1 + max((depth(c) for c in node[1].values()), default=0)

    def place(name: str, node, x: float, level: int) -> None:
        w = node[0] / total * (width - 20) if total else 0
        if w < 0.5:
            return
        boxes.append(Box(x, level, w, name if level else "all", node[0]))
        cx = x
        for cname, child in sorted(node[1].items()):
            place(cname, child, cx, level + 1)
            cx += child[0] / total * (width - 20)

    place("", root[""], 10, 0)
    return total, depth(root[""]), boxes


def _hue(label: str) -> int:
    """Warm colours, the same for a frame in every picture."""
    return zlib.crc32(label.encode()) % 60


def _fit(label: str, width: float) -> str:
    """The label cut to a box of `width` pixels (7 per character), or ''."""
    chars = int(width / 7)
    if chars < 3:
        return ""
    return label if len(label) <= chars else label[:chars - 2] + ".."


def _caption(title: str, total: float) -> str:
    return f"{title} ({total / 1048576:.1f} MiB)"


def flame_svg(stacks: Sequence[Tuple[List[str], float]], title: str = "live heap",
              width: int = 1200) -> str:
    """An SVG flame graph (roots at the bottom) of (frames, value) pairs."""
    total, levels, boxes = flame_layout(stacks, width)
    height = levels * FLAME_ROW + 2 * FLAME_PAD
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="monospace" font-size="11">',
             f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14">'
             f'{html.escape(_caption(title, total))}</text>']
    for b in boxes:
        y = height - FLAME_PAD - (b.level + 1) * FLAME_ROW
        tip = f"{b.label}: {b.value / 1024:.1f} KiB ({100 * b.value / total:.1f}%)"
        parts.append(f'<g><title>{html.escape(tip)}</title><rect x="{b.x:.1f}" y="{y}" '
                     f'width="{b.width:.1f}" height="{FLAME_ROW - 1}" '
                     f'fill="hsl({_hue(b.label)},80%,60%)"/>')
        text = _fit(b.label, b.width)
        if text:
            parts.append(f'<text x="{b.x + 2:.1f}" y="{y + FLAME_ROW - 5}">'
                         f'{html.escape(text)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def flame_png(stacks: Sequence[Tuple[List[str], float]], path: str,
              title: str = "live heap", width: int = 1200) -> None:
    """The same flame graph as flame_svg, as a PNG; needs matplotlib
    (ImportError without it), which only this picture uses."""
    os.fspath(path)     # before the picture's work: a descriptor is refused as in dump()
    import colorsys

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    total, levels, boxes = flame_layout(stacks, width)
    height = levels * FLAME_ROW + 2 * FLAME_PAD
    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)      # pixels, y down, as in the SVG
    ax.axis("off")
    ax.text(width / 2, 18, _caption(title, total), ha="center", va="baseline",
            fontsize=14 * 72 / dpi, family="monospace")
    for b in boxes:
        y = height - FLAME_PAD - (b.level + 1) * FLAME_ROW
        ax.add_patch(Rectangle((b.x, y), b.width, FLAME_ROW - 1, linewidth=0,
                               facecolor=colorsys.hls_to_rgb(_hue(b.label) / 360, 0.6, 0.8)))
        text = _fit(b.label, b.width)
        if text:
            ax.text(b.x + 2, y + FLAME_ROW - 5, text, fontsize=11 * 72 / dpi,
                    family="monospace", va="baseline")
    fig.savefig(path, format="png", dpi=dpi)


REPORT_USAGE = ("usage: python -m tunalloc profile report PROFILE "
                "[--sample-type inuse_space] -o OUT.svg|OUT.png")


def cli(argv: Sequence[str]) -> int:
    """python -m tunalloc profile report heap.pb.gz -o heap.svg (or .png)"""
    args = list(argv)
    if not args or args[0] != "report":
        print(REPORT_USAGE, file=sys.stderr)
        return 2
    args = args[1:]
    out: Optional[str] = None
    sample_type = "inuse_space"
    rest = []
    while args:
        a = args.pop(0)
        if a in ("-o", "--output", "--sample-type") and args:
            v = args.pop(0)
            if a == "--sample-type":
                sample_type = v
            else:
                out = v
        elif a.startswith("-"):
            print(REPORT_USAGE, file=sys.stderr)
            return 2
        else:
            rest.append(a)
    if len(rest) != 1 or not out:
        print(REPORT_USAGE, file=sys.stderr)
        return 2
    kind = out.rsplit(".", 1)[-1].lower()
    if kind not in ("svg", "png"):
        print(f"tunalloc profile: {out}: the picture is .svg or .png", file=sys.stderr)
        return 2
    try:
        with open(rest[0], "rb") as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b" or not data.strip() or data[:1] in (b"\x0a", b"\x12"):
            stacks = read_pprof(data, sample_type)
        else:
            stacks = read_folded(data.decode("utf-8", "replace"))
        title = f"{rest[0]}: {sample_type}"
        if kind == "png":
            try:
                flame_png(stacks, out, title)
            except ImportError:
                print("tunalloc profile: a PNG needs matplotlib (pip install matplotlib); "
                      "an .svg needs nothing", file=sys.stderr)
                return 1
        else:
            with open(out, "w") as f:
                f.write(flame_svg(stacks, title))
    except (OSError, ValueError) as exc:
        print(f"tunalloc profile: {rest[0]}: {exc}", file=sys.stderr)
        return 1
    return 0
