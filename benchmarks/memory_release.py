"""What a pipeline of large values holds once it is done: ``python benchmarks/memory_release.py``.

A chain of 50 ``dataflow`` steps, each consuming the previous step's value
and an 8 MiB value made by its own ``async_``, with no Python reference to
the intermediates. Prints how many of the 101 values are still alive and the
RSS growth right after the final ``result()``, and again after
``gc.collect()``. Values are anonymous ``mmap`` buffers (their pages go back
to the system when they are freed, as a numpy array's large buffer does), so
RSS shows what is alive. The cycle collector is disabled until the explicit
collection, so only reference counting frees anything before it.
``--write BENCHMARKS.md`` puts the table in its section there.
"""

from __future__ import annotations

import argparse
import gc
import mmap
import weakref

import report
from workloads import rss_bytes

import hpyx

MiB = 1 << 20
STEPS = 50
made = []


def big():
    m = mmap.mmap(-1, 8 * MiB)
    for offset in range(0, len(m), 4096):
        m[offset] = 1
    made.append(weakref.ref(m))
    return m


def step(previous, own):
    return big()


def alive():
    return sum(ref() is not None for ref in made)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    report.add_write_option(parser)
    args = parser.parse_args()
    rep = report.Report(args.write, report.section_name(__file__))
    gc.disable()
    hpyx.async_(len, "").result()
    base = rss_bytes()
    x = hpyx.async_(big)
    for _ in range(STEPS):
        x = hpyx.dataflow(step, x, hpyx.async_(big))
    result = x.result()
    del x
    header = ["when", "values alive", "RSS growth"]
    rows = [["after the final `result()`", "%d of %d" % (alive(), len(made))]]
    rows[-1].append("+%.0f MiB" % ((rss_bytes() - base) / MiB))
    gc.collect()
    rows.append(["after `gc.collect()`", "%d of %d" % (alive(), len(made))])
    rows[-1].append("+%.0f MiB" % ((rss_bytes() - base) / MiB))
    del result
    table = report.markdown_table(header, "lrr", rows)
    print(table)
    rep.write(table)


if __name__ == "__main__":
    main()
