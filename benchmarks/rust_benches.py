"""Runs the Rust crates' criterion benchmarks and tabulates them against rayon.

    python benchmarks/rust_benches.py                         # every group
    python benchmarks/rust_benches.py --measurement-time 1    # shorter runs
    python benchmarks/rust_benches.py --groups spawn random --write BENCHMARKS.md

Each group runs in its own ``cargo bench`` process: after the chain and the
tree have each allocated and freed a million nodes, glibc's heap is
fragmented and the random DAG runs up to 1.7x slower in the same process.
The figures are read from criterion's own results (``estimates.json``, the
median time per iteration) and divided by the jobs or nodes per iteration.
``--write BENCHMARKS.md`` puts the table in its section (``rust``) there
(``report.py``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import report

ROOT = Path(__file__).resolve().parents[1]

# group -> (package, bench target, criterion filter): one process each.
GROUPS = {
    "spawn": ("hpyx-engine", "spawn", "spawn_"),
    "chain": ("hpyx-graph", "dag", "chain/"),
    "tree": ("hpyx-graph", "dag", "tree/"),
    "random": ("hpyx-graph", "dag", "random/"),
    "random-mimalloc": ("hpyx-graph", "dag_mimalloc", "random-mimalloc/"),
}

# criterion group -> the rayon benchmark hpyx's row is compared with.
PEER = {
    "spawn_outside": "rayon",
    "spawn_inside": "rayon",
    "chain": "rayon-spawn",
    "tree": "rayon-join",
    "random": "rayon-layers",
    "random-mimalloc": "rayon-layers",
}

# (criterion group, function) -> (target, check on (hpyx ns, peer ns)).
TARGETS = {
    ("spawn_outside", "hpyx"): ("within 2x of rayon", lambda h, r: h <= 2 * r),
    ("spawn_inside", "hpyx"): ("within 2x of rayon", lambda h, r: h <= 2 * r),
    ("random", "hpyx"): ("<= 100 ns per node", lambda h, r: h <= 100),
}


def target_directory():
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(json.loads(out.stdout)["target_directory"])


def run_group(group, args):
    package, bench, name_filter = GROUPS[group]
    cmd = ["cargo", "bench", "-p", package, "--bench", bench, "--", name_filter, "--noplot"]
    if args.measurement_time is not None:
        cmd += ["--measurement-time", str(args.measurement_time)]
    if args.warm_up_time is not None:
        cmd += ["--warm-up-time", str(args.warm_up_time)]
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    # criterion's report goes to stderr with cargo's, the table to stdout.
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=sys.stderr)


def results_since(criterion_dir, since):
    """(group, function, elements per iteration, median ns per iteration) of
    every benchmark criterion finished after ``since``, in running order."""
    found = []
    for estimates in criterion_dir.glob("*/*/*/new/estimates.json"):
        mtime = estimates.stat().st_mtime
        if mtime < since:
            continue
        meta = json.loads((estimates.parent / "benchmark.json").read_text())
        median = json.loads(estimates.read_text())["median"]["point_estimate"]
        elements = (meta.get("throughput") or {}).get("Elements") or 1
        found.append((mtime, meta["group_id"], meta["function_id"], elements, median))
    return [r[1:] for r in sorted(found)]


def fmt_ns(ns):
    if ns >= 1e9:
        return "%.2f s" % (ns / 1e9)
    if ns >= 1e6:
        return "%.1f ms" % (ns / 1e6)
    return "%.1f us" % (ns / 1e3)


def table(results):
    per = {(g, f): median / elements for g, f, elements, median in results}
    rows = []
    for group, function, elements, median in results:
        ns = median / elements
        hpyx = per.get((group, "hpyx"))
        ratio = "%.2fx" % (hpyx / ns) if hpyx is not None and function != "hpyx" else ""
        target = ""
        if (group, function) in TARGETS:
            what, met = TARGETS[(group, function)]
            peer = per.get((group, PEER[group]))
            target = "%s: %s" % (what, "met" if peer is not None and met(ns, peer) else "not met")
        unit = "job" if group.startswith("spawn") else "node"
        rows.append(
            [
                "%s/%s" % (group, function),
                "{:,}".format(elements),
                fmt_ns(median),
                "%.1f ns per %s" % (ns, unit),
                ratio,
                target,
            ]
        )
    header = ["benchmark", "jobs or nodes", "per iteration", "per job or node", "hpyx / this"]
    return report.markdown_table([*header, "target"], "lrrrrl", rows)


def rustc_version():
    out = subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split()[:2])


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", nargs="*", default=list(GROUPS), choices=list(GROUPS))
    parser.add_argument(
        "--measurement-time", type=float, help="seconds per benchmark (default: the bench's own)"
    )
    parser.add_argument("--warm-up-time", type=float, help="seconds (default: the bench's own)")
    report.add_write_option(parser)
    args = parser.parse_args()
    rep = report.Report(args.write, "rust", interpreter_name=rustc_version())
    criterion_dir = target_directory() / "criterion"
    # Compile first, so that building is not counted in any figure's window.
    for package, bench in sorted({(p, b) for p, b, _ in (GROUPS[g] for g in args.groups)}):
        subprocess.run(
            ["cargo", "bench", "-p", package, "--bench", bench, "--no-run"],
            cwd=ROOT,
            check=True,
            stdout=sys.stderr,
        )
    # Criterion's files carry whole seconds on some filesystems: start after a tick.
    since = time.time() - 1
    for group in args.groups:
        run_group(group, args)
    results = results_since(criterion_dir, since)
    if not results:
        raise SystemExit("criterion wrote no results under %s" % criterion_dir)
    settings = (
        "the bench's own (2 s for spawn, 3 s for the DAGs)"
        if args.measurement_time is None
        else "%g s" % args.measurement_time
    )
    note = (
        "criterion's median time per iteration, divided by the jobs or nodes per "
        "iteration; 2 workers in every pool; each group in its own process; "
        "criterion's measurement time per benchmark: %s." % settings
    )
    out = table(results)
    print(out)
    rep.write(note + "\n\n" + out)


if __name__ == "__main__":
    main()
