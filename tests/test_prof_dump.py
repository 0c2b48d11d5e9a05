"""The heap profile's pprof dump is a valid gzipped profile.proto: read back
with a protobuf wire-format reader written here (no protobuf package), it
names the allocation site the C test made and estimates its live bytes;
the real pprof (`go tool pprof`, Debian's golang-go) reads it too."""
import gzip
import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "build" / "tests" / "plain" / "integration" / "test_prof"


def fields(buf):
    """(field number, wire type, value) of each field of a message:
    varints as ints, length-delimited fields as bytes."""
    pos = 0

    def varint():
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
            yield number, wire, varint()
        elif wire == 2:
            n = varint()
            yield number, wire, bytes(buf[pos:pos + n])
            pos += n
        elif wire == 1:
            yield number, wire, int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == 5:
            yield number, wire, int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise ValueError(f"wire type {wire} at {pos}")


def packed(value):
    """A repeated varint field: packed bytes, or a single unpacked value."""
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


def parse_profile(data):
    prof = {"strings": [], "sample_type": [], "samples": [], "locations": {}, "functions": {}}
    for number, _, value in fields(data):
        if number == 6:
            prof["strings"].append(value.decode())
        elif number == 1:
            vt = {n: v for n, _, v in fields(value)}
            prof["sample_type"].append((vt.get(1, 0), vt.get(2, 0)))
        elif number == 2:
            ids, vals = [], []
            for n, _, v in fields(value):
                if n == 1:
                    ids += packed(v)
                elif n == 2:
                    vals += packed(v)
            prof["samples"].append((ids, vals))
        elif number == 4:
            loc = {"lines": []}
            for n, _, v in fields(value):
                if n == 1:
                    loc["id"] = v
                elif n == 3:
                    loc["address"] = v
                elif n == 4:
                    line = {n2: v2 for n2, _, v2 in fields(v)}
                    loc["lines"].append((line.get(1, 0), line.get(2, 0)))
            prof["locations"][loc["id"]] = loc
        elif number == 5:
            fn = {n: v for n, _, v in fields(value)}
            prof["functions"][fn[1]] = (fn.get(2, 0), fn.get(4, 0))
    return prof


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    if not PROGRAM.exists():
        pytest.fail(f"{PROGRAM} missing: run `make test-build`")
    out = tmp_path_factory.mktemp("prof")
    env = dict(os.environ, TEST_PROF_DIR=str(out))
    env.pop("LD_PRELOAD", None)
    res = subprocess.run([str(PROGRAM)], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return out


def test_pprof_parses_and_names_the_site(dumps):
    raw = gzip.decompress((dumps / "heap.pb.gz").read_bytes())
    prof = parse_profile(raw)
    s = prof["strings"]
    assert s[0] == ""
    types = [(s[t], s[u]) for t, u in prof["sample_type"]]
    assert types == [("alloc_objects", "count"), ("alloc_space", "bytes"),
                     ("inuse_objects", "count"), ("inuse_space", "bytes")]
    found = []
    for ids, vals in prof["samples"]:
        assert len(vals) == 4
        frames = []
        for i in ids:
            for fid, line in prof["locations"][i]["lines"]:
                name, file = prof["functions"][fid]
                frames.append((s[name], s[file], line))
        if frames and frames[0] == ("dump_site", "sites.c", 42):
            assert frames[1:] == [("main", "sites.c", 7)]
            found.append(vals)
    assert found, "dump_site is not in the profile"
    inuse = sum(v[3] for v in found)
    truth = 4000 * 512
    assert 0.65 * truth < inuse < 1.35 * truth


def test_folded_has_the_site(dumps):
    lines = (dumps / "heap.folded").read_text().splitlines()
    site = [ln for ln in lines if ln.startswith("main@sites.c:7;dump_site@sites.c:42 ")]
    assert site
    assert all(ln.rsplit(" ", 1)[1].isdigit() for ln in lines)


def test_real_pprof_reads_the_dump(dumps, tmp_path):
    """pprof itself, not only the reader above: same sample types, same
    stacks, same values."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("go tool pprof is not installed (Debian's golang-go; "
                    "tools/install-deps.sh installs it)")
    env = dict(os.environ, HOME=str(tmp_path), GOCACHE=str(tmp_path / "cache"))
    res = subprocess.run([go, "tool", "pprof", "-raw", str(dumps / "heap.pb.gz")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    types = lines[lines.index("Samples:") + 1].split()
    assert types == ["alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                     "inuse_space/bytes[dflt]"]
    locations, samples = {}, []
    section = None
    for line in lines:
        if line in ("Samples:", "Locations", "Mappings"):
            section = line
        elif section == "Samples:" and ":" in line:
            vals, ids = line.split(":")
            samples.append(([int(i) for i in ids.split()], [int(v) for v in vals.split()]))
        elif section == "Locations" and re.match(r"\s*\d+: ", line):
            lid, rest = line.split(":", 1)
            # "0xADDR M=1 function file:line s=0"; a function name may hold spaces
            parts = rest.split()
            locations[int(lid)] = (" ".join(parts[2:-2]), parts[-2])
    assert ("dump_site", "sites.c:42") in locations.values()

    def merged(pairs):
        """Values summed per stack, as pprof merges samples of one stack
        (two stacks of the dump may show the same runtime frames)."""
        out = {}
        for stack, vals in pairs:
            out[stack] = [a + b for a, b in zip(out.get(stack, [0] * len(vals)), vals)]
        return sorted((k, tuple(v)) for k, v in out.items())

    theirs = merged((tuple(locations[i] for i in ids), v) for ids, v in samples)

    prof = parse_profile(gzip.decompress((dumps / "heap.pb.gz").read_bytes()))
    s = prof["strings"]

    def name(loc):
        fid, line = prof["locations"][loc]["lines"][0] if prof["locations"][loc]["lines"] \
            else (None, 0)
        if fid is None:
            return (hex(prof["locations"][loc]["address"]), None)
        fn, file = prof["functions"][fid]
        return (s[fn], f"{s[file]}:{line}")

    ours = merged((tuple(name(i) for i in ids), v) for ids, v in prof["samples"])
    assert theirs == ours
