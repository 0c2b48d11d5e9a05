"""Instruction counts of whole runs under valgrind's callgrind, for the C,
Python and Lua drivers: unlike times, they do not move with machine load."""
import os
import subprocess
import tempfile


def total(cmd, env=None, timeout=None):
    """Total instructions (Ir) of one run of cmd under callgrind; raises
    RuntimeError if the run fails or callgrind wrote no totals."""
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
        with open(outfile) as f:
            for line in f:
                if line.startswith(("summary:", "totals:")):
                    return int(line.split()[1])
    raise RuntimeError("no totals in callgrind output")
