"""How RSS grows while pending tasks pile up: ``python benchmarks/memory_steps.py``.

Submits 20 rounds of 5,000 tasks (``--step`` to change) while every worker
is blocked, and after each round prints the RSS growth so far per task: in
all, and the part in transparent huge pages (``AnonHugePages`` in
``/proc/self/smaps``). mimalloc, the extension's allocator, asks for huge
pages for its arenas, so that part grows 2 MiB at a time and
``memory_pending`` at 100k tasks lands anywhere within 2 MiB / 100k = 21 B
of the true cost per task; at 1M, within 2 B. The last line is the slope
of RSS over the pending tasks, the cost of one more (BENCHMARKS.md, "Memory
per pending task"). ``--write BENCHMARKS.md`` puts both in its section there.
"""

from __future__ import annotations

import argparse

import report
from workloads import block_workers, noop

import hpyx


def resident():
    """(RSS, RSS in transparent huge pages), in bytes, from smaps."""
    rss = huge = 0
    with open("/proc/self/smaps") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key == "Rss":
                rss += int(rest.split()[0]) * 1024
            elif key == "AnonHugePages":
                huge += int(rest.split()[0]) * 1024
    return rss, huge


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=20)
    report.add_write_option(parser)
    args = parser.parse_args()
    rep = report.Report(args.write, report.section_name(__file__))
    ex = hpyx.HPXExecutor()
    gate, blockers = block_workers(ex)
    rss0, huge0 = resident()
    pending = []
    points = []
    header = ["pending tasks", "RSS growth per task", "of which in huge pages", "huge pages (MiB)"]
    rows = []
    print(report.markdown_table(header, "rrrr", []), flush=True)
    for i in range(1, args.rounds + 1):
        pending += [ex.submit(noop) for _ in range(args.step)]
        rss, huge = resident()
        n = i * args.step
        points.append((n, rss - rss0))
        rows.append(
            [
                str(n),
                "%.1f B" % ((rss - rss0) / n),
                "%.1f B" % ((huge - huge0) / n),
                str((huge - huge0) >> 20),
            ]
        )
        print("| " + " | ".join(rows[-1]) + " |", flush=True)
    # The marginal cost, which the 2 MiB steps only scatter around.
    mean_n = sum(n for n, _ in points) / len(points)
    mean_b = sum(b for _, b in points) / len(points)
    slope = sum((n - mean_n) * (b - mean_b) for n, b in points) / sum(
        (n - mean_n) ** 2 for n, _ in points
    )
    slope_line = "RSS per additional pending task (least-squares slope): %.1f B." % slope
    print("\n" + slope_line)
    gate.set()
    for f in blockers + pending:
        f.result(timeout=60)
    ex.shutdown()
    rep.write(report.markdown_table(header, "rrrr", rows) + "\n\n" + slope_line)


if __name__ == "__main__":
    main()
