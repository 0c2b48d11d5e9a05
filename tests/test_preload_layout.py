"""The preload library's layout keeps the code a malloc/free program runs
in the first 64 KiB of its text (Makefile, COLD_TEXT): the kernel maps a
file's pages around a faulting one in 64 KiB windows, so code run
anywhere in a window makes the whole window resident."""
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
PRELOAD = ROOT / "build" / "libtunalloc.so"
WINDOW = 0x10000

# Exported functions of the objects the Makefile moves to .ta_cold, and
# of the code every program runs.
COLD = ["ta_ctl", "mallctl", "ta_stats_print", "ta_prof_dump", "ta_check_ptr",
        "ta_arena_create", "ta_sized_alloc", "ta_hook_malloc", "ta_tcache_malloc"]
HOT = ["malloc", "free", "calloc", "realloc", "posix_memalign", "aligned_alloc",
       "malloc_usable_size"]


def readelf(*args):
    assert PRELOAD.exists(), f"{PRELOAD} missing: run `make core`"
    return subprocess.run(["readelf", "-W", *args, str(PRELOAD)], check=True,
                          capture_output=True, text=True).stdout


def sections():
    """name -> (address, size, flags) of the allocated sections."""
    out = {}
    for m in re.finditer(r"^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+"
                         r"([0-9a-f]+)\s+[0-9a-f]+\s+(\S*)", readelf("-S"), re.M):
        out[m.group(1)] = (int(m.group(2), 16), int(m.group(3), 16), m.group(4))
    return out


def loads():
    return [(int(m.group(1), 16), int(m.group(2), 16), m.group(3), int(m.group(4), 16))
            for m in re.finditer(r"^\s*LOAD\s+\S+\s+(0x[0-9a-f]+)\s+\S+\s+\S+\s+"
                                 r"(0x[0-9a-f]+)\s+(.{3})\s+(0x[0-9a-f]+)$", readelf("-l"), re.M)]


def test_text_starts_a_window():
    """Linux maps the library (2 MiB or more) at a 2 MiB boundary, so the
    windows start where the text does. Its p_align stays the page: a
    larger one makes glibc place the library instead."""
    text = [(vaddr, align) for vaddr, _, flags, align in loads() if "E" in flags]
    assert len(text) == 1
    vaddr, align = text[0]
    assert vaddr % WINDOW == 0 and align == 0x1000, (hex(vaddr), hex(align))


def test_hot_code_in_the_texts_first_window():
    """Every executable section but .ta_cold and .fini (never run) ends
    within the first 64 KiB of the text segment, and .ta_cold lies after
    them."""
    secs = sections()
    assert ".ta_cold" in secs
    text = [(v, m) for v, m, f, _ in loads() if "E" in f]
    assert len(text) == 1
    start = text[0][0]
    cold_at = secs[".ta_cold"][0]
    for name, (addr, size, flags) in secs.items():
        if "X" not in flags or name in (".ta_cold", ".fini"):
            continue
        assert addr + size <= start + WINDOW, (name, hex(addr + size - start))
        assert addr + size <= cold_at, name


def test_no_dt_fini():
    """crti's empty _fini sits after .ta_cold: calling it at exit would
    map the window of cold code before it."""
    assert "(FINI)" not in readelf("-d")


def test_cold_and_hot_functions():
    secs = sections()
    cold_lo, cold_size, _ = secs[".ta_cold"]
    text_lo, text_size, _ = secs[".text"]
    syms = {}
    for line in subprocess.run(["nm", "-D", "--defined-only", str(PRELOAD)], check=True,
                               capture_output=True, text=True).stdout.splitlines():
        addr, kind, name = line.split()
        syms[name] = int(addr, 16)
    for name in COLD:
        assert cold_lo <= syms[name] < cold_lo + cold_size, name
    for name in HOT:
        assert text_lo <= syms[name] < text_lo + text_size, name


def test_fork_handlers_hot():
    """Every forking program runs them, those of the moved objects too
    (FORK_HANDLER)."""
    text_lo, text_size, _ = sections()[".text"]
    handlers = {}
    for line in subprocess.run(["nm", str(PRELOAD)], check=True, capture_output=True,
                               text=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and re.search(r"_(pre|post)fork$", parts[2]):
            handlers[parts[2]] = int(parts[0], 16)
    assert "tai_ctl_prefork" in handlers and "tai_stats_postfork" in handlers
    for name, addr in handlers.items():
        assert text_lo <= addr < text_lo + text_size, name
