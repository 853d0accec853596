"""The first graph in a process against later ones: ``python benchmarks/first_graph.py``.

A fan-out/fan-in of N tasks (N independent tasks, then one task over all of
their results) is run ``--runs`` times in each of ``--processes`` fresh
processes, after the pool has started and run a few tasks. It prints, per
peer, the median microseconds per task of the first run and of the later
(warm) runs, and their ratio: what the first pipeline a program builds pays
over the ones after it.

    python benchmarks/first_graph.py                 # N = 10,000
    python benchmarks/first_graph.py --n 100000 --processes 3
    python benchmarks/first_graph.py --write BENCHMARKS.md   # into its section there
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import report

HERE = Path(__file__).resolve().parent


def add(*xs):
    return sum(xs)


def tiny(x):
    return x + 1


def fanout_fanin_hpyx(n):
    import hpyx

    t0 = time.perf_counter()
    leaves = [hpyx.async_(tiny, i) for i in range(n)]
    total = hpyx.dataflow(add, *leaves).result()
    dt = time.perf_counter() - t0
    assert total == n * (n + 1) // 2
    return dt


def fanout_fanin_tpe(n, ex):
    import concurrent.futures as cf

    t0 = time.perf_counter()
    leaves = [ex.submit(tiny, i) for i in range(n)]
    cf.wait(leaves)
    total = ex.submit(add, *(f.result() for f in leaves)).result()
    dt = time.perf_counter() - t0
    assert total == n * (n + 1) // 2
    return dt


def one_process(peer, n, runs):
    """Runs in the child: the per-run seconds, first run first."""
    if peer == "hpyx":
        import hpyx

        hpyx.init()
        for f in [hpyx.async_(tiny, i) for i in range(8)]:
            f.result()
        return [fanout_fanin_hpyx(n) for _ in range(runs)]
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor() as ex:
        for f in [ex.submit(tiny, i) for i in range(8)]:
            f.result()
        return [fanout_fanin_tpe(n, ex) for _ in range(runs)]


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        peer, n, runs = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(one_process(peer, n, runs)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=6, help="runs per process (first + warm)")
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--peers", default="hpyx,tpe")
    report.add_write_option(parser)
    args = parser.parse_args()
    rep = report.Report(args.write, report.section_name(__file__))
    note = (
        "A fan-out/fan-in of %d tasks, %d runs in each of %d fresh processes; "
        "medians per task." % (args.n, args.runs, args.processes)
    )
    print(note, flush=True)
    header = ["peer", "first run (us/task)", "warm runs (us/task)", "first / warm"]
    rows = []
    print(report.markdown_table(header, "lrrr", []), flush=True)
    for peer in args.peers.split(","):
        firsts, warms = [], []
        for _ in range(args.processes):
            out = subprocess.run(
                [sys.executable, __file__, "--child", peer, str(args.n), str(args.runs)],
                check=True,
                capture_output=True,
                text=True,
                timeout=600,
            )
            seconds = json.loads(out.stdout)
            firsts.append(seconds[0])
            warms.extend(seconds[1:])
        first = statistics.median(firsts) / args.n * 1e6
        warm = statistics.median(warms) / args.n * 1e6
        rows.append([peer, "%.2f" % first, "%.2f" % warm, "%.2f" % (first / warm)])
        print("| " + " | ".join(rows[-1]) + " |", flush=True)
    rep.write(note + "\n\n" + report.markdown_table(header, "lrrr", rows))


if __name__ == "__main__":
    main()
