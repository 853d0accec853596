"""Runs the Python benchmarks: hpyx and its peers side by side.

    python benchmarks/run.py                      # default plan, this interpreter
    python benchmarks/run.py --quick              # small sizes, 1 repeat
    python benchmarks/run.py --workloads chain --sizes 10000 --repeat 5

Every (workload, peer, size) runs `--repeat` times, each in a fresh process
(`workloads.py`), with a time limit; the table reports the median time, the
speedup over ThreadPoolExecutor from the same run (TPE time / peer time; >1
means faster than TPE), the peak RSS, and the target the figure is checked
against with its verdict (`targets.py`). The markdown table goes to stdout
and, with `--write BENCHMARKS.md`, into this interpreter's section there
(`report.py`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import report
from targets import target_cell

HERE = Path(__file__).resolve().parent

# workload -> sizes (the plan); "peers" that cannot do a workload are
# left out.
PLAN = {
    "submit_result": [10_000, 100_000, 1_000_000],
    "map": [10_000, 100_000, 1_000_000],
    "chain": [10_000],
    "fanout_fanin": [10_000, 100_000, 1_000_000],
    "dag_random": [100_000],
    "cpu_parallel_long": [8],
    "cpu_parallel_short": [2_000],
    "memory_pending": [100_000, 1_000_000],
    "memory_pending_then": [100_000, 1_000_000],
    "memory_pending_dataflow": [100_000, 1_000_000],
}
QUICK = {k: [min(v)] if k.startswith("cpu") else [min(min(v), 10_000)] for k, v in PLAN.items()}
PEERS = ["tpe", "hpyx", "hpyx-traced", "dask", "serial"]
# `serial` is no executor: the same work evaluated on the calling thread in
# plain Python, the floor for any executor (issue: show the floor where a
# target is out of reach). Only where that floor decides a target.
SERIAL = {"dag_random"}
# The largest n each peer runs (dask's threaded scheduler needs minutes per
# million tasks here; the issue asks for sizes a peer finishes in two minutes).
PEER_MAX = {"dask": 100_000}
# dask's threaded scheduler on the 100k-node random DAG grew to 17 GiB of RSS
# and passed the two-minute limit here (98 s, then killed): left out, it
# risks the machine.
NO_DASK = {"memory_pending", "dag_random"}
# Workloads of hpyx's own graph (a dependent pending on a future): no peer
# has the operation, so the figure stands beside hpyx's memory_pending.
HPYX_ONLY = {"memory_pending_then", "memory_pending_dataflow"}
# Tracing's cost is shown where per-task overhead dominates.
TRACED = {"submit_result", "chain", "fanout_fanin"}


def run_once(workload, peer, n, timeout):
    try:
        out = subprocess.run(
            [sys.executable, str(HERE / "workloads.py"), workload, peer, str(n)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": "timeout > %ds" % timeout}
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1][:80]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(runs, key):
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def fmt_time(s):
    if s is None:
        return "-"
    return "%.3f s" % s if s >= 0.1 else "%.1f ms" % (s * 1e3)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--workloads", nargs="*", default=list(PLAN))
    ap.add_argument("--peers", nargs="*", default=PEERS)
    ap.add_argument("--sizes", nargs="*", type=int)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--quick", action="store_true")
    report.add_write_option(ap)
    args = ap.parse_args()
    rep = report.Report(args.write, report.section_name(__file__))
    plan = QUICK if args.quick else PLAN
    repeat = 1 if args.quick else args.repeat
    python = report.interpreter_tag()

    header = ["workload", "n", "peer", "median time", "vs TPE", "peak RSS", "extra", "target"]
    rows = []
    print(report.markdown_table(header, "lrlrrrll", []), flush=True)
    for workload in args.workloads:
        for n in args.sizes or plan[workload]:
            results = {}
            for peer in args.peers:
                if peer == "dask" and workload in NO_DASK:
                    continue
                if peer != "hpyx" and workload in HPYX_ONLY:
                    continue
                if peer == "hpyx-traced" and workload not in TRACED:
                    continue
                if peer == "serial" and workload not in SERIAL:
                    continue
                if n > PEER_MAX.get(peer, n):
                    continue
                runs = [run_once(workload, peer, n, args.timeout) for _ in range(repeat)]
                ok = [r for r in runs if "error" not in r]
                results[peer] = (ok, runs)
            tpe_time = median_of(results.get("tpe", ([], []))[0], "seconds")
            hpyx_time = median_of(results.get("hpyx", ([], []))[0], "seconds")
            for peer, (ok, runs) in results.items():
                t = median_of(ok, "seconds")
                figures = {key: median_of(ok, key) for key in ("speedup", "bytes_per_task")}
                if t and tpe_time:
                    figures["vs_tpe"] = tpe_time / t
                if t and hpyx_time:
                    figures["vs_hpyx"] = t / hpyx_time
                extra = []
                if figures["speedup"] is not None:
                    extra.append("speedup %.2f" % figures["speedup"])
                if figures["bytes_per_task"] is not None:
                    extra.append("bytes_per_task %.0f" % figures["bytes_per_task"])
                if peer == "hpyx-traced" and "vs_hpyx" in figures:
                    extra.append("%.2fx hpyx's time" % figures["vs_hpyx"])
                errors = [r["error"] for r in runs if "error" in r]
                if errors:
                    extra.append(errors[0])
                rss = median_of(ok, "peak_rss")
                row = [
                    workload,
                    str(n),
                    peer,
                    fmt_time(t),
                    "%.1fx" % figures["vs_tpe"] if "vs_tpe" in figures else "-",
                    "%.0f MiB" % (rss / 2**20) if rss else "-",
                    ", ".join(extra),
                    target_cell(workload, n, peer, figures, python),
                ]
                rows.append(row)
                print("| " + " | ".join(row) + " |", flush=True)
    note = (
        "Each figure is the median of %d runs, each in a fresh process." % repeat
        if repeat > 1
        else "Each figure is one run in a fresh process."
    )
    rep.write(note + "\n\n" + report.markdown_table(header, "lrlrrrll", rows))


if __name__ == "__main__":
    main()
