#!/usr/bin/env python3
"""Turns bench/results/latest.json into Markdown tables and a PNG plot of
each allocator's time ratio to glibc; optionally refreshes the table in
docs/bench.md between its BENCH-TABLE markers."""
import argparse
import json
import sys

BEGIN = "<!-- BENCH-TABLE:BEGIN -->"
END = "<!-- BENCH-TABLE:END -->"
MIB = 1024 * 1024


def fmt(v, spec=".2f", missing="n/a"):
    """A number for a table cell; missing results stay visible as n/a."""
    return missing if v is None else format(v, spec)


def table(header, rows):
    """A Markdown table; readable as plain text on a terminal too."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def cell(summary, name, field, render):
    """One allocator's value for a case, FAIL if every run failed."""
    entry = summary.get(name)
    if entry is None:
        return "n/a"
    if entry.get(field) is None:
        return "FAIL" if entry.get("errors") else "n/a"
    return render(entry[field])


def time_rows(data, names):
    """Median milliseconds with the min-max range of the rounds."""
    def render(s):
        return f"{s['median'] * 1e3:.1f} ({s['min'] * 1e3:.1f}-{s['max'] * 1e3:.1f})"
    return [[c["name"]] + [cell(c["summary"], n, "seconds", render) for n in names]
            for c in data["cases"]]


def ratio_rows(data, names, key, render=fmt, spec=".2f"):
    """Per-case ratios plus the geometric mean row."""
    rows = [[c["name"]] + [cell(c["summary"], n, key, render) for n in names]
            for c in data["cases"]]
    rows.append(["**geomean**"] + [f"**{fmt(data['geomean'].get(n, {}).get(key), spec)}**"
                                   for n in names])
    return rows


def per_round_tables(data, names, head):
    """With a baseline: the median (min-max) over the rounds of each
    round's ratio to the baseline's run of that round, per metric."""
    base = data.get("baseline")
    if not base:
        return []

    def render(s):
        return f"{s['median']:.3f} ({s['min']:.3f}-{s['max']:.3f})"
    parts = []
    for metric, what in (("time", "Time"), ("cpu", "CPU time (user+sys)"),
                         ("rss", "Peak RSS")):
        parts += [f"### {what} ratio to {base}, per round: median (min-max) of each round's "
                  f"ratio to {base}'s run in that round (> 1 is more than {base})",
                  table(head, ratio_rows(data, names, f"{metric}_per_round_vs_{base}",
                                         render, ".3f"))]
    return parts


def rss_rows(data, names):
    """Median peak RSS (wait4 ru_maxrss) in MiB."""
    def render(s):
        return f"{s['median'] / 1024:.1f}"
    return [[c["name"]] + [cell(c["summary"], n, "maxrss_kib", render) for n in names]
            for c in data["cases"]]


def frag_rows(data, names):
    """Peak RSS / peak live bytes, and RSS / live after the last shrink."""
    rows = []
    for c in data["cases"]:
        if c["workload"] != "frag":
            continue
        for key, label in (("rss_live_ratio", "peak RSS / peak live"),
                           ("end_ratio", "RSS / live at the end")):
            rows.append([label] + [cell(c["summary"], n, key, fmt) for n in names])
    return rows


def callgrind_rows(data, names, key="callgrind"):
    """Instructions per pair for each fast-path pattern measured (or per
    operation of each threaded case, with key "callgrind_threaded")."""
    cg = data.get(key) or {}
    labels = []
    for per in cg.values():
        labels += [k for k in per if k not in labels]
    return [[label] + [fmt(cg.get(n, {}).get(label), ".1f") for n in names]
            for label in labels]


def decay_rows(data):
    """One row per allocator: its decay setting and RSS before and after."""
    rows = []
    for name, res in (data.get("decay") or {}).items():
        conf = ", ".join(f"{k}={v}" for k, v in res.get("conf", {}).items()) or "default"
        if "error" in res:
            rows.append([name, conf, "FAIL", "", "", res["error"][:60]])
            continue
        fell = res.get("fallback_ms")
        rows.append([name, conf, f"{res['peak_rss'] / MIB:.0f}",
                     f"{res['after_free_rss'] / MIB:.0f}", f"{res['end_rss'] / MIB:.0f}",
                     "never" if fell is None or fell < 0 else f"{fell:.0f}"])
    return rows


def machine_text(meta, allocators):
    """The provenance line: numbers mean little without the machine."""
    builds = ", ".join(f"{k} {v}" for k, v in meta.get("tunalloc_build", {}).items())
    others = ", ".join(f"{n} = `{a['source']}`" for n, a in allocators.items()
                       if a.get("source"))
    others = f" Other tunalloc builds (--lib): {others}." if others else ""
    text = (f"Machine: {meta['nproc']} CPUs, {meta['cpu']}, Linux {meta['kernel']}. "
            f"Run {meta['date']}, {meta['rounds']} rounds"
            f"{' (QUICK)' if meta.get('quick') else ''}, scale {meta['scale']}, "
            f"{meta.get('elapsed_s', '?')} s. tunalloc build (sha256): {builds or 'n/a'}."
            f"{others}"
            f"\nCommand: `{meta['command']}`")
    if meta.get("warning"):
        text += f"\n\n**Warning: {meta['warning']}.**"
    return text


def markdown(data):
    """Every table of the report, as one Markdown document section."""
    names = list(data["allocators"])
    head = ["case"] + names
    # a ratio to an allocator the run left out would be n/a throughout
    glibc, own = "glibc" in names, "tunalloc" in names
    parts = [machine_text(data["meta"], data["allocators"]),
             "### Time, median ms (min-max over rounds); lower is better",
             table(head, time_rows(data, names))]
    if glibc:
        parts += ["### Time ratio to glibc (< 1 is faster than glibc)",
                  table(head, ratio_rows(data, names, "time_vs_glibc"))]
    if own:
        parts += ["### Time ratio to tunalloc (preload) (> 1 is slower than tunalloc)",
                  table(head, ratio_rows(data, names, "time_vs_tunalloc")),
                  "### CPU time (user+sys, whole process) ratio to tunalloc (preload); "
                  "less sensitive to machine load than wall time",
                  table(head, ratio_rows(data, names, "cpu_vs_tunalloc"))]
    parts += ["### Peak RSS, median MiB (wait4 ru_maxrss)", table(head, rss_rows(data, names))]
    if own:
        parts += ["### Peak RSS ratio to tunalloc (preload)",
                  table(head, ratio_rows(data, names, "rss_vs_tunalloc"))]
    parts += per_round_tables(data, names, head)
    frag = frag_rows(data, names)
    if frag:
        parts += ["### Fragmentation (frag workload, medians)", table(["ratio"] + names, frag)]
    cg = callgrind_rows(data, names)
    if cg:
        parts += ["### Instructions per malloc+free pair (callgrind, fastpath)",
                  table(["pattern"] + names, cg)]
    cg = callgrind_rows(data, names, "callgrind_threaded")
    if cg:
        parts += ["### Allocator instructions per operation, threaded cases (callgrind: "
                  "per message, per replacement, per block passed)",
                  table(["case"] + names, cg)]
    dec = decay_rows(data)
    if dec:
        parts += ["### Decay: idle process after a freed burst (RSS in MiB)",
                  table(["allocator", "config", "peak", "after free", "after idle",
                         "fell back after (ms)"], dec)]
    return "\n\n".join(parts) + "\n"


def plot(data, path):
    """Grouped bars of time ratio to glibc, log scale, geomean last."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("report: matplotlib is needed for --png "
                         "(pip install matplotlib, or run `make bench-report`)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(data["allocators"])
    groups = [c["name"] for c in data["cases"]] + ["geomean"]
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(max(8, len(groups) * 1.1), 5))
    for i, n in enumerate(names):
        vals = [c["summary"].get(n, {}).get("time_vs_glibc") for c in data["cases"]]
        vals.append(data["geomean"].get(n, {}).get("time_vs_glibc"))
        xs = [g + i * width for g in range(len(groups))]
        ax.bar([x for x, v in zip(xs, vals) if v], [v for v in vals if v], width, label=n)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))])
    ax.set_xticklabels(groups, rotation=35, ha="right")
    ax.set_ylabel("time / glibc time (log, lower is better)")
    ax.set_title("tunalloc benchmark suite: " + data["meta"]["date"])
    ax.legend(fontsize="small", ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def update_docs(path, md):
    """Replaces the text between the markers; the rest of the page is
    hand-written and left alone."""
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text or text.index(BEGIN) > text.index(END):
        raise SystemExit(f"report: {path} lacks the {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + md + END + tail)


def main():
    """Validates the input before writing anything, so a bad file leaves
    the previous report in place."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", help="results written by bench/run.py")
    p.add_argument("--md", help="write the Markdown tables here")
    p.add_argument("--png", help="write the ratio plot here (needs matplotlib)")
    p.add_argument("--docs", help="refresh the table in this Markdown page")
    args = p.parse_args()
    try:
        with open(args.json) as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"report: cannot read {args.json}: {exc}")
    if not isinstance(data, dict) or not {"meta", "allocators", "cases", "geomean"} <= set(data):
        raise SystemExit(f"report: {args.json} is not a bench/run.py result")
    md = markdown(data)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
    if args.png:
        plot(data, args.png)
    if args.docs:
        update_docs(args.docs, md)
    if not (args.md or args.png or args.docs):
        sys.stdout.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
