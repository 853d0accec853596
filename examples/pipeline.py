"""A dataflow pipeline on hpyx: the executor swap, a then-chain, a DAG.

Run: python examples/pipeline.py
"""

import time

import hpyx


def load(i):
    return list(range(i * 10, i * 10 + 10))


def parse(rows):
    return [r * 2 for r in rows]


def transform(rows):
    return sum(rows)


def merge(*parts):
    return sum(parts)


def main():
    # 1. The one-line swap: ThreadPoolExecutor -> HPXExecutor.
    with hpyx.HPXExecutor() as ex:
        futures = [ex.submit(transform, load(i)) for i in range(8)]
        results = [f.result() for f in futures]
    print("executor.submit:", results)

    # 2. A then-chain: load -> parse -> transform.
    total = hpyx.async_(load, 3).then(parse).then(transform).result()
    print("then-chain:     ", total)

    # 3. A dataflow DAG: 4 chains fan in to one merge node.
    chains = [hpyx.async_(load, i).then(parse).then(transform) for i in range(4)]
    merged = hpyx.dataflow(merge, *chains)
    print("dataflow DAG:   ", merged.result())

    # 4. First of many.
    idx, fs = hpyx.when_any(*chains).result()
    print("when_any:        input", idx, "finished first with", fs[idx].result())

    # 5. Lightweight tasks: 100,000 of them.
    start = time.perf_counter()
    all_done = hpyx.when_all([hpyx.async_(abs, -i) for i in range(100_000)])
    n = len(all_done.result())
    print("100k tasks:      %d results in %.2f s on %d workers"
          % (n, time.perf_counter() - start, hpyx.debug.get_num_worker_threads()))


if __name__ == "__main__":
    main()
