"""Fuzzing the graph-building surface.

Odd names (``hpyx.named`` with any text, lone surrogates, NUL, quotes,
backslashes, braces, 100,000 characters, non-str), odd callables (a
``__qualname__`` that is not a str or raises), huge arity (100,000 inputs),
duplicate inputs, odd arguments to the combinators, and "self dependency"
attempts (a promise completed with its own future, a task that waits on its
own future, a continuation that returns its own future). The rules: a call
either builds a node that gives the right result, or raises a clear
``Exception`` (TypeError / ValueError / UnicodeError) at once; a wait that
can never finish ends at its timeout; the process never crashes and the pool
goes on. The exports (DOT, JSON) of every node built stay valid.
"""

from __future__ import annotations

import concurrent.futures as cf
import json

import pytest
from conftest import WAIT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hpyx

pytestmark = pytest.mark.thread_unsafe(reason="Hypothesis is not thread-safe")

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CLEAR_ERRORS = (TypeError, ValueError, UnicodeError)

odd_names = st.one_of(
    st.text(),
    st.text(
        alphabet=st.sampled_from('"\\\n\r\t{}<>[]|;&%$#@!\x00\x7f\u200b\u2028\U0001f600é中'),
        max_size=40,
    ),
    st.sampled_from(
        ["", "\ud800", "a\udcffb", "x" * 100_000, "\x00", "digraph { a -> b }", "</script>"]
    ),
)


def _plus_one(x):
    return x + 1


@FUZZ
@given(name=odd_names)
def test_odd_names_build_run_and_export(name):
    try:
        fn = hpyx.named(name, _plus_one)
    except CLEAR_ERRORS:
        return
    try:
        f = hpyx.async_(fn, 1)
    except CLEAR_ERRORS:
        # Only a name Rust cannot hold (a lone surrogate) may fail, and then
        # at once, not later on a worker.
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in name), repr(name)
        return
    assert f.result(timeout=WAIT) == 2
    assert f._node.name == name
    g = f.then(hpyx.named(name, _plus_one))
    assert g.result(timeout=WAIT) == 3
    assert name in repr(g) or len(name) > 1000 or "\\" in repr(name)
    dot = hpyx.debug.to_dot([g])
    assert dot.lstrip().startswith(("digraph", "strict digraph")) and dot.rstrip().endswith("}")
    data = json.loads(hpyx.debug.to_json([g]))
    names = {n["name"] for n in data["nodes"]}
    assert name in names


@pytest.mark.parametrize("bad", [None, 1, b"bytes", ["list"], object()])
def test_non_str_names_are_a_type_error(bad):
    with pytest.raises(TypeError, match="name must be a str"):
        hpyx.named(bad, _plus_one)


@pytest.mark.parametrize("bad", [None, 1, "str", object()])
def test_non_callables_are_a_type_error(bad):
    with pytest.raises(TypeError):
        hpyx.named("n", bad)
    with pytest.raises(TypeError):
        hpyx.async_(bad)
    with pytest.raises(TypeError):
        hpyx.ready_future(1).then(bad)
    with pytest.raises(TypeError):
        hpyx.dataflow(bad, hpyx.ready_future(1))


class _OddQualname:
    def __init__(self, qualname):
        self._q = qualname

    def __call__(self, x=0):
        return x

    def __getattribute__(self, attr):
        if attr == "__qualname__":
            q = object.__getattribute__(self, "_q")
            if isinstance(q, BaseException):
                raise q
            return q
        return object.__getattribute__(self, attr)


class _BadStr:
    def __str__(self):
        raise RuntimeError("no str for you")


@pytest.mark.parametrize(
    "qualname",
    [123, None, "\ud800", _BadStr(), AttributeError("gone"), RuntimeError("boom"), "ok"],
    ids=["int", "none", "surrogate", "badstr", "attributeerror", "runtimeerror", "ok"],
)
def test_callables_with_odd_qualnames(qualname):
    fn = _OddQualname(qualname)
    try:
        f = hpyx.async_(fn, 5)
    except Exception as exc:
        assert not isinstance(exc, (SystemError,)), exc
        return
    assert f.result(timeout=WAIT) == 5
    assert isinstance(f._node.name, str)


# -- arity and duplicates -------------------------------------------------------------


def test_huge_arity_with_duplicates():
    base = [hpyx.async_(int, i) for i in range(100)]
    inputs = [base[i % 100] for i in range(100_000)]  # each input 1,000 times
    joined = hpyx.when_all(inputs)
    assert joined.result(timeout=4 * WAIT) == tuple(i % 100 for i in range(100_000))
    total = hpyx.dataflow(lambda *xs: sum(xs), *inputs[:50_000])
    assert total.result(timeout=4 * WAIT) == sum(i % 100 for i in range(50_000))
    index, futures = hpyx.when_any(*([base[0]] * 10_000)).result(timeout=WAIT)
    assert 0 <= index < 10_000 and futures[index] is base[0]


@FUZZ
@given(
    pattern=st.lists(st.integers(0, 4), min_size=1, max_size=40),
    failing=st.sets(st.integers(0, 4), max_size=2),
)
def test_duplicate_inputs_match_plain_evaluation(pattern, failing):
    class Boom(Exception):
        pass

    def make(i):
        if i in failing:
            raise Boom(i)
        return i * 10

    base = [hpyx.async_(make, i) for i in range(5)]
    ins = [base[i] for i in pattern]
    first_bad = next((i for i in pattern if i in failing), None)
    for f in (hpyx.when_all(ins), hpyx.dataflow(lambda *xs: xs, *ins)):
        if first_bad is None:
            assert f.result(timeout=WAIT) == tuple(i * 10 for i in pattern)
        else:
            exc = f.exception(timeout=WAIT)
            assert isinstance(exc, Boom) and exc.args == (first_bad,)
            # The very object the input raised.
            assert exc is base[first_bad].exception(timeout=WAIT)


@FUZZ
@given(
    args=st.lists(
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=5),
            st.lists(st.integers(), max_size=3),
            st.sampled_from(["FUT", "FAILED", "CANCELLED", "CF"]),
        ),
        max_size=6,
    ),
    combinator=st.sampled_from(
        ["when_all", "when_any", "dataflow", "shared_future", "ready_future"]
    ),
)
def test_combinators_with_odd_arguments(args, combinator):
    import threading

    gate = threading.Event()
    pending = hpyx.async_(gate.wait, WAIT)
    cancelled = hpyx.Future()
    cancelled.cancel()
    real = []
    for a in args:
        if a == "FUT":
            a = hpyx.ready_future(7)
        elif a == "FAILED":
            a = hpyx.async_(int, "not a number")
        elif a == "CANCELLED":
            a = cancelled
        elif a == "CF":
            a = cf.Future()
            a.set_result(3)
        real.append(a)
    try:
        if combinator == "dataflow":
            f = hpyx.dataflow(lambda *xs: len(xs), *real)
        elif combinator == "ready_future":
            f = hpyx.ready_future(real)
        else:
            f = getattr(hpyx, combinator)(*real)
    except CLEAR_ERRORS:
        gate.set()
        return
    finally:
        gate.set()
    # Built: it finishes (every input here finishes) with a value, an
    # exception, or cancellation; never a hang.
    try:
        f.result(timeout=WAIT)
    except (cf.CancelledError, ValueError):
        pass
    assert f.done()
    assert pending.result(timeout=WAIT) is True


def test_combinators_reject_what_they_cannot_take():
    with pytest.raises(ValueError):
        hpyx.when_any()
    assert hpyx.when_all().result(timeout=WAIT) == ()
    for bad in ([1, 2], "abc", [None]):
        with pytest.raises(TypeError):
            hpyx.when_all(bad)
    with pytest.raises(TypeError):
        hpyx.when_all(1, 2)


# -- self dependency attempts -----------------------------------------------------------


def test_promise_completed_with_its_own_future():
    p = hpyx.Future()
    p.set_result(p)
    # A future as a value is a plain value: no self-wait, no hang.
    assert p.result(timeout=WAIT) is p
    assert p.then(lambda v: v is p).result(timeout=WAIT) is True
    q = hpyx.Future()
    q.set_exception(RuntimeError(q))
    assert q.exception(timeout=WAIT).args[0] is q


def test_a_task_waiting_on_its_own_future_times_out():
    gate = hpyx.Future()
    box = []
    me = hpyx.dataflow(lambda _: box[0].result(timeout=0.5), gate)
    box.append(me)
    gate.set_result(None)
    exc = me.exception(timeout=WAIT)
    assert isinstance(exc, cf.TimeoutError), exc
    # The worker is free again.
    assert hpyx.async_(pow, 2, 5).result(timeout=WAIT) == 32


def test_a_continuation_waiting_on_itself_times_out_and_one_returning_itself_does_not_hang():
    root = hpyx.Future()
    box = []
    waits = root.then(lambda _: box[0].result(timeout=0.5))
    box.append(waits)
    returns = root.then(lambda _: box[1])
    box.append(returns)
    root.set_result(0)
    assert isinstance(waits.exception(timeout=WAIT), cf.TimeoutError)
    assert returns.result(timeout=WAIT) is returns


def test_a_callback_waiting_on_its_own_future():
    got = []
    f = hpyx.async_(int, 4)
    f.add_done_callback(lambda fut: got.append(fut.result(timeout=WAIT)))
    assert f.result(timeout=WAIT) == 4
    for _ in range(int(WAIT / 0.01)):
        if got:
            break
        import time

        time.sleep(0.01)
    assert got == [4]


def test_mutual_waits_through_promises_time_out_not_hang():
    a, b = hpyx.Future(), hpyx.Future()
    fa = hpyx.async_(lambda: b.result(timeout=0.5))
    fb = hpyx.async_(lambda: a.result(timeout=0.5))
    assert isinstance(fa.exception(timeout=WAIT), cf.TimeoutError)
    assert isinstance(fb.exception(timeout=WAIT), cf.TimeoutError)
    a.set_result(1)
    b.set_result(2)
    assert hpyx.when_all(a, b).result(timeout=WAIT) == (1, 2)
