"""dask's local-scheduler callbacks with ``hpyx.dask.get``: ``start``,
``start_state``, ``pretask``, ``posttask`` and ``finish`` are called as dask's
own local scheduler calls them, so ``ProgressBar``, ``Profiler`` and user
``Callback``s work unchanged."""

from __future__ import annotations

import io
import threading

import pytest

dask = pytest.importorskip("dask", reason="hpyx.dask needs dask installed")

from dask.callbacks import Callback  # noqa: E402
from dask.diagnostics import Profiler, ProgressBar  # noqa: E402
from dask.utils_test import add, inc  # noqa: E402

from hpyx.dask import get  # noqa: E402

DSK = {"x": 1, "y": (inc, "x"), "z": (add, "y", "x"), ("w", 0): (inc, "z"), "unused": (inc, 5)}


def record_calls(scheduler):
    calls = []
    lock = threading.Lock()

    def log(*entry):
        with lock:
            calls.append(entry)

    cb = Callback(
        start=lambda dsk: log("start"),
        start_state=lambda dsk, state: log("start_state", sorted(map(str, state["waiting"]))),
        pretask=lambda key, dsk, state: log("pretask", key),
        posttask=lambda key, result, dsk, state, worker_id: log("posttask", key, result),
        finish=lambda dsk, state, errored: log("finish", errored),
    )
    with cb:
        result = scheduler(DSK, [("w", 0), "y"])
    return result, calls


def test_callbacks_called_as_by_the_local_scheduler():
    ours, ours_calls = record_calls(get)
    theirs, theirs_calls = record_calls(dask.local.get_sync)
    assert ours == theirs == (4, 2)
    assert ours_calls[:2] == theirs_calls[:2]
    assert ours_calls[-1] == theirs_calls[-1] == ("finish", False)
    # The same tasks, each pretask before its posttask, dependencies first.
    assert sorted(str(c) for c in ours_calls if c[0] == "posttask") == sorted(
        str(c) for c in theirs_calls if c[0] == "posttask"
    )
    order = [c[1] for c in ours_calls if c[0] in ("pretask", "posttask")]
    for key in ("y", "z", ("w", 0)):
        assert order.count(key) == 2
    assert order.index("y") < order.index("z") < order.index(("w", 0))
    pre_post = [(c[0], c[1]) for c in ours_calls if c[0] in ("pretask", "posttask")]
    for key in ("y", "z", ("w", 0)):
        assert pre_post.index(("pretask", key)) < pre_post.index(("posttask", key))


def test_finish_reports_an_error():
    finished = []

    def bad(x):
        raise ZeroDivisionError("no")

    with Callback(finish=lambda dsk, state, errored: finished.append(errored)):
        with pytest.raises(ZeroDivisionError, match="no"):
            get({"x": 1, "y": (bad, "x")}, "y")
    assert finished == [True]


def test_progress_bar_reaches_100_percent():
    out = io.StringIO()
    with ProgressBar(out=out, minimum=0, dt=0.001):
        assert get({("x", i): (inc, i) for i in range(50)}, [("x", i) for i in range(50)]) == tuple(
            range(1, 51)
        )
    assert "100% Completed" in out.getvalue()


def test_profiler_sees_every_task():
    dsk = {("x", i): (inc, i) for i in range(20)}
    dsk["total"] = (sum, [("x", i) for i in range(20)])
    with Profiler() as prof:
        assert get(dsk, "total") == sum(range(1, 21))
    assert sorted(map(str, (r.key for r in prof.results))) == sorted(map(str, dsk))
    assert all(r.start_time <= r.end_time for r in prof.results)


def test_callbacks_passed_as_argument():
    seen = []
    cb = Callback(pretask=lambda key, dsk, state: seen.append(key))
    assert get({"a": (inc, 1)}, "a", callbacks=[cb._callback]) == 2
    assert seen == ["a"]


def test_no_callback_overhead_without_callbacks():
    # Without registered callbacks no state dict is built: pretask-only
    # machinery stays out of the run (checked through the result only).
    assert Callback.active == set()
    assert get({"a": (inc, 1)}, "a") == 2
