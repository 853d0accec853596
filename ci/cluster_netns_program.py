"""The hpyx program of the multi-host tier (ci/cluster-netns.sh).

An ordinary hpyx pipeline, unchanged for the cluster: HPYX_CLUSTER names the
scheduler. Each of 60 stages loads a value (a task of about 0.3 s), then
two continuations and a dataflow combine it; a fan-in adds everything up.
After ``--mark-after`` loads have finished it creates ``--mark`` (the
script then tears a worker's namespace down); it exits 0 only if the sum is
right, and prints the workers that ran the first loads (both, or it fails).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import time

import hpyx


def load(i):
    import distributed

    time.sleep(0.3)
    return i, distributed.get_worker().address


def value(loaded):
    return loaded[0]


def square(x):
    return x * x


def combine(a, b):
    return a + b


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stages", type=int, default=60)
    parser.add_argument("--mark", required=True)
    parser.add_argument("--mark-after", type=int, default=10)
    args = parser.parse_args()

    loads = [hpyx.async_(hpyx.named("load", load), i) for i in range(args.stages)]
    values = [f.then(value) for f in loads]
    squares = [v.then(square) for v in values]
    combined = [hpyx.dataflow(combine, v, s) for v, s in zip(values, squares)]
    total = hpyx.when_all(combined).then(sum)

    early = set()
    for done, f in enumerate(cf.as_completed(loads, timeout=600), 1):
        if done <= args.mark_after:
            early.add(f.result()[1])
        if done == args.mark_after:
            print("program: the first %d loads ran on %s" % (done, sorted(early)), flush=True)
            if len(early) < 2:
                raise SystemExit("program: the loads did not use both workers")
            open(args.mark, "w").close()
    expected = sum(i + i * i for i in range(args.stages))
    result = total.result(timeout=600)
    print("program: total %d (expected %d)" % (result, expected))
    if result != expected:
        raise SystemExit("program: wrong total")
    print("program: completed")


if __name__ == "__main__":
    main()
