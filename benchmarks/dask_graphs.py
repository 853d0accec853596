"""dask graphs on every local scheduler, side by side, with ratios.

    .venv/bin/python benchmarks/dask_graphs.py [--repeat 3] [--tasks 100000] [--write BENCHMARKS.md]

Peers: dask's ``"sync"`` and ``"threads"``, ``HPXExecutor`` driven through
dask's own scheduling loop (``dask.local.get_async(executor.submit, ...)``,
what an executor passed to dask ran before hpyx had a scheduler of its
own), frisky (a Rust dask scheduler, through a ``LocalCluster(processes=
False)`` client's ``get``, when it is installed), ``hpyx.dask.get``, and a
*floor*: the same tasks' functions called in a topological order on one
thread, with no bookkeeping at all. Each peer gets the same graph dict
(made before timing, as dask hands it to a scheduler); the timed region is
the ``get`` call. Figures: median wall seconds of ``--repeat`` runs, per task,
the ratio to hpyx (the peer's time over hpyx's), and the process's CPU
seconds (every thread: on a busy machine the wall time also counts waiting
for a core). ``--write BENCHMARKS.md`` puts the table in its section there
(``report.py``).

Workloads: a random delayed graph (layers of 1,000 tasks, each with 1-3
inputs from the layer before, one sink over the tasks nothing depends on);
dask.array ``(x + x.T).sum()`` and ``x.dot(x.T).mean()`` on 2000x2000 in
50x50 chunks; a dask.bag word count.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time

import dask
import dask.local
import report
from dask._task_spec import Task, TaskRef, convert_legacy_graph

import hpyx
import hpyx.dask


def tiny(*xs):
    return len(xs)


def sink(*xs):
    return sum(xs)


def random_graph(n_tasks, width=1000, seed=0):
    """The graph dict ``dask.delayed`` makes for such a graph (``Task``s
    referring to their inputs by ``TaskRef``, string keys), built directly:
    building 100,000 ``Delayed`` objects one by one takes minutes."""
    rng = random.Random(seed)
    dsk = {}
    prev = []
    used = set()
    layer_no = 0
    while len(dsk) < n_tasks - 1:
        layer = []
        for i in range(min(width, n_tasks - 1 - len(dsk))):
            key = f"tiny-{layer_no}-{i}"
            inputs = rng.sample(prev, rng.randint(1, 3)) if prev else []
            used.update(inputs)
            dsk[key] = Task(key, tiny, *(TaskRef(k) for k in inputs))
            layer.append(key)
        prev = layer
        layer_no += 1
    leaves = [k for k in dsk if k not in used]
    dsk["sink"] = Task("sink", sink, *(TaskRef(k) for k in leaves))
    return dsk, "sink"


def array_sum():
    import dask.array as da

    x = da.random.default_rng(0).random((2000, 2000), chunks=(50, 50))
    return (x + x.T).sum()


def array_dot():
    import dask.array as da

    x = da.random.default_rng(0).random((2000, 2000), chunks=(50, 50))
    return x.dot(x.T).mean()


def bag_wordcount():
    import dask.bag as db

    rng = random.Random(0)
    words = [f"w{i}" for i in range(500)]
    lines = [" ".join(rng.choices(words, k=20)) for _ in range(200_000)]
    b = db.from_sequence(lines, npartitions=200)
    return b.str.split().flatten().frequencies()


def graph_of(collection):
    """The graph dict and keys ``dask.compute`` hands a scheduler."""
    (collection,) = dask.optimize(collection)
    dsk = dict(collection.__dask_graph__())
    keys = collection.__dask_keys__()
    return dsk, keys


def floor_get(dsk, keys):
    """The tasks' functions in a topological order on this thread."""
    dsk = convert_legacy_graph(dsk)
    order = []
    seen = set()
    for key in dask.core.flatten(keys) if isinstance(keys, list) else [keys]:
        stack = [(key, False)]
        while stack:
            k, expanded = stack.pop()
            if expanded:
                order.append(k)
                continue
            if k in seen:
                continue
            seen.add(k)
            stack.append((k, True))
            stack.extend((d, False) for d in dsk[k].dependencies if d not in seen)
    values = {}
    start = time.perf_counter()
    for k in order:
        node = dsk[k]
        values[k] = node({d: values[d] for d in node.dependencies})
    return time.perf_counter() - start


_frisky = {}


def frisky_get():
    """frisky's in-process cluster (made once) and its client's ``get``."""
    if "get" in _frisky:
        return _frisky["get"], None
    try:
        import frisky
    except ImportError:
        return None, "not installed for this interpreter"
    try:
        cluster = frisky.LocalCluster(processes=False, silence_summary=True)
        client = cluster.get_client()
    except Exception as e:
        return None, f"failed to start ({type(e).__name__}: {e})"
    _frisky.update(cluster=cluster, client=client, get=client.get)
    return client.get, None


def executor_loop_get(dsk, keys):
    ex = hpyx.HPXExecutor()
    return dask.local.get_async(ex.submit, ex._max_workers, dsk, keys)


def timed(get, dsk, keys, repeat):
    """Median wall and process CPU seconds (all threads) of ``repeat`` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        get(dsk, keys)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


# hpyx.dask.get's target on the random graph: wall microseconds per task.
RANDOM_TARGET_US = 3.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--only", default=None, help="comma-separated workloads")
    parser.add_argument("--peers", default=None, help="comma-separated peers")
    report.add_write_option(parser)
    args = parser.parse_args()
    rep = report.Report(args.write, report.section_name(__file__))

    hpyx.init()
    workloads = {
        "random": lambda: random_graph(args.tasks),
        "array_sum": array_sum,
        "array_dot": array_dot,
        "bag_wordcount": bag_wordcount,
    }
    peers = {
        "floor": None,
        "sync": dask.local.get_sync,
        "threads": dask.threaded.get,
        "hpx_executor_loop": executor_loop_get,
        "frisky": "frisky",
        "hpyx": hpyx.dask.get,
    }
    if args.only:
        workloads = {k: v for k, v in workloads.items() if k in args.only.split(",")}
    if args.peers:
        peers = {k: v for k, v in peers.items() if k in args.peers.split(",")}
    runs = "median of %d runs" % args.repeat if args.repeat > 1 else "one run"
    setting = "%d hpyx workers, %s." % (hpyx._core.pool_size(), runs)
    print(setting, flush=True)
    rows = []
    for name, make in workloads.items():
        made = make()
        dsk, keys = made if isinstance(made, tuple) else graph_of(made)
        n = len(dsk)
        results = {}
        for peer, get in peers.items():
            if peer == "floor":
                t = statistics.median(floor_get(dsk, keys) for _ in range(args.repeat))
                results[peer] = (t, None)
                continue
            if get == "frisky":
                get, why = frisky_get()
                if get is None:
                    results[peer] = why
                    continue
            results[peer] = timed(get, dsk, keys, args.repeat)
        base = results.get("hpyx")
        for peer, result in results.items():
            if isinstance(result, str):
                row = [name, str(n), peer, "-", "-", "-", "-", result]
            else:
                wall, cpu = result
                per_task = wall / n * 1e6
                target = ""
                if name == "random" and peer == "hpyx":
                    target = "<= %.0f us per task: %s" % (
                        RANDOM_TARGET_US,
                        "met" if per_task <= RANDOM_TARGET_US else "not met",
                    )
                row = [
                    name,
                    str(n),
                    peer,
                    "%.3f" % wall,
                    "%.2f" % per_task,
                    "%.2fx" % (wall / base[0]) if isinstance(base, tuple) else "-",
                    "-" if cpu is None else "%.3f" % cpu,
                    target,
                ]
            rows.append(row)
            print("| " + " | ".join(row) + " |", flush=True)
    table = report.markdown_table(
        ["workload", "tasks", "peer", "wall s", "us per task", "vs hpyx", "cpu s", "target"],
        "lrlrrrrl",
        rows,
    )
    print("\n" + table)
    rep.write(setting + "\n\n" + table)


if __name__ == "__main__":
    main()
