"""Where the bytes of one pending task go: ``python benchmarks/memory_floor.py``.

Builds 200,000 of each object an hpyx task is made of, one layer at a time
(each layer adds one object to the one before), while every worker is
blocked, and prints the RSS growth per item. The differences between rows
are the cost of each layer, allocator slack included: the floor
`memory_pending` stands on (BENCHMARKS.md, "Memory per pending task").
``--write BENCHMARKS.md`` puts the table in its section there.
"""

from __future__ import annotations

import argparse
import gc

import report
from workloads import block_workers, noop, rss_bytes

import hpyx
from hpyx import _core

N = 200_000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    report.add_write_option(parser)
    args = parser.parse_args()
    rep = report.Report(args.write, report.section_name(__file__))
    hpyx.init()
    ex = hpyx.HPXExecutor()
    gate, blockers = block_workers(ex)
    layers = [
        ("a list slot (the caller's list)", lambda: [None for _ in range(N)]),
        ("+ a finished graph node and its handle", lambda: [_core.ready(None) for _ in range(N)]),
        ("+ an hpyx.Future around it", lambda: [hpyx.ready_future(None) for _ in range(N)]),
        (
            "pending hpyx.async_(noop): + function, queue slot",
            lambda: [hpyx.async_(noop) for _ in range(N)],
        ),
        (
            "pending executor.submit(noop): + executor tracking",
            lambda: [ex.submit(noop) for _ in range(N)],
        ),
    ]
    keep = []
    previous = 0.0
    header = ["layer", "bytes per item", "added by the layer"]
    rows = []
    print(report.markdown_table(header, "lrr", []), flush=True)
    for label, make in layers:
        gc.collect()
        base = rss_bytes()
        keep.append(make())
        per_item = (rss_bytes() - base) / N
        rows.append([label, "%.0f" % per_item, "%+.0f" % (per_item - previous)])
        print("| " + " | ".join(rows[-1]) + " |", flush=True)
        previous = per_item
    gate.set()
    for f in blockers:
        f.result(timeout=60)
    note = "%d items per layer, RSS growth per item." % N
    rep.write(note + "\n\n" + report.markdown_table(header, "lrr", rows))


if __name__ == "__main__":
    main()
