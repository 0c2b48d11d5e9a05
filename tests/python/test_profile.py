"""tunalloc.profile: sampled heap profiles with Python frames, snapshots,
diffs that find a leak, dumps that read back, and the flame graph CLI."""
import json
import os
import re
import subprocess
import sys

import pytest

from py_helpers import REPO, clean_env, run_py

LEAK_SCRIPT = """
import json, sys
import tunalloc
from tunalloc import profile

leaked = []

def churn():
    for i in range(30000):
        tmp = [str(j) for j in range(10)]

def leak():
    for i in range(30000):
        leaked.append(bytes(1000))      # the leaking line

tunalloc.ctl("prof.seed", 7)
profile.start(sample_bytes=64 * 1024)
churn()
before = profile.snapshot()
leak()
churn()
after = profile.snapshot()
top = after.diff(before)[0]
first = after.top(1, key="function")[0]
after.dump(sys.argv[1])
after.dump(sys.argv[2], format="folded")
profile.stop()
print(json.dumps({"diff_key": top.key, "diff_bytes": top.bytes_diff,
                  "top_key": first.key, "active": profile.active()}))
"""


def test_leak_found_by_diff_and_dumps_read_back(tmp_path):
    script = tmp_path / "leaky.py"
    script.write_text(LEAK_SCRIPT)
    pb, folded = tmp_path / "heap.pb.gz", tmp_path / "heap.folded"
    out = run_py(None, str(script), str(pb), str(folded)).stdout
    res = json.loads(out.strip().splitlines()[-1])
    assert res["diff_key"] == f"{script}:14 (leak)"
    assert res["top_key"] == f"leak ({script})"
    truth = 30000 * 1040  # bytes(1000) objects: 1000 bytes + header, before class rounding
    assert 0.75 * truth < res["diff_bytes"] < 1.35 * truth
    assert res["active"] is False

    from tunalloc import profile
    stacks = profile.read_pprof(pb.read_bytes())
    leak_bytes = sum(v for frames, v in stacks if frames and frames[-1] == f"leak ({script}:14)")
    assert 0.75 * truth < leak_bytes < 1.35 * truth
    lines = profile.read_folded(folded.read_text())
    assert any(f[-1] == f"leak@{script}:14" for f, _ in lines)

    svg = tmp_path / "heap.svg"
    proc = subprocess.run([sys.executable, "-m", "tunalloc", "profile", "report", str(pb),
                           "-o", str(svg)], env=clean_env(), capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = svg.read_text()
    assert text.startswith("<svg") and f"leak ({script}:14)" in text
    check_png(pb, tmp_path)


def check_png(pb, tmp_path):
    """The PNG is the SVG's picture: its size, and each box drawn in its
    colour where the layout puts it."""
    mpimg = pytest.importorskip("matplotlib.image")
    import colorsys
    import zlib

    from tunalloc import profile
    png = tmp_path / "heap.png"
    proc = subprocess.run([sys.executable, "-m", "tunalloc", "profile", "report", str(pb),
                           "-o", str(png)], env=clean_env(), capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    total, levels, boxes = profile.flame_layout(profile.read_pprof(pb.read_bytes()))
    pixels = mpimg.imread(str(png))
    height = levels * profile.FLAME_ROW + 2 * profile.FLAME_PAD
    assert pixels.shape[:2] == (height, 1200)
    wide = [b for b in boxes if b.width > 60]
    assert len(wide) >= 3
    for b in wide:
        # the box's right end, below the text line: fill colour only
        y = height - profile.FLAME_PAD - (b.level + 1) * profile.FLAME_ROW + 3
        x = int(b.x + b.width - 8)
        want = colorsys.hls_to_rgb(zlib.crc32(b.label.encode()) % 60 / 360, 0.6, 0.8)
        assert max(abs(pixels[y, x, i] - want[i]) for i in range(3)) < 0.02, b


def test_png_without_matplotlib_says_so(tmp_path):
    folded = tmp_path / "heap.folded"
    folded.write_text("main;work 4096\n")
    png = tmp_path / "heap.png"
    code = ("import sys; sys.modules['matplotlib'] = None; from tunalloc.__main__ import main; "
            f"main(['profile', 'report', {str(folded)!r}, '-o', {str(png)!r}])")
    proc = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True,
                          text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 1 and "matplotlib" in proc.stderr and not png.exists()
    svg = tmp_path / "heap.svg"
    code = code.replace(str(png), str(svg))
    proc = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True,
                          text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "work" in svg.read_text()


def test_allocations_without_the_gil_say_so():
    out = run_py("""
        import tunalloc
        from tunalloc import profile
        from tunalloc._ctl import lib
        profile.start(sample_bytes=4096)
        blocks = [lib.ta_malloc(65536) for _ in range(200)]   # cffi drops the GIL
        snap = profile.snapshot()
        profile.stop()
        keys = [s.key for s in snap.top(50, key="line")]
        print(any(k.startswith(profile.NO_PYTHON) for k in keys))
        for b in blocks:
            lib.ta_free(b)
        print(sum(s.live_blocks for s in profile.snapshot().stacks if not s.frames) < 1)
    """).stdout.split()
    assert out == ["True", "True"]


def test_lines_of_code_objects_freed_and_remade():
    """The frames hook caches lines by (code object, instruction). Code
    objects made and freed in a loop come back at the same addresses with
    the allocation at the same instruction but on another line: each
    sample's line is still the one its own code object says (the file
    name, read afresh, tells which)."""
    out = json.loads(run_py("""
        import json
        from tunalloc import profile
        profile.start(sample_bytes=4096)
        for i in range(400):
            k = i % 40
            ns = {}
            exec(compile("\\n" * k + "def f():\\n    return bytearray(200000)\\n",
                         f"gen_{k}.py", "exec"), ns)
            ns["f"]()
            ns.clear()   # f and its code object die here
        snap = profile.snapshot()
        profile.stop()
        print(json.dumps([(f.file, f.line) for s in snap.stacks for f in s.frames
                          if f.file.startswith("gen_") and f.function == "f"]))
    """).stdout)
    assert len({f for f, _ in out}) > 20
    bad = [(f, ln) for f, ln in out if ln != int(f[4:-3]) + 2]
    assert not bad, bad[:5]


def test_reads_do_not_sample_themselves(tmp_path):
    """What snapshot() and Snapshot.dump() allocate (the snapshots here
    are kept) is not sampled, though nearly everything else is."""
    out = run_py(f"""
        from tunalloc import profile
        profile.start(sample_bytes=64)
        snaps = [profile.snapshot() for _ in range(4)]
        snaps[-1].dump({str(tmp_path / "heap.pb.gz")!r})
        keep = [bytes(100) for _ in range(100)]
        last = profile.snapshot()
        profile.stop()
        readers = ("snapshot", "Snapshot.dump")
        own = [s for s in last.stacks
               if any(f.function in readers and f.file.endswith("profile.py") for f in s.frames)]
        print(len(own), sum(s.alloc_blocks for s in last.stacks) > 100)
    """).stdout.split()
    assert out == ["0", "True"]


def test_c_frame_names():
    """A C frame without a symbol of its own is named object+0xoffset."""
    names = json.loads(run_py("""
        import json
        from tunalloc import profile
        profile.start(sample_bytes=4096)
        keep = [str(i) * 3 for i in range(100000)]
        snap = profile.snapshot()
        profile.stop()
        print(json.dumps(sorted({n for s in snap.stacks for n in s.c_frames})))
    """).stdout)
    assert names
    bad = [n for n in names if "%" in n or
           ("+0x" in n and not re.fullmatch(r".+\+0x[0-9a-f]+", n))]
    assert not bad


def test_sampling_installs_the_counting_callbacks():
    """While the profile samples, MEM and OBJ allocate through the core's
    counting callbacks (freed blocks reused at once, each counted), and
    through the plain ones again after stop()."""
    out = run_py("""
        import ctypes, os
        import tunalloc
        from tunalloc import profile

        class Allocator(ctypes.Structure):
            _fields_ = [(f, ctypes.c_void_p) for f in ("ctx", "malloc", "calloc", "realloc", "free")]

        core = ctypes.CDLL(os.path.join(os.path.dirname(tunalloc.__file__), "libtunalloc_core.so.0"))
        names = {ctypes.cast(getattr(core, n), ctypes.c_void_p).value: n
                 for n in ("ta_hook_malloc", "ta_hook_count_malloc",
                           "ta_hook_thread_malloc", "ta_hook_thread_count_malloc")}

        def mallocs():
            got = []
            for domain in (1, 2):  # PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ
                a = Allocator()
                ctypes.pythonapi.PyMem_GetAllocator(domain, ctypes.byref(a))
                got.append(names.get(a.malloc, "other").replace("thread_", ""))
            return " ".join(got)

        tunalloc.enable()
        print(mallocs())
        profile.start()
        keep = [str(i) for i in range(100000)]
        print(mallocs())
        profile.stop()
        print(mallocs())
    """).stdout.splitlines()
    assert out == ["ta_hook_malloc ta_hook_malloc", "ta_hook_count_malloc ta_hook_count_malloc",
                   "ta_hook_malloc ta_hook_malloc"]


def test_bad_arguments():
    from tunalloc import profile
    with pytest.raises(TypeError):
        profile.start(sample_bytes="big")
    with pytest.raises(ValueError):
        profile.start(sample_bytes=0)
    snap = profile.Snapshot([], 4096)
    with pytest.raises(ValueError):
        snap.top(by="weight")
    with pytest.raises(ValueError):
        snap.top(key="module")
    with pytest.raises(TypeError):
        snap.diff("yesterday")
    with pytest.raises(ValueError):
        snap.dump("/tmp/x", format="svg")
    assert snap.top() == [] and snap.live_bytes == 0


def test_dump_refuses_a_file_descriptor(tmp_path):
    """open() takes an int for a descriptor and closes it: dump(1) used to
    write the profile over stdout and close it."""
    from tunalloc import profile
    snap = profile.Snapshot([], 4096)
    fd = os.open(tmp_path / "x", os.O_WRONLY | os.O_CREAT)
    try:
        for bad, fmt in ((fd, "pprof"), (fd, "folded"), (True, "pprof"), (None, "folded")):
            with pytest.raises(TypeError):
                snap.dump(bad, format=fmt)
        os.fstat(fd)
        assert os.path.getsize(tmp_path / "x") == 0
    finally:
        os.close(fd)


def test_report_cli_errors(tmp_path):
    bad = tmp_path / "bad.pb.gz"
    bad.write_bytes(b"\x1f\x8bnot gzip")
    for args, code in ((["profile"], 2), (["profile", "report", str(bad)], 2),
                       (["profile", "report", str(bad), "-o", str(tmp_path / "x.svg")], 1),
                       (["profile", "report", str(bad), "-o", str(tmp_path / "x.jpg")], 2),
                       (["profile", "report", str(tmp_path / "none"), "-o", "x.svg"], 1)):
        proc = subprocess.run([sys.executable, "-m", "tunalloc"] + args, env=clean_env(),
                              capture_output=True, text=True, cwd=REPO, timeout=60)
        assert proc.returncode == code, (args, proc.stderr)
        assert proc.stderr
