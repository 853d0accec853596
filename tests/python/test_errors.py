"""Errors and callbacks.

A task's exception reaches its waiters and dependents as the same object,
with the user's frame and a note naming the task; no reference cycle keeps
a failing frame alive; done callbacks that raise are logged and the rest
run; SystemExit and KeyboardInterrupt inside a task are stored and the
worker survives; odd arguments and callables fail clearly.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import gc
import logging
import threading
import time
import traceback
import weakref

import pytest
from conftest import WAIT, blocked_workers
from fresh_interpreter import check_py

import hpyx

POOL_SIZE = hpyx.HPXExecutor()._max_workers


def identity(x):
    return x


def boom(msg="boom"):
    raise ValueError(msg)


def fail_with(exc):
    raise exc


def note_of(name):
    return 'hpyx: raised in task "%s"' % name


# -- the same object, the user frame, the note ---------------------------------------------


def test_exception_same_object_with_user_frame_and_note():
    f = hpyx.HPXExecutor().submit(boom, "eight")
    exc = f.exception(timeout=WAIT)
    assert type(exc) is ValueError and exc.args == ("eight",)
    with pytest.raises(ValueError) as info:
        f.result(timeout=WAIT)
    assert info.value is exc
    assert exc.__notes__ == [note_of("boom")]
    frames = traceback.extract_tb(exc.__traceback__)
    user = [fr for fr in frames if fr.name == "boom"]
    assert user, frames
    assert user[-1].filename == __file__
    assert user[-1].line == "raise ValueError(msg)"
    # The note is added once, however often and wherever it is re-raised.
    for _ in range(3):
        with pytest.raises(ValueError):
            f.result(timeout=WAIT)
    g = f.then(identity).then(identity)
    assert g.exception(timeout=WAIT) is exc
    assert hpyx.when_all(g, f).exception(timeout=WAIT) is exc
    assert exc.__notes__ == [note_of("boom")]


def test_note_uses_node_name_and_keeps_existing_notes():
    def raiser():
        err = KeyError("k")
        err.add_note("user note")
        raise err

    f = hpyx.async_(hpyx.named("step one", raiser))
    exc = f.exception(timeout=WAIT)
    assert exc.__notes__ == ["user note", note_of("step one")]

    g = hpyx.ready_future(1).then(lambda v: 1 / 0)
    assert isinstance(g.exception(timeout=WAIT), ZeroDivisionError)
    assert g.exception().__notes__ == [
        note_of("test_note_uses_node_name_and_keeps_existing_notes.<locals>.<lambda>")
    ]


def test_exception_set_on_a_promise_gets_no_note():
    p = hpyx.Future()
    err = ValueError("mine")
    p.set_exception(err)
    assert p.exception(timeout=0) is err
    assert not hasattr(err, "__notes__")


def test_exception_with_broken_str_and_repr():
    class Nasty(Exception):
        def __str__(self):
            raise RuntimeError("no str")

        def __repr__(self):
            raise RuntimeError("no repr")

    err = Nasty()
    f = hpyx.async_(fail_with, err)
    with pytest.raises(Nasty) as info:
        f.result(timeout=WAIT)
    assert info.value is err
    assert "raised Nasty" in repr(f)
    # The pool goes on.
    assert hpyx.async_(identity, 1).result(timeout=WAIT) == 1


def test_exception_subclass_hierarchy_and_chaining_preserved():
    def chained():
        try:
            raise OSError("inner")
        except OSError as e:
            raise LookupError("outer") from e

    exc = hpyx.async_(chained).exception(timeout=WAIT)
    assert type(exc) is LookupError
    assert isinstance(exc.__cause__, OSError) and exc.__cause__.args == ("inner",)


# -- no reference cycle keeps the failing frame alive ----------------------------------------


class Payload:
    pass


def fail_holding(holder):
    payload = Payload()
    holder.append(weakref.ref(payload))
    raise ValueError("holding a payload")


def _assert_collected(ref):
    # gc.collect() a few times (free-threaded builds may need several). A
    # worker that drops the last reference while detached from the
    # interpreter leaves the decref to PyO3's pool, which the next hpyx call
    # flushes: make one on every round.
    deadline = time.monotonic() + 5
    while ref() is not None and time.monotonic() < deadline:
        hpyx.debug.get_worker_thread_id()
        for _ in range(3):
            gc.collect()
        time.sleep(0.01)
    assert ref() is None, gc.get_referrers(ref())


@pytest.mark.parametrize(
    "how", ["result", "exception", "then", "when_all", "dataflow", "wait", "callback"]
)
def test_failing_frame_is_freed(how):
    holder = []
    fut = hpyx.async_(fail_holding, holder)
    if how == "result":
        with pytest.raises(ValueError):
            fut.result(timeout=WAIT)
    elif how == "exception":
        assert isinstance(fut.exception(timeout=WAIT), ValueError)
    elif how == "then":
        dep = fut.then(identity)
        with pytest.raises(ValueError):
            dep.result(timeout=WAIT)
        del dep
    elif how == "when_all":
        dep = hpyx.when_all(fut, hpyx.ready_future(1))
        with pytest.raises(ValueError):
            dep.result(timeout=WAIT)
        del dep
    elif how == "dataflow":
        dep = hpyx.dataflow(identity, fut)
        with pytest.raises(ValueError):
            dep.result(timeout=WAIT)
        del dep
    elif how == "wait":
        cf.wait([fut], timeout=WAIT)
        list(cf.as_completed([fut], timeout=WAIT))
    else:
        got = threading.Event()
        fut.add_done_callback(lambda f: got.set())
        assert got.wait(WAIT)
    del fut
    _assert_collected(holder[0])


def test_failing_frame_is_freed_with_executor_submit():
    holder = []
    ex = hpyx.HPXExecutor()
    fut = ex.submit(fail_holding, holder)
    with pytest.raises(ValueError):
        fut.result(timeout=WAIT)
    ex.shutdown()
    del fut
    _assert_collected(holder[0])


# -- callbacks ------------------------------------------------------------------------------


def test_raising_callbacks_are_logged_on_hpyx_logger(caplog):
    caplog.set_level(logging.ERROR, logger="hpyx")
    order = []
    last = threading.Event()

    def bad(f):
        order.append("bad")
        raise RuntimeError("callback failed")

    p = hpyx.Future()
    dep = p.then(lambda v: v * 2)
    p.add_done_callback(lambda f: order.append("first"))
    p.add_done_callback(bad)
    p.add_done_callback(lambda f: order.append("third"))
    p.add_done_callback(bad)
    p.add_done_callback(lambda f: (order.append("last"), last.set()))
    p.set_result(21)  # raises nothing
    assert last.wait(WAIT)
    assert order == ["first", "bad", "third", "bad", "last"]
    assert p.result(timeout=0) == 21 and p.done() and not p.cancelled()
    assert dep.result(timeout=WAIT) == 42
    records = [r for r in caplog.records if r.name == "hpyx"]
    assert len(records) == 2
    for r in records:
        assert r.levelno == logging.ERROR
        assert r.getMessage() == "exception calling callback for %r" % p
        assert r.exc_info[0] is RuntimeError


def test_callbacks_on_failed_task_and_on_continuation(caplog):
    err = ValueError("task")
    seen = []
    done = threading.Event()
    f = hpyx.async_(fail_with, err)
    g = f.then(identity)
    g.add_done_callback(lambda x: 1 / 0)
    g.add_done_callback(lambda x: (seen.append(x.exception()), done.set()))
    assert done.wait(WAIT)
    assert seen == [err]
    assert g.exception(timeout=0) is err
    assert any(r.name == "hpyx" and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


def test_callback_added_after_completion_runs_exactly_once():
    f = hpyx.async_(identity, 1)
    f.result(timeout=WAIT)
    calls = []
    f.add_done_callback(calls.append)
    assert calls == [f]
    hpyx.when_all([f.then(identity) for _ in range(20)]).result(timeout=WAIT)
    assert calls == [f]


def test_callback_may_use_the_pool():
    p = hpyx.Future()
    out = hpyx.Future()
    p.add_done_callback(lambda f: out.set_result(hpyx.async_(identity, f.result() + 1)))
    threading.Timer(0.01, p.set_result, (1,)).start()
    assert out.result(timeout=WAIT).result(timeout=WAIT) == 2


# -- errors travel down the graph -----------------------------------------------------------


def test_exception_in_then_goes_to_that_continuation():
    root = hpyx.async_(identity, 5)
    bad = root.then(lambda v: boom("in then"))
    good = root.then(lambda v: v + 1)
    after = bad.then(identity)
    assert root.result(timeout=WAIT) == 5
    assert good.result(timeout=WAIT) == 6
    exc = bad.exception(timeout=WAIT)
    assert isinstance(exc, ValueError) and exc.args == ("in then",)
    assert after.exception(timeout=WAIT) is exc
    assert hpyx.dataflow(lambda a, b: a + b, good, bad).exception(timeout=WAIT) is exc
    assert hpyx.when_all(good, bad, root).exception(timeout=WAIT) is exc


def test_wide_graph_with_failures_drops_nothing():
    def maybe_fail(i):
        if i % 7 == 3:
            raise ValueError(i)
        return i

    fs = [hpyx.async_(maybe_fail, i) for i in range(500)]
    deps = [f.then(lambda v: v * 2) for f in fs]
    merged = hpyx.dataflow(lambda *vals: sum(vals), *deps)
    total = hpyx.when_all(deps)
    _done, not_done = cf.wait([*deps, merged, total], timeout=WAIT)
    assert not not_done
    for i, (f, d) in enumerate(zip(fs, deps, strict=True)):
        if i % 7 == 3:
            assert d.exception(timeout=0) is f.exception(timeout=0)
            assert f.exception().args == (i,)
        else:
            assert d.result(timeout=0) == 2 * i
    first_failure = fs[3].exception()
    assert merged.exception(timeout=0) is first_failure
    assert total.exception(timeout=0) is first_failure


# -- SystemExit / KeyboardInterrupt inside a task ----------------------------------------------


@pytest.mark.parametrize("exc_type", [SystemExit, KeyboardInterrupt, GeneratorExit])
def test_base_exceptions_are_stored_and_workers_survive(exc_type):
    errs = [exc_type(i) for i in range(2 * POOL_SIZE)]
    fs = [hpyx.async_(fail_with, e) for e in errs]
    for f, e in zip(fs, errs, strict=True):
        with pytest.raises(exc_type) as info:
            f.result(timeout=WAIT)
        assert info.value is e
    via_then = hpyx.ready_future(None).then(lambda _: fail_with(exc_type("then")))
    with pytest.raises(exc_type):
        via_then.result(timeout=WAIT)
    via_dataflow = hpyx.dataflow(fail_with, hpyx.ready_future(exc_type("dataflow")))
    with pytest.raises(exc_type):
        via_dataflow.result(timeout=WAIT)
    assert via_dataflow.then(identity).exception(timeout=WAIT).args == ("dataflow",)
    # Every worker is alive and serves tasks.
    ids = hpyx.when_all(
        [hpyx.async_(hpyx.debug.get_worker_thread_id) for _ in range(20 * POOL_SIZE)]
    ).result(timeout=WAIT)
    assert all(0 <= i < POOL_SIZE for i in ids)
    assert hpyx.is_running()


# -- odd arguments ---------------------------------------------------------------------------------


def odd_values():
    return [
        lambda: None,
        (i for i in range(3)),
        threading.Lock(),
        {"unhashable": [1]},
        [1, [2]],
        None,
        object(),
    ]


@pytest.mark.parametrize("entry", ["submit", "async_", "then", "dataflow", "when_all"])
def test_odd_arguments_and_results(entry):
    values = odd_values()
    ex = hpyx.HPXExecutor()
    for v in values:
        if entry == "submit":
            f = ex.submit(identity, v)
        elif entry == "async_":
            f = hpyx.async_(identity, v)
        elif entry == "then":
            f = hpyx.ready_future(v).then(identity)
        elif entry == "dataflow":
            f = hpyx.dataflow(identity, hpyx.ready_future(v))
        else:
            f = hpyx.when_all(hpyx.ready_future(v)).then(lambda t: t[0])
        assert f.result(timeout=WAIT) is v


def test_odd_callables():
    class Callable:
        def __call__(self, x):
            return ("obj", x)

    class Box:
        def __init__(self, x):
            self.x = x

        def get(self):
            return self.x

    cases = [
        (Callable(), 1, ("obj", 1)),
        (functools.partial(pow, 2), 5, 32),
        (Box, 3, None),
        (Box(4).get, None, 4),
        ("{}!".format, "x", "x!"),
        (print, None, None),
    ]
    for fn, arg, expected in cases:
        f = hpyx.async_(fn) if arg is None else hpyx.async_(fn, arg)
        value = f.result(timeout=WAIT)
        if fn is Box:
            assert isinstance(value, Box) and value.x == 3
        else:
            assert value == expected
        assert isinstance(f.name, str) and f.name


@pytest.mark.parametrize("bad", [None, 5, "not callable"])
def test_non_callable_is_type_error_at_submit(bad):
    ex = hpyx.HPXExecutor()
    with pytest.raises(TypeError):
        ex.submit(bad)
    with pytest.raises(TypeError):
        hpyx.async_(bad)
    with pytest.raises(TypeError):
        hpyx.ready_future(1).then(bad)
    with pytest.raises(TypeError):
        hpyx.dataflow(bad, hpyx.ready_future(1))


def test_kwargs_named_like_parameters():
    def kw(*args, **kwargs):
        return args, kwargs

    names = {"fn": 1, "self": 2, "func": 3, "name": 4, "args": 5, "kwargs": 6, "timeout": 7}
    ex = hpyx.HPXExecutor()
    assert ex.submit(kw, **names).result(timeout=WAIT) == ((), names)
    assert hpyx.async_(kw, **names).result(timeout=WAIT) == ((), names)
    assert hpyx.ready_future(0).then(kw, **names).result(timeout=WAIT) == ((0,), names)
    assert hpyx.dataflow(kw, **names).result(timeout=WAIT) == ((), names)


def test_wrong_call_signature_fails_the_future_not_the_caller():
    f = hpyx.async_(identity, 1, 2, 3)
    exc = f.exception(timeout=WAIT)
    assert isinstance(exc, TypeError)
    assert exc.__notes__ == [note_of("identity")]


def test_pending_task_args_are_released_after_cancel():
    ex = hpyx.HPXExecutor()
    payload = Payload()
    ref = weakref.ref(payload)
    with blocked_workers(ex):
        f = ex.submit(identity, payload)
        del payload
        assert f.cancel()
    del f
    _assert_collected(ref)


def test_task_value_freed_without_a_further_hpyx_call():
    # In a fresh interpreter: any hpyx call, from any thread (leftovers of
    # other tests), would flush PyO3's pool and hide the problem.
    proc = check_py(
        """
        import gc, threading, time, weakref
        import hpyx

        class Payload:
            pass

        holder = []
        start, in_callback, leave_callback = threading.Event(), threading.Event(), threading.Event()

        def task():
            assert start.wait(30)
            payload = Payload()
            holder.append(weakref.ref(payload))
            return payload

        fut = hpyx.async_(task)

        def callback(f):
            in_callback.set()
            leave_callback.wait(30)

        fut.add_done_callback(callback)  # runs on the worker: the task is gated
        start.set()
        assert in_callback.wait(30)
        fut.result(timeout=30)
        del fut  # the worker now holds the last reference, in the callback list
        leave_callback.set()
        # No hpyx call from here on (it would flush PyO3's pool).
        deadline = time.monotonic() + 1.0
        while holder[0]() is not None and time.monotonic() < deadline:
            gc.collect()
            time.sleep(0.01)
        print("alive" if holder[0]() is not None else "freed")
        """
    )
    assert proc.stdout.strip() == "freed"
