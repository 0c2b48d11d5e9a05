"""Memory freed under tunalloc can be had again when the process is at its
address-space limit: tunalloc gives back what it keeps for reuse when the
kernel refuses a mapping, instead of failing with MemoryError while it
holds the room itself.

Runs in a child interpreter with RLIMIT_AS 300 MB above what it has
mapped at start. The package is always built without sanitizers, so this
has no ASan/TSan variant to skip (their shadow memory needs more address
space than any such limit leaves; the C tests skip their RLIMIT_AS part
there)."""
from py_helpers import clean_env, run_py

FILL_FREE_REBUILD = """
import resource
import tunalloc

def address_space():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()

limit = address_space() + 300 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
tunalloc.enable()
strings = []
try:
    i = 0
    while True:
        strings.append(("%07d" % i) * 146)  # 1 KiB each
        i += 1
except MemoryError:
    pass
filled = len(strings)
del strings
d = {i: str(i) for i in range(200000)}
print("filled", filled, "dict", len(d))
"""


def test_memory_freed_at_the_limit_is_reusable():
    out = run_py(FILL_FREE_REBUILD, env=clean_env(), timeout=300).stdout.split()
    assert out[0] == "filled" and out[2] == "dict", out
    # the fill reached the limit: over 100 MiB of strings before MemoryError
    assert int(out[1]) > 100 * 1024, out
    assert int(out[3]) == 200000, out
