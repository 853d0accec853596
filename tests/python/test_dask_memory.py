"""Memory like dask's: a result is released once every task that needs it
has run, so a reduction over far more data than is ever held at once runs
in bounded memory (on the free-threaded build too)."""

from __future__ import annotations

import pytest

pytest.importorskip("dask", reason="hpyx.dask needs dask installed")
pytest.importorskip("numpy", reason="dask.array needs numpy installed")

from fresh_interpreter import check_py


def test_streaming_reduction_over_gigabytes_has_bounded_rss():
    # 3.2 GB of chunks (40 x 80 MB), each made, reduced and dropped.
    out = check_py(
        "import resource, dask.array as da, hpyx.dask\n"
        "x = da.zeros((40_000, 10_000), chunks=(1_000, 10_000)) + 1\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "total = x.sum().compute(scheduler='hpyx')\n"
        "assert total == 40_000 * 10_000, total\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(int(before), int(peak))\n",
        timeout=240,
    )
    before, peak = map(int, out.stdout.split())
    # The data is 3,200 MB; a few chunks at a time are 80 MB each.
    assert peak - before < 1200, (before, peak)


def test_intermediate_values_are_freed_without_a_garbage_collection():
    # A chain of tasks each consuming the previous one's value: with no
    # collection at all, at most a few values are alive at any point.
    check_py(
        "import gc, weakref, hpyx.dask\n"
        "gc.disable()\n"
        "class Value:\n"
        "    pass\n"
        "refs = []\n"
        "alive = []\n"
        "def step(prev, i):\n"
        "    alive.append(sum(r() is not None for r in refs))\n"
        "    v = Value()\n"
        "    refs.append(weakref.ref(v))\n"
        "    return v\n"
        "dsk = {('s', 0): (step, None, 0)}\n"
        "for i in range(1, 200):\n"
        "    dsk[('s', i)] = (step, ('s', i - 1), i)\n"
        "hpyx.dask.get(dsk, ('s', 199))\n"
        "assert max(alive) <= 8, alive\n"
    )


def test_a_value_is_freed_while_the_rest_of_the_graph_is_still_built():
    # The chain is walked first and runs while 50,000 other keys are
    # looked at: each step's value must not wait for the end of the build.
    check_py(
        "import gc, weakref, hpyx.dask\n"
        "gc.disable()\n"
        "class Value:\n"
        "    pass\n"
        "refs = []\n"
        "alive = []\n"
        "def step(prev, i):\n"
        "    alive.append(sum(r() is not None for r in refs))\n"
        "    v = Value()\n"
        "    refs.append(weakref.ref(v))\n"
        "    return v\n"
        "dsk = {('s', 0): (step, None, 0)}\n"
        "for i in range(1, 200):\n"
        "    dsk[('s', i)] = (step, ('s', i - 1), i)\n"
        "for i in range(50_000):\n"
        "    dsk[('o', i)] = (int, i)\n"
        "dsk['other'] = (len, [('o', i) for i in range(50_000)])\n"
        "_, n = hpyx.dask.get(dsk, [('s', 199), 'other'])\n"
        "assert n == 50_000, n\n"
        "assert max(alive) <= 8, max(alive)\n"
    )
