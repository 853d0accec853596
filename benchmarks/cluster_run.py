"""hpyx on a dask.distributed cluster against raw dask.distributed.

    python benchmarks/cluster_run.py                  # the default plan
    python benchmarks/cluster_run.py --repeat 5 --write BENCHMARKS.md

One ``LocalCluster`` (2 worker processes, 1 thread each, 127.0.0.1) and one
client serve every run; each workload runs three ways with that client:

- ``hpyx``: the hpyx program (``async_``, ``Future.then``, ``dataflow``,
  ``when_all``) after ``hpyx.init(cluster=client)``;
- ``submit``: raw ``client.submit`` per node, futures as arguments;
- ``get``: raw ``client.get`` on the whole graph as one dict.

Workloads: a 1,000-step chain, a 10,000-task fan-out/fan-in and a
10,000-node random DAG, each built completely before its first result. The
table shows the median wall time of ``--repeat`` runs (from the first node
built to the final result), hpyx's time over each raw one (<1: hpyx is
faster), how long building the graph took (until the first result was
asked for), and the target the workload is checked against. Between runs
the scheduler is left to forget every task. ``--write`` puts the table in
its section of BENCHMARKS.md (``report.py``).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from pathlib import Path

import distributed
import report

import hpyx

# The test suite's cluster: 2 worker processes, 1 thread each, 127.0.0.1.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
from _cluster_helpers import local_cluster


def inc(x):
    return x + 1


def total(*values):
    return sum(values) % 1_000_003


def add_all(values):
    return sum(values) % 1_000_003


def random_dag(n, seed=7):
    """Node i depends on 1-3 of the 200 nodes before it; the last node sums
    every node that nothing else depends on (so it needs them all)."""
    rng = random.Random(seed)
    deps = [[]]
    for i in range(1, n):
        window = range(max(0, i - 200), i)
        deps.append(rng.sample(window, min(len(window), rng.randint(1, 3))))
    used = {d for ds in deps for d in ds}
    sinks = [i for i in range(n) if i not in used]
    return deps, sinks


# -- the three ways ---------------------------------------------------------------
# Each builds its graph, then calls built(wait, ...): the answer and the
# moment the graph was complete (before the first result was asked for).


def built(wait, *args):
    return time.perf_counter(), wait(*args)


def chain_hpyx(client, n):
    f = hpyx.async_(inc, 0)
    for _ in range(n - 1):
        f = f.then(inc)
    return built(f.result)


def chain_submit(client, n):
    f = client.submit(inc, 0, pure=False)
    for _ in range(n - 1):
        f = client.submit(inc, f, pure=False)
    return built(f.result)


def chain_get(client, n):
    dsk = {"c-0": (inc, 0)}
    for i in range(1, n):
        dsk["c-%d" % i] = (inc, "c-%d" % (i - 1))
    return built(client.get, dsk, "c-%d" % (n - 1))


def fan_hpyx(client, n):
    parts = [hpyx.async_(inc, i) for i in range(n)]
    return built(hpyx.dataflow(total, *parts).result)


def fan_submit(client, n):
    parts = [client.submit(inc, i, pure=False) for i in range(n)]
    return built(client.submit(total, *parts, pure=False).result)


def fan_get(client, n):
    dsk = {("p", i): (inc, i) for i in range(n)}
    dsk["t"] = (total, *[("p", i) for i in range(n)])
    return built(client.get, dsk, "t")


def dag_hpyx(client, n):
    deps, sinks = random_dag(n)
    nodes = [hpyx.async_(inc, 0)]
    for ds in deps[1:]:
        nodes.append(hpyx.dataflow(total, *[nodes[d] for d in ds]))
    return built(hpyx.dataflow(total, *[nodes[s] for s in sinks]).result)


def dag_submit(client, n):
    deps, sinks = random_dag(n)
    nodes = [client.submit(inc, 0, pure=False)]
    for ds in deps[1:]:
        nodes.append(client.submit(total, *[nodes[d] for d in ds], pure=False))
    return built(client.submit(total, *[nodes[s] for s in sinks], pure=False).result)


def dag_get(client, n):
    deps, sinks = random_dag(n)
    dsk = {("d", 0): (inc, 0)}
    for i, ds in enumerate(deps[1:], 1):
        dsk[("d", i)] = (total, *[("d", d) for d in ds])
    dsk["t"] = (total, *[("d", s) for s in sinks])
    return built(client.get, dsk, "t")


WORKLOADS = {
    "chain": (1_000, {"hpyx": chain_hpyx, "submit": chain_submit, "get": chain_get}),
    "fanout_fanin": (10_000, {"hpyx": fan_hpyx, "submit": fan_submit, "get": fan_get}),
    "dag_random": (10_000, {"hpyx": dag_hpyx, "submit": dag_submit, "get": dag_get}),
}


def tasks_left(dask_scheduler):
    """Runs on the scheduler: how many tasks it still has, and a few of them
    with their state and how many clients want them."""
    sample = [
        "%s (%s, wanted by %d)" % (key, ts.state, len(ts.who_wants))
        for key, ts in list(dask_scheduler.tasks.items())[:3]
    ]
    return len(dask_scheduler.tasks), sample


def settle(client, way, timeout=120):
    """Waits until the scheduler has forgotten every task of the last run
    (``way``, e.g. ``chain/hpyx``), or says which it kept. A collection
    first: dask's futures of a raw run sit in reference cycles of its event
    loop, which the free-threaded build's collector may leave for minutes
    (hpyx's futures release their tasks without one)."""
    gc.collect()
    deadline = time.monotonic() + timeout
    while True:
        count, sample = client.run_on_scheduler(tasks_left)
        if not count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                "the scheduler kept %d tasks for %d s after the %s run: %s"
                % (count, timeout, way, "; ".join(sample))
            )
        time.sleep(0.05)


# workload -> (what, the ratio it reads, bound): per-node overhead against
# raw client.submit, and the gain batching must bring on the random DAG.
TARGETS = {
    "chain": ("hpyx / submit <= 1.2x", lambda h, s: h / s <= 1.2),
    "fanout_fanin": ("hpyx / submit <= 1.2x", lambda h, s: h / s <= 1.2),
    "dag_random": ("hpyx at least 3x faster than submit", lambda h, s: s / h >= 3),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS))
    report.add_write_option(parser)
    args = parser.parse_args()
    rep = report.Report(args.write, report.section_name(__file__))

    rows = []
    previous = "first"
    print(_HEADER, flush=True)
    with local_cluster() as cluster, distributed.Client(cluster, set_as_default=False) as client:
        hpyx.init(cluster=client)
        try:
            for name in args.workloads:
                n, ways = WORKLOADS[name]
                times, builds, answers = {}, {}, set()
                for _ in range(args.repeat):
                    for way, fn in ways.items():
                        settle(client, previous)
                        previous = "%s/%s" % (name, way)
                        start = time.perf_counter()
                        built_at, answer = fn(client, n)
                        times.setdefault(way, []).append(time.perf_counter() - start)
                        builds.setdefault(way, []).append(built_at - start)
                        answers.add(answer)
                if len(answers) != 1:
                    raise AssertionError("%s: the ways disagree: %s" % (name, answers))
                median = {way: statistics.median(ts) for way, ts in times.items()}
                build = {way: statistics.median(ts) for way, ts in builds.items()}
                rows.append((name, n, median, build))
                print(_row(name, n, median, build), flush=True)
        finally:
            hpyx.shutdown()
    note = "A LocalCluster of 2 worker processes, 1 thread each, on 127.0.0.1; " + (
        "medians of %d runs." % args.repeat if args.repeat > 1 else "one run."
    )
    rep.write(note + "\n\n" + "\n".join([_HEADER, *(_row(*row) for row in rows)]))


_HEADER = (
    "| workload | nodes | hpyx | raw submit | raw get | hpyx / submit | hpyx / get "
    "| built in (hpyx / submit / get) | target |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
)


def _row(name, n, median, build):
    h, s, g = median["hpyx"], median["submit"], median["get"]
    what, met = TARGETS[name]
    verdict = "%s: %s" % (what, "met" if met(h, s) else "not met")
    return "| %s | %d | %.2f s | %.2f s | %.2f s | %.2fx | %.2fx | %.2f / %.2f / %.2f s | %s |" % (
        name,
        n,
        h,
        s,
        g,
        h / s,
        h / g,
        build["hpyx"],
        build["submit"],
        build["get"],
        verdict,
    )


if __name__ == "__main__":
    main()
