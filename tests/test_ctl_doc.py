"""The namespace reference in README.md and docs/ctl.md equals fresh output
of the generator (which enumerates the namespace through ta_ctl_child), and
covers every name the control-namespace issue requires."""
import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

_spec = importlib.util.spec_from_file_location("gen_ctl_doc", ROOT / "tools" / "gen_ctl_doc.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

REQUIRED = """
version epoch background_thread opt.narenas opt.dirty_decay_ms opt.muzzy_decay_ms
opt.background_thread opt.tcache opt.check opt.stats_print opt.stats_print_opts
opt.arena_limit arenas.narenas arenas.create arenas.lookup arenas.page
arenas.quantum arenas.nbins arenas.bin.<j>.size arenas.bin.<j>.nregs
arenas.bin.<j>.slab_size arenas.nlextents arenas.lextent.<j>.size
arenas.dirty_decay_ms arenas.muzzy_decay_ms arena.<i>.purge arena.<i>.decay
arena.<i>.reset arena.<i>.destroy arena.<i>.dirty_decay_ms arena.<i>.muzzy_decay_ms
arena.<i>.limit thread.arena thread.tcache.enabled thread.tcache.flush
thread.allocated thread.deallocated thread.peak.read thread.peak.reset
tcache.create tcache.flush tcache.destroy stats.allocated stats.active
stats.metadata stats.resident stats.mapped stats.retained
stats.arenas.<i>.nthreads stats.arenas.<i>.uptime stats.arenas.<i>.pactive
stats.arenas.<i>.pdirty stats.arenas.<i>.pmuzzy stats.arenas.<i>.mapped
stats.arenas.<i>.retained stats.arenas.<i>.resident stats.arenas.<i>.dirty_npurge
stats.arenas.<i>.dirty_purged stats.arenas.<i>.peak
stats.arenas.<i>.small.allocated stats.arenas.<i>.small.nmalloc
stats.arenas.<i>.small.ndalloc stats.arenas.<i>.small.nrequests
stats.arenas.<i>.small.nfills stats.arenas.<i>.small.nflushes
stats.arenas.<i>.large.allocated stats.arenas.<i>.large.nmalloc
stats.arenas.<i>.large.ndalloc stats.arenas.<i>.large.nrequests
stats.arenas.<i>.bins.<j>.nmalloc stats.arenas.<i>.bins.<j>.ndalloc
stats.arenas.<i>.bins.<j>.nrequests stats.arenas.<i>.bins.<j>.curregs
stats.arenas.<i>.bins.<j>.curslabs stats.arenas.<i>.bins.<j>.nfills
stats.arenas.<i>.bins.<j>.nflushes stats.arenas.<i>.bins.<j>.nslabs
stats.arenas.<i>.lextents.<j>.nmalloc stats.arenas.<i>.lextents.<j>.curlextents
""".split()


@pytest.fixture(scope="module")
def table():
    return gen.table()


def _names(tbl):
    rows = [line for line in tbl.splitlines() if line.startswith("| `")]
    return [row.split("`")[1] for row in rows]


def test_table_covers_required_names(table):
    names = _names(table)
    missing = [n for n in REQUIRED if n not in names]
    assert not missing, missing
    assert len(names) == len(set(names)), "duplicate rows"


def test_every_row_is_complete(table):
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 4 and all(cells), row
        assert cells[2] in ("r", "w", "rw", "--"), row


def test_readme_section_is_current(table):
    readme = (ROOT / "README.md").read_text()
    section = gen.readme_section(readme)
    assert section == "\n" + table, "README.md namespace reference is stale: run `make ctl-doc`"


def test_ctl_md_is_current(table):
    current = (ROOT / "docs" / "ctl.md").read_text()
    assert current == gen.ctl_md(table), "docs/ctl.md is stale: run `make ctl-doc`"


def test_splice_replaces_only_the_section():
    text = f"intro\n{gen.BEGIN}\nold table\n{gen.END}\noutro\n"
    out = gen.splice(text, "| new |\n")
    assert out == f"intro\n{gen.BEGIN}\n| new |\n{gen.END}\noutro\n"
    with pytest.raises(ValueError):
        gen.splice("no markers here", "| new |\n")
