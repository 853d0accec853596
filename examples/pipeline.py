"""A dataflow pipeline on hpyx: the executor swap, a then-chain, a DAG.

Run: python examples/pipeline.py [OUTPUT_DIR]

Writes, into OUTPUT_DIR (default examples/out): a picture of the DAG
(pipeline.svg, or pipeline.dot if Graphviz is missing), the task trace
(trace.jsonl) and a Chrome trace (pipeline.trace.json; open it in Perfetto).
"""

import os
import sys
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

    # 3. A dataflow DAG: 4 chains fan in to one merge node, recorded and
    #    traced so we can look at it afterwards.
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "out")
    os.makedirs(out, exist_ok=True)
    hpyx.debug.enable_tracing(os.path.join(out, "trace.jsonl"))
    with hpyx.debug.record() as rec:
        chains = [hpyx.async_(load, i).then(parse).then(transform) for i in range(4)]
        merged = hpyx.dataflow(merge, *chains)
        print("dataflow DAG:   ", merged.result())
    hpyx.debug.disable_tracing()
    try:
        picture = rec.render(os.path.join(out, "pipeline.svg"), title="examples/pipeline.py")
    except FileNotFoundError as e:  # no Graphviz: keep the DOT text
        print("               ", e)
        picture = os.path.join(out, "pipeline.dot")
        with open(picture, "w") as f:
            f.write(rec.to_dot(title="examples/pipeline.py"))
    rec.write_chrome_trace(os.path.join(out, "pipeline.trace.json"))
    print("graph picture:  ", picture, "(%d nodes)" % len(rec))
    print("task traces:    ", os.path.join(out, "trace.jsonl"), "and pipeline.trace.json")

    # 4. First of many.
    idx, fs = hpyx.when_any(*chains).result()
    print("when_any:        input", idx, "finished first with", fs[idx].result())

    # 5. Lightweight tasks: 100,000 of them.
    start = time.perf_counter()
    all_done = hpyx.when_all([hpyx.async_(abs, -i) for i in range(100_000)])
    n = len(all_done.result())
    print(
        "100k tasks:      %d results in %.2f s on %d workers"
        % (n, time.perf_counter() - start, hpyx.debug.get_num_worker_threads())
    )


if __name__ == "__main__":
    main()
