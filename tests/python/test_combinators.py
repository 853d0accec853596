"""The combinators that build the graph: async_, dataflow, when_all, when_any,
ready_future, shared_future."""

from __future__ import annotations

import concurrent.futures as cf
import threading

import pytest
from conftest import WAIT, blocked_workers

import hpyx


def identity(x):
    return x


def fail_with(exc):
    raise exc


class _Gate:
    """Completes a promise when set (like a task blocked on an Event, without
    holding a worker)."""

    def __init__(self, future, complete):
        self._future, self._complete = future, complete

    def set(self):
        if not self._future.done():
            self._complete()


def gated(value):
    """A pending future that gets ``value`` once the returned gate is set."""
    p = hpyx.Future()
    return p, _Gate(p, lambda: p.set_result(value))


def failing_later(exc):
    """A pending future that fails with ``exc`` once the returned gate is set."""
    p = hpyx.Future()
    return p, _Gate(p, lambda: p.set_exception(exc))


# -- async_ -----------------------------------------------------------------------------


def test_async_args_and_kwargs():
    def f(a, b=0, *, fn=None, self=None):
        return (a, b, fn, self)

    assert hpyx.async_(f, 1, b=2, fn=3, self=4).result(timeout=WAIT) == (1, 2, 3, 4)
    assert hpyx.async_(f, 1).result(timeout=WAIT) == (1, 0, None, None)


def test_async_none_is_type_error():
    with pytest.raises(TypeError):
        hpyx.async_(None)


def test_async_many():
    fs = [hpyx.async_(identity, i) for i in range(10_000)]
    assert [f.result(timeout=WAIT) for f in fs] == list(range(10_000))


# -- dataflow -----------------------------------------------------------------------------


def test_dataflow_futures_and_plain_values():
    def f(a, b, c, *, x, y=0):
        return (a, b, c, x, y)

    d = hpyx.dataflow(
        f,
        hpyx.async_(identity, 1),
        2,
        hpyx.ready_future(3),
        x=hpyx.async_(identity, "x"),
        y="y",
    )
    assert d.result(timeout=WAIT) == (1, 2, 3, "x", "y")


def test_dataflow_kwargs_named_fn_and_self():
    def f(**kw):
        return kw

    d = hpyx.dataflow(f, fn=hpyx.ready_future(1), self=2)
    assert d.result(timeout=WAIT) == {"fn": 1, "self": 2}


def test_dataflow_signature_and_docstring():
    # hpyx.dataflow is the Rust function itself; it must still read like
    # the documented Python function.
    import inspect

    assert str(inspect.signature(hpyx.dataflow)) == "(fn, /, *args, **kwargs)"
    assert hpyx.dataflow.__doc__.startswith("Runs ``fn`` once every future")
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'fn'"):
        hpyx.dataflow()


def test_future_subclasses_are_inputs_too():
    # The slot fast path is for hpyx.Future itself; a subclass (even one
    # with slots of its own) goes through the attribute lookup.
    class Tagged(hpyx.Future):
        __slots__ = ("tag",)

    class Plain(hpyx.Future):
        pass

    a, b = Tagged(), Plain()
    a.tag = "x"
    a.set_result(2)
    b.set_result(3)
    assert hpyx.dataflow(pow, a, b).result(timeout=WAIT) == 8
    assert hpyx.when_all(a, b).result(timeout=WAIT) == (2, 3)
    assert hpyx.when_any([b, a]).result(timeout=WAIT)[0] in (0, 1)


@pytest.mark.parametrize("n", [3, 63, 64, 65, 130])
def test_dataflow_puts_every_value_in_its_place(n):
    # Futures at every third position (positions below 64 are kept as a bit
    # mask, others as a list) and among the keywords, plain values between.
    gate = hpyx.Future()
    args = [gate.then(lambda _, i=i: ("f", i)) if i % 3 == 0 else ("v", i) for i in range(n)]
    kwargs = {
        "k%d" % i: gate.then(lambda _, i=i: ("kf", i)) if i % 2 else ("kv", i) for i in range(4)
    }
    f = hpyx.dataflow(lambda *a, **kw: (a, kw), *args, **kwargs)
    gate.set_result(None)
    a, kw = f.result(timeout=WAIT)
    assert list(a) == [("f" if i % 3 == 0 else "v", i) for i in range(n)]
    assert kw == {"k%d" % i: ("kf" if i % 2 else "kv", i) for i in range(4)}


def test_dataflow_without_futures():
    assert hpyx.dataflow(pow, 2, 3).result(timeout=WAIT) == 8
    assert hpyx.dataflow(lambda: "none").result(timeout=WAIT) == "none"


def test_dataflow_runs_only_after_all_inputs():
    called = threading.Event()
    a, gate_a = gated(1)
    b, gate_b = gated(2)

    def merge(x, y):
        called.set()
        return x + y

    d = hpyx.dataflow(merge, a, b)
    gate_a.set()
    a.result(timeout=WAIT)
    assert not called.wait(0.05)
    assert not d.done()
    gate_b.set()
    assert d.result(timeout=WAIT) == 3


def test_dataflow_same_future_twice():
    f = hpyx.async_(identity, 5)
    assert hpyx.dataflow(lambda a, b, c=None: (a, b, c), f, f, c=f).result(timeout=WAIT) == (
        5,
        5,
        5,
    )


def test_dataflow_failed_input_fails_with_the_same_exception():
    err = ValueError("input")
    called = []
    d = hpyx.dataflow(called.append, hpyx.async_(fail_with, err))
    with pytest.raises(ValueError) as info:
        d.result(timeout=WAIT)
    assert info.value is err
    assert called == []


def test_dataflow_waits_for_all_then_fails_like_first_in_argument_order():
    early = KeyError("early, but second")
    late = ValueError("late, but first")
    first, gate = failing_later(late)
    second = hpyx.async_(fail_with, early)
    second.exception(timeout=WAIT)
    d = hpyx.dataflow(lambda *a: a, first, second)
    with pytest.raises(TimeoutError):
        d.result(timeout=0.05)  # still waiting for `first`
    gate.set()
    assert d.exception(timeout=WAIT) is late


def test_dataflow_positional_inputs_come_before_keyword_inputs():
    pos_err, kw_err = ValueError("positional"), KeyError("keyword")
    kw_input = hpyx.async_(fail_with, kw_err)
    kw_input.exception(timeout=WAIT)
    pos_input, gate = failing_later(pos_err)
    d = hpyx.dataflow(lambda *a, **k: None, pos_input, k=kw_input)
    gate.set()
    assert d.exception(timeout=WAIT) is pos_err


def test_dataflow_cancelled_input():
    ex = hpyx.HPXExecutor()
    called = []
    err = ValueError("failed after the cancelled one")
    with blocked_workers(ex):
        c = ex.submit(identity, 1)
        assert c.cancel()
    failed = hpyx.async_(fail_with, err)
    d = hpyx.dataflow(called.append, c, failed)
    with pytest.raises(cf.CancelledError):
        d.result(timeout=WAIT)
    assert d.cancelled()
    # A failed input before the cancelled one wins.
    e = hpyx.dataflow(called.append, failed, c)
    assert e.exception(timeout=WAIT) is err
    assert not e.cancelled()
    assert called == []


@pytest.mark.parametrize("outcome", ["value", "exception", "cancel"])
def test_dataflow_with_stdlib_future_input(outcome):
    s = cf.Future()
    d = hpyx.dataflow(lambda a, b: a + b, s, 1)
    assert not d.done()
    err = ValueError("stdlib")
    if outcome == "value":
        s.set_result(2)
        assert d.result(timeout=WAIT) == 3
    elif outcome == "exception":
        s.set_exception(err)
        assert d.exception(timeout=WAIT) is err
    else:
        assert s.cancel()
        with pytest.raises(cf.CancelledError):
            d.result(timeout=WAIT)
        assert d.cancelled()


def test_dataflow_with_thread_pool_future_and_done_stdlib_future():
    with cf.ThreadPoolExecutor(1) as tpe:
        t = tpe.submit(identity, 10)
        done = cf.Future()
        done.set_result(5)
        assert hpyx.dataflow(lambda a, b: a * b, t, done).result(timeout=WAIT) == 50


# -- when_all ------------------------------------------------------------------------------


def test_when_all_varargs_and_iterables():
    fs = [hpyx.async_(identity, i) for i in range(5)]
    assert hpyx.when_all(*fs).result(timeout=WAIT) == (0, 1, 2, 3, 4)
    assert hpyx.when_all(fs).result(timeout=WAIT) == (0, 1, 2, 3, 4)
    assert hpyx.when_all(tuple(fs)).result(timeout=WAIT) == (0, 1, 2, 3, 4)
    assert hpyx.when_all(f for f in fs).result(timeout=WAIT) == (0, 1, 2, 3, 4)
    assert hpyx.when_all(fs[0]).result(timeout=WAIT) == (0,)


def test_when_all_empty():
    e = hpyx.when_all()
    assert isinstance(e, hpyx.Future) and e.done()
    assert e.result(timeout=0) == ()
    assert hpyx.when_all([]).result(timeout=0) == ()


def test_when_all_keeps_input_order_not_completion_order():
    a, gate = gated("slow")
    b = hpyx.async_(identity, "fast")
    w = hpyx.when_all(a, b)
    b.result(timeout=WAIT)
    gate.set()
    assert w.result(timeout=WAIT) == ("slow", "fast")


def test_when_all_fails_with_first_failed_in_input_order():
    late = ValueError("first input, fails late")
    early = KeyError("second input, fails early")
    first, gate = failing_later(late)
    second = hpyx.async_(fail_with, early)
    w = hpyx.when_all(first, second, hpyx.async_(identity, 3))
    second.exception(timeout=WAIT)
    gate.set()
    assert w.exception(timeout=WAIT) is late


def test_when_all_with_stdlib_futures():
    s = cf.Future()
    w = hpyx.when_all(hpyx.ready_future(1), s)
    s.set_result(2)
    assert w.result(timeout=WAIT) == (1, 2)


def test_when_all_rejects_non_futures():
    with pytest.raises(TypeError):
        hpyx.when_all(hpyx.ready_future(1), 2)
    with pytest.raises(TypeError):
        hpyx.when_all(5)


# -- when_any --------------------------------------------------------------------------------


def test_when_any_returns_index_and_the_same_futures():
    slow1, gate1 = gated(1)
    fast = hpyx.async_(identity, 2)
    slow2, gate2 = gated(3)
    try:
        idx, futures_list = hpyx.when_any(slow1, fast, slow2).result(timeout=WAIT)
        assert idx == 1
        assert isinstance(futures_list, list)
        assert len(futures_list) == 3
        assert all(a is b for a, b in zip(futures_list, [slow1, fast, slow2], strict=True))
    finally:
        gate1.set()
        gate2.set()


def test_when_any_failure_counts_as_finishing():
    slow, gate = gated(1)
    err = ValueError("first to finish")
    bad = hpyx.async_(fail_with, err)
    try:
        idx, fs = hpyx.when_any([slow, bad]).result(timeout=WAIT)
        assert idx == 1 and fs[1] is bad
        assert fs[1].exception(timeout=0) is err
    finally:
        gate.set()


def test_when_any_cancelled_counts_as_finishing():
    p, q = hpyx.Future(), hpyx.Future()
    w = hpyx.when_any(p, q)
    assert q.cancel()
    idx, fs = w.result(timeout=WAIT)
    assert idx == 1 and fs[1] is q


def test_when_any_empty_is_value_error():
    with pytest.raises(ValueError):
        hpyx.when_any()
    with pytest.raises(ValueError):
        hpyx.when_any([])


def test_when_any_with_stdlib_future_returns_that_object():
    s = cf.Future()
    p = hpyx.Future()
    w = hpyx.when_any(p, s)
    s.set_result("s")
    idx, fs = w.result(timeout=WAIT)
    assert idx == 1 and fs[1] is s and fs[0] is p


# -- ready_future, shared_future -------------------------------------------------------------


def test_ready_future():
    r = hpyx.ready_future([1])
    assert r.done() and not r.running() and not r.cancelled()
    assert r.result(timeout=0) == [1]
    assert r.name == "ready_future"
    assert r.cancel() is False
    assert hpyx.ready_future(None).result(timeout=0) is None


def test_shared_future():
    # `f` finishes only once every dependent and callback is registered:
    # callbacks added before completion run in the order added; one added
    # after it runs at once on the adding thread, as with the stdlib, which
    # can overtake those still running on the completing thread.
    release = threading.Event()
    f = hpyx.async_(lambda: release.wait(WAIT) and 2)
    assert hpyx.shared_future(f) is f
    deps = [f.then(lambda v, i=i: v * i) for i in range(100)]
    calls = []
    for i in range(100):
        f.add_done_callback(lambda fut, i=i: calls.append(i))
    last = threading.Event()
    f.add_done_callback(lambda fut: last.set())
    release.set()
    assert [d.result(timeout=WAIT) for d in deps] == [2 * i for i in range(100)]
    assert f.result(timeout=WAIT) == 2
    assert last.wait(WAIT)
    assert calls == list(range(100))
    assert hpyx.when_all(deps).result(timeout=WAIT) == tuple(2 * i for i in range(100))
    with pytest.raises(TypeError):
        hpyx.shared_future(cf.Future())


def test_nested_combinators():
    a = hpyx.async_(identity, 1)
    b = a.then(lambda v: v + 1)
    c = hpyx.dataflow(lambda x, y: x * y, a, b)
    w = hpyx.when_all(a, b, c)
    idx, _ = hpyx.when_any(w, hpyx.Future()).result(timeout=WAIT)
    assert idx == 0
    assert w.result(timeout=WAIT) == (1, 2, 2)
