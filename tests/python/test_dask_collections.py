"""dask collections computed with ``scheduler="hpyx"`` equal the same
computations with ``scheduler="sync"``, exactly: dask.array, dask.bag,
dask.dataframe and dask.delayed, as dask optimizes and hands them over."""

from __future__ import annotations

import pytest

dask = pytest.importorskip("dask", reason="hpyx.dask needs dask installed")
np = pytest.importorskip("numpy", reason="dask.array needs numpy installed")

import hpyx.dask  # noqa: E402,F401


def both(*collections):
    """The results with hpyx and with dask's synchronous scheduler."""
    return (
        dask.compute(*collections, scheduler="hpyx"),
        dask.compute(*collections, scheduler="sync"),
    )


def test_array_reductions_and_products():
    da = pytest.importorskip("dask.array")
    x = da.random.default_rng(0).random((400, 400), chunks=(50, 50))
    ours, theirs = both((x + x.T).sum(), x.dot(x.T).mean(), x[::3, 5:].std(axis=0))
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_array_rechunk_and_map_blocks():
    da = pytest.importorskip("dask.array")
    x = da.arange(10_000, chunks=333).reshape(100, 100).rechunk((30, 40))
    y = x.map_blocks(lambda b: b * 2 + 1, dtype=x.dtype)
    ours, theirs = both(y, y.cumsum(axis=1))
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_bag_word_count():
    db = pytest.importorskip("dask.bag")
    lines = [f"a b c{i % 7} d{i % 3}" for i in range(1000)]
    b = db.from_sequence(lines, npartitions=17)
    counts = b.str.split().flatten().frequencies()
    ours, theirs = both(counts, b.map(len).sum(), b.filter(lambda s: "c1" in s).count())
    assert sorted(ours[0]) == sorted(theirs[0])
    assert ours[1:] == theirs[1:]


def test_dataframe_groupby_and_join():
    pd = pytest.importorskip("pandas", reason="dask.dataframe needs pandas installed")
    dd = pytest.importorskip("dask.dataframe")
    df = pd.DataFrame({"k": np.arange(2000) % 13, "v": np.arange(2000) * 0.5})
    ddf = dd.from_pandas(df, npartitions=9)
    other = dd.from_pandas(
        pd.DataFrame({"k": np.arange(13), "name": [f"n{i}" for i in range(13)]}),
        npartitions=2,
    )
    grouped = ddf.groupby("k").v.agg(["sum", "mean", "count"])
    joined = ddf.merge(other, on="k").groupby("name").v.sum()
    ours, theirs = both(grouped, joined, ddf.v.cumsum())
    pd.testing.assert_frame_equal(ours[0], theirs[0])
    pd.testing.assert_series_equal(ours[1], theirs[1])
    pd.testing.assert_series_equal(ours[2], theirs[2])


def test_delayed_graph():
    from dask import delayed

    @delayed
    def inc(x):
        return x + 1

    @delayed
    def total(*xs):
        return sum(xs)

    layer = [inc(i) for i in range(100)]
    for _ in range(5):
        layer = [inc(a) + b for a, b in zip(layer, layer[1:] + layer[:1], strict=True)]
    out = total(*layer)
    ours, theirs = both(out, layer[3], {"k": layer[:2]})
    assert ours == theirs


def test_persist_and_multiple_collections_share_tasks():
    da = pytest.importorskip("dask.array")
    x = da.ones((100, 100), chunks=10)
    y = (x * 2).persist(scheduler="hpyx")
    ours, theirs = both(y.sum(), (y + 1).max())
    assert ours == theirs
