"""One benchmark run: ``python workloads.py WORKLOAD PEER N`` prints JSON.

Each run is a fresh process, so pools, caches and allocator state never leak
from one measurement into the next. Output: ``{"seconds": ..., "peak_rss":
..., **extra}``; ``seconds`` covers building and running the workload, not
interpreter start-up or imports.
"""

from __future__ import annotations

import json
import random
import resource
import sys
import threading
import time


def noop():
    return None


def tiny(x):
    return x + 1


def add(*xs):
    return sum(xs)


def spin(iterations):
    x = 0
    for i in range(iterations):
        x += i * i
    return x


# --- peers ---------------------------------------------------------------------


class Peer:
    """The executor-style interface every peer offers to the workloads."""

    name = "?"

    def executor(self):
        raise NotImplementedError


class TPE(Peer):
    name = "tpe"

    def executor(self):
        import concurrent.futures as cf

        return cf.ThreadPoolExecutor()


class HPYX(Peer):
    name = "hpyx"

    def executor(self):
        import hpyx

        return hpyx.HPXExecutor()


def dask_get(dsk, keys):
    import dask.threaded

    return dask.threaded.get(dsk, keys)


# --- workloads -------------------------------------------------------------------
# Each returns (seconds, extra-dict).


def submit_result(peer, n):
    if peer == "dask":
        dsk = {("t", i): (noop,) for i in range(n)}
        t0 = time.perf_counter()
        dask_get(dsk, list(dsk))
        return time.perf_counter() - t0, {}
    ex = PEERS[peer]().executor()
    t0 = time.perf_counter()
    futures = [ex.submit(noop) for _ in range(n)]
    for f in futures:
        f.result()
    dt = time.perf_counter() - t0
    ex.shutdown()
    return dt, {}


def map_(peer, n):
    if peer == "dask":
        dsk = {("t", i): (tiny, i) for i in range(n)}
        t0 = time.perf_counter()
        dask_get(dsk, list(dsk))
        return time.perf_counter() - t0, {}
    ex = PEERS[peer]().executor()
    t0 = time.perf_counter()
    out = list(ex.map(tiny, range(n)))
    dt = time.perf_counter() - t0
    assert out[-1] == n
    ex.shutdown()
    return dt, {}


def chain(peer, n):
    if peer == "dask":
        dsk = {("c", 0): 0}
        dsk.update({("c", i): (tiny, ("c", i - 1)) for i in range(1, n)})
        t0 = time.perf_counter()
        assert dask_get(dsk, ("c", n - 1)) == n - 1
        return time.perf_counter() - t0, {}
    if peer == "hpyx":
        import hpyx

        hpyx.init()
        t0 = time.perf_counter()
        f = hpyx.ready_future(0)
        for _ in range(n - 1):
            f = f.then(tiny)
        assert f.result() == n - 1
        return time.perf_counter() - t0, {}
    ex = PEERS[peer]().executor()
    t0 = time.perf_counter()
    v = 0
    for _ in range(n - 1):
        v = ex.submit(tiny, v).result()
    dt = time.perf_counter() - t0
    assert v == n - 1
    ex.shutdown()
    return dt, {}


def fanout_fanin(peer, n):
    if peer == "dask":
        dsk = {("t", i): (tiny, i) for i in range(n)}
        dsk["total"] = (sum, list(dsk))
        t0 = time.perf_counter()
        total = dask_get(dsk, "total")
        dt = time.perf_counter() - t0
    elif peer == "hpyx":
        import hpyx

        hpyx.init()
        t0 = time.perf_counter()
        parts = [hpyx.async_(tiny, i) for i in range(n)]
        total = hpyx.when_all(parts).then(sum).result()
        dt = time.perf_counter() - t0
    else:
        ex = PEERS[peer]().executor()
        t0 = time.perf_counter()
        parts = [ex.submit(tiny, i) for i in range(n)]
        total = ex.submit(sum, [f.result() for f in parts]).result()
        dt = time.perf_counter() - t0
        ex.shutdown()
    assert total == n * (n + 1) // 2
    return dt, {}


def random_dag(n, width=1000, seed=42):
    """Layers of `width` nodes, each with 1 to 3 inputs from the layer before."""
    rng = random.Random(seed)
    layers = [[()] * width]
    while sum(len(layer) for layer in layers) < n:
        layers.append([tuple(rng.sample(range(width), rng.randint(1, 3))) for _ in range(width)])
    return layers


def dag_random(peer, n):
    layers = random_dag(n)
    if peer == "dask":
        dsk = {}
        for li, layer in enumerate(layers):
            for j, inputs in enumerate(layer):
                dsk[(li, j)] = (add, *[(li - 1, k) for k in inputs]) if inputs else 1
        last = [(len(layers) - 1, j) for j in range(len(layers[-1]))]
        t0 = time.perf_counter()
        out = dask_get(dsk, last)
        dt = time.perf_counter() - t0
        check = sum(out)
    elif peer == "serial":
        # No executor at all: the DAG evaluated in order on this thread, the
        # same list of inputs and call of `add` per node. An executor's
        # per-node work (a future, a node, a hand-off to a thread) comes on
        # top of this.
        t0 = time.perf_counter()
        prev = [1] * len(layers[0])
        for layer in layers[1:]:
            prev = [add(*[prev[k] for k in inputs]) for inputs in layer]
        check = sum(prev)
        dt = time.perf_counter() - t0
    elif peer == "hpyx":
        import hpyx

        hpyx.init()
        t0 = time.perf_counter()
        prev = [hpyx.ready_future(1) for _ in layers[0]]
        for layer in layers[1:]:
            prev = [hpyx.dataflow(add, *[prev[k] for k in inputs]) for inputs in layer]
        check = sum(hpyx.when_all(prev).result())
        dt = time.perf_counter() - t0
    else:
        # No DAG scheduler: resolve layer by layer, as a TPE user would.
        ex = PEERS[peer]().executor()
        t0 = time.perf_counter()
        prev = [1] * len(layers[0])
        for layer in layers[1:]:
            fs = [ex.submit(add, *[prev[k] for k in inputs]) for inputs in layer]
            prev = [f.result() for f in fs]
        check = sum(prev)
        dt = time.perf_counter() - t0
        ex.shutdown()
    return dt, {"check": check}


def calibrate(seconds):
    """Iterations of `spin` that take about `seconds` here."""
    n = 10_000
    while True:
        t0 = time.perf_counter()
        spin(n)
        dt = time.perf_counter() - t0
        if dt > 0.05:
            return max(1, int(n * seconds / dt))
        n *= 2


def cpu_parallel(peer, n, task_seconds):
    iters = calibrate(task_seconds)
    t0 = time.perf_counter()
    for _ in range(min(n, 4)):
        spin(iters)
    serial = (time.perf_counter() - t0) / min(n, 4) * n
    if peer == "dask":
        dsk = {("t", i): (spin, iters) for i in range(n)}
        t0 = time.perf_counter()
        dask_get(dsk, list(dsk))
        dt = time.perf_counter() - t0
    else:
        ex = PEERS[peer]().executor()
        t0 = time.perf_counter()
        for f in [ex.submit(spin, iters) for _ in range(n)]:
            f.result()
        dt = time.perf_counter() - t0
        ex.shutdown()
    return dt, {"speedup": serial / dt}


def cpu_parallel_long(peer, n):
    return cpu_parallel(peer, n, 0.25)


def cpu_parallel_short(peer, n):
    return cpu_parallel(peer, n, 50e-6)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def block_workers(ex):
    """Blocks every worker of `ex` on one gate: returns (gate, blockers).

    64 blockers, more than any pool here has workers, so every task
    submitted after them stays pending until `gate.set()`.
    """
    gate = threading.Event()
    blockers = [ex.submit(gate.wait, 60) for _ in range(64)]
    time.sleep(0.2)
    return gate, blockers


def memory_pending(peer, n):
    """RSS per task submitted while every worker is blocked on one gate."""
    if peer == "dask":
        raise SystemExit("dask has no submit-while-blocked mode")
    ex = PEERS[peer]().executor()
    gate, blockers = block_workers(ex)
    base = rss_bytes()
    t0 = time.perf_counter()
    pending = [ex.submit(noop) for _ in range(n)]
    dt = time.perf_counter() - t0
    grown = rss_bytes() - base
    gate.set()
    for f in blockers + pending:
        f.result(timeout=120)
    ex.shutdown()
    return dt, {"bytes_per_task": grown / n}


def memory_pending_then(peer, n):
    """RSS per dependent (`then`) pending on one unfinished future."""
    return pending_dependents(peer, n, lambda hpyx, gate: gate.then(noop_value))


def memory_pending_dataflow(peer, n):
    """RSS per dependent (`dataflow`) pending on one unfinished future."""
    return pending_dependents(peer, n, lambda hpyx, gate: hpyx.dataflow(noop_value, gate))


def pending_dependents(peer, n, make):
    """RSS per node that `make(hpyx, gate)` adds, pending on one unfinished
    future (`gate`), and the time to make `n` of them."""
    if peer != "hpyx":
        raise SystemExit("only hpyx has dependents")
    import hpyx

    gate = hpyx.Future()
    base = rss_bytes()
    t0 = time.perf_counter()
    pending = [make(hpyx, gate) for _ in range(n)]
    dt = time.perf_counter() - t0
    grown = rss_bytes() - base
    gate.set_result(None)
    for f in pending:
        f.result(timeout=120)
    return dt, {"bytes_per_task": grown / n}


def noop_value(value):
    return None


PEERS = {"tpe": TPE, "hpyx": HPYX}

WORKLOADS = {
    "submit_result": submit_result,
    "map": map_,
    "chain": chain,
    "fanout_fanin": fanout_fanin,
    "dag_random": dag_random,
    "cpu_parallel_long": cpu_parallel_long,
    "cpu_parallel_short": cpu_parallel_short,
    "memory_pending": memory_pending,
    "memory_pending_then": memory_pending_then,
    "memory_pending_dataflow": memory_pending_dataflow,
}


def main():
    workload, peer, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if peer == "hpyx-traced":
        # hpyx with task tracing on: the same workload, every finished task
        # written as a JSON line (issue: tracing costs < 2x).
        import atexit
        import os
        import tempfile

        import hpyx

        fd, path = tempfile.mkstemp(suffix=".jsonl")
        os.close(fd)
        atexit.register(os.remove, path)
        hpyx.debug.enable_tracing(path)
        peer = "hpyx"
    seconds, extra = WORKLOADS[workload](peer, n)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak_rss": peak, **extra}))


if __name__ == "__main__":
    main()
