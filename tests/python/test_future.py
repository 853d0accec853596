"""hpyx.Future beyond the stdlib: then, names, repr, promises, awaiting,
the lazily created condition, and the state seen by the stdlib's helpers."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import threading
import time
from concurrent.futures._base import CANCELLED_AND_NOTIFIED, FINISHED

import pytest
from conftest import WAIT, blocked_workers

import hpyx


def identity(x):
    return x


def fail_with(exc):
    raise exc


def test_types():
    f = hpyx.async_(identity, 1)
    assert isinstance(f, hpyx.Future)
    assert isinstance(f, cf.Future)
    assert f.result(timeout=WAIT) == 1
    assert issubclass(hpyx.InternalError, RuntimeError)


# -- then -------------------------------------------------------------------------


def test_then_passes_value_and_extra_arguments():
    def combine(value, a, b=0, **kw):
        return (value, a, b, kw)

    f = hpyx.async_(identity, 1).then(combine, 2, b=3, fn=4, self=5)
    assert f.result(timeout=WAIT) == (1, 2, 3, {"fn": 4, "self": 5})


def test_then_pipeline():
    f = hpyx.async_(identity, 2).then(lambda v: v + 1).then(lambda v: v * 10).then(str)
    assert f.result(timeout=WAIT) == "30"


def test_then_on_failed_future_skips_fn_and_fails_the_same_way():
    err = ValueError("root")
    called = []
    g = hpyx.async_(fail_with, err).then(called.append).then(called.append)
    with pytest.raises(ValueError) as info:
        g.result(timeout=WAIT)
    assert info.value is err
    assert called == []


def test_then_on_cancelled_future_ends_cancelled():
    ex = hpyx.HPXExecutor()
    called = []
    with blocked_workers(ex):
        f = ex.submit(identity, 1)
        g = f.then(called.append)
        h = g.then(called.append)
        assert f.cancel()
    for dep in (g, h):
        with pytest.raises(cf.CancelledError):
            dep.result(timeout=WAIT)
        assert dep.cancelled() and dep.done()
        with pytest.raises(cf.CancelledError):
            dep.exception(timeout=WAIT)
    assert called == []


def test_then_on_ready_and_on_pending_futures():
    assert hpyx.ready_future(4).then(lambda v: v * v).result(timeout=WAIT) == 16
    p = hpyx.Future()
    g = p.then(lambda v: v + 1)
    assert not g.done()
    p.set_result(41)
    assert g.result(timeout=WAIT) == 42


def test_then_with_non_callable_is_type_error():
    with pytest.raises(TypeError):
        hpyx.ready_future(1).then(None)


def test_many_continuations_on_one_future():
    p = hpyx.Future()
    deps = [p.then(lambda v, i=i: v + i) for i in range(1000)]
    p.set_result(1)
    assert hpyx.when_all(deps).result(timeout=WAIT) == tuple(range(1, 1001))


# -- names and repr -------------------------------------------------------------------


def test_default_name_is_qualname():
    def inner(x):
        return x

    assert hpyx.async_(inner, 1).name == inner.__qualname__
    assert hpyx.async_(identity, 1).name == "identity"
    assert hpyx.async_(len, "ab").name == "len"
    assert hpyx.ready_future(1).then(identity).name == "identity"


def test_many_distinct_qualnames_keep_their_own_names():
    # Names are interned (no reference counting per task) up to a cap, and
    # shared copies beyond it: both give each node its own name, and a
    # renamed function is named by its new __qualname__.
    def make(i):
        def fn():
            return i

        fn.__qualname__ = "generated.fn%d" % i
        return fn

    fs = [hpyx.async_(make(i)) for i in range(5000)]
    assert [f.name for f in fs] == ["generated.fn%d" % i for i in range(5000)]
    assert [f.result(timeout=WAIT) for f in fs] == list(range(5000))
    fn = make(0)
    fn.__qualname__ = "renamed"
    assert hpyx.async_(fn).name == "renamed"


def test_named_does_not_collide_with_kwargs():
    def task(name=None, fn=None):
        return (name, fn)

    f = hpyx.async_(hpyx.named("load step", task), name="kwarg", fn="f")
    assert f.result(timeout=WAIT) == ("kwarg", "f")
    assert f.name == "load step"
    g = hpyx.HPXExecutor().submit(hpyx.named("submitted", task), name=1)
    assert g.result(timeout=WAIT) == (1, None) and g.name == "submitted"
    h = f.then(hpyx.named("next", lambda v: v))
    assert h.name == "next"
    d = hpyx.dataflow(hpyx.named("merge", lambda a: a), f)
    assert d.name == "merge"
    assert d.result(timeout=WAIT) == ("kwarg", "f")


def test_named_rejects_bad_input():
    with pytest.raises(TypeError):
        hpyx.named(1, identity)
    with pytest.raises(TypeError):
        hpyx.named("x", None)


def test_repr_is_stdlib_repr_plus_name():
    f = hpyx.async_(hpyx.named('it\'s "odd"', identity), 1)
    f.result(timeout=WAIT)
    expected_prefix = "<Future at %#x state=finished returned int" % id(f)
    assert repr(f) == expected_prefix + " name=%r>" % 'it\'s "odd"'
    p = hpyx.Future()
    assert repr(p) == "<Future at %#x state=pending name='Future'>" % id(p)
    assert p.cancel()
    assert repr(p) == "<Future at %#x state=cancelled name='Future'>" % id(p)


# -- promises (hpyx.Future()) -----------------------------------------------------------


def test_promise_set_result_runs_callbacks_and_dependents():
    p = hpyx.Future()
    seen = []
    p.add_done_callback(lambda f: seen.append(threading.get_ident()))
    dep = hpyx.dataflow(lambda a, b: a + b, p, 1)
    p.set_result(2)
    assert seen == [threading.get_ident()]
    assert dep.result(timeout=WAIT) == 3


def test_promise_set_exception_keeps_object():
    p = hpyx.Future()
    err = OSError(5, "io")
    p.set_exception(err)
    assert p.exception(timeout=0) is err
    with pytest.raises(OSError) as info:
        p.result(timeout=0)
    assert info.value is err
    with pytest.raises(cf.InvalidStateError):
        p.set_exception(err)


def test_task_future_rejects_set_result():
    ex = hpyx.HPXExecutor()
    with blocked_workers(ex):
        f = ex.submit(identity, 1)
        with pytest.raises(cf.InvalidStateError):
            f.set_result(2)
        with pytest.raises(cf.InvalidStateError):
            f.set_exception(ValueError())
    assert f.result(timeout=WAIT) == 1
    with pytest.raises(cf.InvalidStateError):
        f.set_result(2)


def test_set_running_or_notify_cancel_on_promise():
    p = hpyx.Future()
    assert p.set_running_or_notify_cancel() is True
    q = hpyx.Future()
    q.cancel()
    assert q.set_running_or_notify_cancel() is False


# -- timeouts --------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0, 0.0, -1, 0.01])
def test_timeouts_on_pending(timeout):
    p = hpyx.Future()
    with pytest.raises(TimeoutError):
        p.result(timeout=timeout)
    with pytest.raises(TimeoutError):
        p.exception(timeout=timeout)
    assert not p.done()


def test_result_wakes_up_when_set_from_another_thread():
    p = hpyx.Future()
    threading.Timer(0.02, p.set_result, ("late",)).start()
    assert p.result(timeout=WAIT) == "late"


# -- awaiting --------------------------------------------------------------------------


def test_await_future():
    async def main():
        a = await hpyx.async_(identity, 1)
        b = await hpyx.async_(identity, 2).then(lambda v: v * 10)
        p = hpyx.Future()
        threading.Timer(0.01, p.set_result, (3,)).start()
        c = await asyncio.wait_for(p, WAIT)
        with pytest.raises(ValueError):
            await hpyx.async_(fail_with, ValueError())
        return a, b, c

    assert asyncio.run(main()) == (1, 20, 3)


def test_await_from_many_tasks_at_once():
    async def main():
        fs = [hpyx.async_(identity, i) for i in range(200)]
        return await asyncio.wait_for(asyncio.gather(*fs), WAIT)

    assert asyncio.run(main()) == list(range(200))


# -- cheapness: the condition is created only when a stdlib helper asks -------------------


def test_no_condition_per_task_unless_asked():
    f = hpyx.async_(identity, 1)
    f.result(timeout=WAIT)
    f.add_done_callback(lambda _: None)
    f.done(), f.running(), f.cancelled(), f.exception(timeout=0), repr(f)
    assert "_cond" not in vars(f)
    cf.wait([f], timeout=WAIT)
    assert isinstance(vars(f)["_cond"], type(threading.Condition()))


@pytest.mark.parametrize("make", ["submit", "async_", "ready_future", "then"])
def test_futures_made_by_hpyx_take_attributes_like_any_instance(make):
    # On 3.11 a future made by a task or combinator is allocated without the
    # values array of its instance dict (48-64 bytes it never used): the
    # dict is made when the first attribute is set, and behaves as usual.
    with hpyx.HPXExecutor() as ex:
        f = {
            "submit": lambda: ex.submit(identity, 1),
            "async_": lambda: hpyx.async_(identity, 1),
            "ready_future": lambda: hpyx.ready_future(1),
            "then": lambda: hpyx.ready_future(0).then(lambda v: v + 1),
        }[make]()
        assert f.result(timeout=WAIT) == 1
        assert vars(f) == {}
        with pytest.raises(AttributeError, match="tag"):
            f.tag
        f.tag = "a"
        f.other = 2
        assert (f.tag, f.other) == ("a", 2)
        assert vars(f) == {"tag": "a", "other": 2}
        del f.tag
        assert vars(f) == {"other": 2}
        assert not hasattr(f, "tag")
        assert f.result() == 1


def test_state_changes_together_with_waiter_notification():
    """While a thread holds ``_condition`` (as cf.wait / as_completed do), the
    stdlib-visible ``_state`` must not turn final before the waiters are
    notified; otherwise cf.wait counts a future twice (returning early with
    ``not_done`` non-empty) and as_completed yields one twice (KeyError)."""
    release = threading.Event()
    f = hpyx.async_(release.wait, WAIT)
    with f._condition:
        release.set()
        deadline = time.monotonic() + WAIT
        while not f.done() and time.monotonic() < deadline:
            time.sleep(0.001)
        assert f.done()
        assert f._state not in (FINISHED, CANCELLED_AND_NOTIFIED)
    deadline = time.monotonic() + WAIT
    while f._state != FINISHED and time.monotonic() < deadline:
        time.sleep(0.001)
    assert f._state == FINISHED

    # The same for a cancellation from another thread.
    p = hpyx.Future()
    with p._condition:
        canceller = threading.Thread(target=p.cancel)
        canceller.start()
        deadline = time.monotonic() + WAIT
        while not p.cancelled() and time.monotonic() < deadline:
            time.sleep(0.001)
        assert p.cancelled()
        assert p._state != CANCELLED_AND_NOTIFIED
    canceller.join(WAIT)
    assert p._state == CANCELLED_AND_NOTIFIED


def test_wait_sees_completion_that_happens_while_it_waits():
    p, q = hpyx.Future(), hpyx.Future()
    threading.Timer(0.02, p.set_result, (1,)).start()
    threading.Timer(0.04, q.set_exception, (ValueError(),)).start()
    done, not_done = cf.wait([p, q], timeout=WAIT)
    assert done == {p, q} and not not_done


def test_debug_worker_thread_id():
    assert hpyx.debug.get_worker_thread_id() == -1
    n = hpyx.debug.get_num_worker_threads()
    ids = hpyx.when_all([hpyx.async_(hpyx.debug.get_worker_thread_id) for _ in range(50)]).result(
        timeout=WAIT
    )
    assert n == hpyx.HPXExecutor()._max_workers >= 1
    assert all(0 <= i < n for i in ids)
