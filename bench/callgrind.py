"""Instruction counts of whole runs under valgrind's callgrind, for the C,
Python and Lua drivers: unlike times, they do not move with machine load."""
import os
import re
import subprocess
import tempfile


class Profile:
    """One callgrind run: the total, each function's own instructions
    and each call edge's calls and inclusive instructions."""

    def __init__(self, total, own, edges, by_object=None, by_file=None):
        self.total = total
        self.own = own        # function -> instructions in its own code
        self.edges = edges    # (caller, callee) -> [calls, inclusive instructions]
        self.by_object = by_object or {}  # shared object -> instructions in its code
        self.by_file = by_file or {}      # source file -> instructions (inlined code too)

    def inclusive(self, fn):
        """Instructions of fn and of everything it called."""
        return self.own.get(fn, 0) + sum(v[1] for (a, _), v in self.edges.items() if a == fn)

    def top_caller(self, callee):
        """The function that called callee most often (None if nobody)."""
        calls = {a: v[0] for (a, b), v in self.edges.items() if b == callee}
        return max(calls, key=calls.get) if calls else None


_NAMED = re.compile(r"\((\d+)\)(?: (.*))?$")


def parse(path):
    """A Profile from a callgrind output file (name compression on, one
    event: Ir, which is callgrind's default)."""
    names, own, edges = {}, {}, {}
    by_object, by_file, files, objects = {}, {}, {}, {}
    total, fn, callee, pending = None, None, None, False
    ob = fl = fn_file = None

    def name(spec, table=names):
        m = _NAMED.match(spec)
        if not m:
            return spec
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table[m.group(1)]

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
            elif line.startswith("ob="):
                ob = name(line[3:], objects)
            elif line.startswith("cob="):
                name(line[4:], objects)
            elif line.startswith("fl="):
                fl = fn_file = name(line[3:], files)
            elif line.startswith(("fi=", "fe=")):  # inlined code, until the next fn=
                fl = name(line[3:], files)
            elif line.startswith(("cfi=", "cfl=")):
                name(line[4:], files)
            elif line.startswith("fn="):
                fn = name(line[3:])
                fl = fn_file
            elif line.startswith("cfn="):
                callee = name(line[4:])
            elif line.startswith("calls="):
                edge = edges.setdefault((fn, callee), [0, 0])
                edge[0] += int(line[6:].split()[0])
                pending = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                cost = int(line.split()[1]) if len(line.split()) > 1 else 0
                if pending:
                    edges[(fn, callee)][1] += cost
                    pending = False
                elif fn is not None:
                    own[fn] = own.get(fn, 0) + cost
                    by_object[ob] = by_object.get(ob, 0) + cost
                    by_file[fl] = by_file.get(fl, 0) + cost
    if total is None:
        raise RuntimeError("no totals in callgrind output")
    return Profile(total, own, edges, by_object, by_file)


def profile(cmd, env=None, timeout=None):
    """The Profile of one run of cmd under callgrind; raises RuntimeError
    if the run fails or callgrind wrote no totals."""
    with tempfile.TemporaryDirectory() as tmp:
        outfile = os.path.join(tmp, "cg.out")
        vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={outfile}"] + cmd
        try:
            res = subprocess.run(vg, env=env, capture_output=True, text=True,
                                 errors="replace", timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{' '.join(cmd)}: no result in {timeout} s") from exc
        if res.returncode != 0 or not os.path.exists(outfile):
            raise RuntimeError(" | ".join(res.stderr.strip().splitlines()[-3:]))
        return parse(outfile)


def total(cmd, env=None, timeout=None):
    """Total instructions (Ir) of one run of cmd under callgrind."""
    return profile(cmd, env, timeout).total
