"""Conformance: the same assertions against ThreadPoolExecutor and HPXExecutor.

Wherever hpyx overlaps ``concurrent.futures``, the stdlib's own
ThreadPoolExecutor is the reference: every test here runs against both, and
both must pass. Deliberate differences are parametrized (the logger a raising
done-callback is reported on) or tested elsewhere (``submit(None)``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import dataclasses
import logging
import random
import re
import threading
import time
import traceback

import pytest
from conftest import WAIT, blocked_workers

import hpyx

POOL_SIZE = hpyx.HPXExecutor()._max_workers


@dataclasses.dataclass
class Flavour:
    name: str
    ex: cf.Executor
    cls: type
    logger: str

    @property
    def is_hpyx(self):
        return self.name == "hpyx"


@pytest.fixture(params=["stdlib", "hpyx"])
def flavour(request):
    if request.param == "stdlib":
        cls, logger = cf.ThreadPoolExecutor, "concurrent.futures"
        ex = cls(max_workers=POOL_SIZE)
    else:
        cls, logger = hpyx.HPXExecutor, "hpyx"
        ex = cls()
    try:
        yield Flavour(request.param, ex, cls, logger)
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def identity(x):
    return x


def fail_with(exc):
    raise exc


def stdlib_future_set_later(value, delay=0.01):
    """A bare ``cf.Future`` completed from another thread."""
    f = cf.Future()
    threading.Timer(delay, f.set_result, (value,)).start()
    return f


# -- types, submit, result, exception ----------------------------------------


def test_isinstance(flavour):
    assert isinstance(flavour.ex, cf.Executor)
    f = flavour.ex.submit(identity, 1)
    assert isinstance(f, cf.Future)
    assert f.result(timeout=WAIT) == 1


def test_submit_result_and_states(flavour):
    f = flavour.ex.submit(pow, 2, 10)
    assert f.result(timeout=WAIT) == 1024
    assert f.exception(timeout=WAIT) is None
    assert f.done()
    assert not f.running()
    assert not f.cancelled()
    assert not f.cancel()
    assert not f.cancelled()


def test_submit_kwargs_named_fn_and_self(flavour):
    def kw(**kwargs):
        return kwargs

    f = flavour.ex.submit(kw, fn=1, self=2)
    assert f.result(timeout=WAIT) == {"fn": 1, "self": 2}
    with pytest.raises(TypeError):
        flavour.ex.submit(fn=kw)  # the callable is positional-only


def test_exception_is_the_same_object(flavour):
    err = ValueError("boom")
    f = flavour.ex.submit(fail_with, err)
    assert f.exception(timeout=WAIT) is err
    with pytest.raises(ValueError) as info:
        f.result(timeout=WAIT)
    assert info.value is err
    assert f.done() and not f.cancelled()
    names = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "fail_with" in names


@pytest.mark.parametrize("exc_type", [SystemExit, KeyboardInterrupt])
def test_base_exception_in_task_is_stored_and_worker_survives(flavour, exc_type):
    err = exc_type(3)
    f = flavour.ex.submit(fail_with, err)
    with pytest.raises(exc_type) as info:
        f.result(timeout=WAIT)
    assert info.value is err
    assert f.exception(timeout=WAIT) is err
    # Every worker still serves tasks.
    fs = [flavour.ex.submit(identity, i) for i in range(4 * POOL_SIZE)]
    assert [g.result(timeout=WAIT) for g in fs] == list(range(4 * POOL_SIZE))


# -- running, pending, cancel, timeouts -------------------------------------


def test_running_task_cannot_be_cancelled(flavour):
    started, release = threading.Event(), threading.Event()

    def work():
        started.set()
        release.wait(WAIT)
        return "done"

    f = flavour.ex.submit(work)
    try:
        assert started.wait(WAIT)
        deadline = time.monotonic() + WAIT
        while not f.running() and time.monotonic() < deadline:
            time.sleep(0.001)
        assert f.running()
        assert not f.done()
        assert f.cancel() is False
        assert not f.cancelled()
        assert re.fullmatch(r"<Future at 0x[0-9a-f]+ state=running.*>", repr(f))
    finally:
        release.set()
    assert f.result(timeout=WAIT) == "done"
    assert not f.running()


def test_pending_future_timeouts_and_cancel(flavour):
    ran = []
    with blocked_workers(flavour.ex):
        f = flavour.ex.submit(ran.append, 1)
        assert not f.running() and not f.done() and not f.cancelled()
        assert re.fullmatch(r"<Future at 0x[0-9a-f]+ state=pending.*>", repr(f))
        with pytest.raises(TimeoutError):
            f.result(timeout=0)
        with pytest.raises(cf.TimeoutError):
            f.result(timeout=0.01)
        with pytest.raises(TimeoutError):
            f.exception(timeout=0)
        seen = []
        f.add_done_callback(seen.append)
        assert f.cancel() is True
        assert f.cancel() is True  # cancelling again: still True
        assert f.cancelled() and f.done() and not f.running()
        assert seen == [f]
        assert re.fullmatch(r"<Future at 0x[0-9a-f]+ state=cancelled.*>", repr(f))
        with pytest.raises(cf.CancelledError):
            f.result(timeout=WAIT)
        with pytest.raises(cf.CancelledError):
            f.exception(timeout=WAIT)
    # After the workers are free again, a round of work ran; the cancelled
    # call never did.
    fs = [flavour.ex.submit(identity, i) for i in range(2 * POOL_SIZE)]
    cf.wait(fs, timeout=WAIT)
    assert ran == []


def test_repr_shows_state(flavour):
    ok = flavour.ex.submit(identity, 5)
    bad = flavour.ex.submit(fail_with, ValueError())
    ok.result(timeout=WAIT)
    bad.exception(timeout=WAIT)
    assert re.fullmatch(r"<Future at 0x[0-9a-f]+ state=finished returned int.*>", repr(ok))
    assert re.fullmatch(r"<Future at 0x[0-9a-f]+ state=finished raised ValueError.*>", repr(bad))
    if flavour.is_hpyx:
        assert repr(ok).endswith(" name='identity'>")
        assert repr(bad).endswith(" name='fail_with'>")


# -- done callbacks ----------------------------------------------------------


def test_done_callbacks_run_in_order_and_raising_one_is_logged(flavour, caplog):
    calls = []
    finished = threading.Event()

    def bad(fut):
        raise ZeroDivisionError("callback")

    with blocked_workers(flavour.ex):
        f = flavour.ex.submit(identity, 7)
        f.add_done_callback(lambda fut: calls.append(("first", fut)))
        f.add_done_callback(bad)
        f.add_done_callback(lambda fut: calls.append(("third", fut)))
        f.add_done_callback(lambda fut: finished.set())
    assert finished.wait(WAIT)
    assert calls == [("first", f), ("third", f)]
    # The future's state is unchanged by the raising callback.
    assert f.result(timeout=WAIT) == 7
    assert f.exception(timeout=WAIT) is None and not f.cancelled()
    records = [
        r
        for r in caplog.records
        if r.name == flavour.logger and "exception calling callback for" in r.getMessage()
    ]
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert records[0].exc_info[0] is ZeroDivisionError
    assert repr(f) in records[0].getMessage()


def test_callback_added_after_completion_runs_once_immediately(flavour, caplog):
    f = flavour.ex.submit(identity, 1)
    f.result(timeout=WAIT)
    calls = []
    f.add_done_callback(lambda fut: calls.append((fut, threading.get_ident())))
    assert calls == [(f, threading.get_ident())]
    # A raising one is logged, not raised to the caller.
    f.add_done_callback(lambda fut: 1 / 0)
    assert any(r.name == flavour.logger for r in caplog.records)
    # More activity does not run it again.
    cf.wait([flavour.ex.submit(identity, i) for i in range(10)], timeout=WAIT)
    assert len(calls) == 1


def test_callback_sees_exception_and_cancellation(flavour):
    got = []
    done = threading.Event()
    err = KeyError("k")

    def record(fut):
        got.append(fut.exception())
        done.set()

    f = flavour.ex.submit(fail_with, err)
    f.add_done_callback(record)
    assert done.wait(WAIT)
    assert got == [err]

    with blocked_workers(flavour.ex):
        g = flavour.ex.submit(identity, 1)
        seen = []
        g.add_done_callback(lambda fut: seen.append(fut.cancelled()))
        assert g.cancel()
        assert seen == [True]


# -- map ---------------------------------------------------------------------


def test_map(flavour):
    assert list(flavour.ex.map(identity, range(100))) == list(range(100))
    assert list(flavour.ex.map(pow, [2, 3, 4], [5, 6, 7])) == [32, 729, 16384]
    assert list(flavour.ex.map(pow, [2, 3, 4], [5, 6])) == [32, 729]
    assert list(flavour.ex.map(identity, [])) == []
    assert list(flavour.ex.map(identity, range(5), chunksize=2)) == list(range(5))


def test_map_error_at_item_3(flavour):
    def f(x):
        if x == 3:
            raise ValueError("item 3")
        return x * 10

    it = flavour.ex.map(f, [1, 2, 3, 4, 5])
    assert next(it) == 10
    assert next(it) == 20
    with pytest.raises(ValueError, match="item 3"):
        next(it)


def test_map_timeout(flavour):
    release = threading.Event()
    try:
        it = flavour.ex.map(release.wait, [WAIT], timeout=0.05)
        with pytest.raises(TimeoutError):
            next(it)
    finally:
        release.set()


# -- shutdown ----------------------------------------------------------------


def test_shutdown_wait_runs_all_50_queued_tasks(flavour):
    done = []
    lock = threading.Lock()

    def work(i):
        with lock:
            done.append(i)
        return i

    with blocked_workers(flavour.ex) as blocked:
        queued = [flavour.ex.submit(work, i) for i in range(50)]
        assert not any(f.done() for f in queued)
        timer = threading.Timer(0.05, blocked.release)
        timer.start()
        flavour.ex.shutdown(wait=True)
        timer.join(WAIT)
        assert all(f.done() and not f.cancelled() for f in queued)
        assert sorted(done) == list(range(50))
        assert [f.result(timeout=0) for f in queued] == list(range(50))


def test_shutdown_cancel_futures(flavour):
    with blocked_workers(flavour.ex) as blocked:
        queued = [flavour.ex.submit(identity, i) for i in range(50)]
        flavour.ex.shutdown(wait=False, cancel_futures=True)
        # Nothing had started: every queued future is cancelled now.
        assert all(f.cancelled() for f in queued)
        assert not any(f.cancelled() for f in blocked.futures)
    for f in queued + blocked.futures:
        assert f.done()
        assert f.cancelled() or f.exception(timeout=0) is None


def test_submit_after_shutdown(flavour):
    flavour.ex.shutdown()
    flavour.ex.shutdown()  # idempotent
    with pytest.raises(RuntimeError, match=r"^cannot schedule new futures after shutdown$"):
        flavour.ex.submit(identity, 1)


def test_context_manager_shuts_down(flavour):
    with flavour.cls() as ex:
        f = ex.submit(identity, 3)
    assert f.done() and f.result(timeout=0) == 3
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        ex.submit(identity, 1)


# -- construction ------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1])
def test_max_workers_not_positive(flavour, bad):
    with pytest.raises(ValueError):
        flavour.cls(max_workers=bad)


def test_unknown_keyword_argument(flavour):
    with pytest.raises(TypeError):
        flavour.cls(no_such_option=1)


# -- odd arguments -----------------------------------------------------------


def test_odd_arguments_and_results(flavour):
    lam = lambda: None
    gen = (i for i in range(3))
    lock = threading.Lock()
    unhashable = {"a": [1]}
    for value in (lam, gen, lock, unhashable, None):
        assert flavour.ex.submit(identity, value).result(timeout=WAIT) is value
    assert flavour.ex.submit(lambda g: list(g), gen).result(timeout=WAIT) == [0, 1, 2]
    assert flavour.ex.submit(lambda: lock).result(timeout=WAIT) is lock


# -- stdlib helpers: wait, as_completed -----------------------------------------


def _sources(flavour):
    """Futures of three kinds: this executor's, bare stdlib ones, hpyx tasks."""
    return [
        flavour.ex.submit(identity, 1),
        stdlib_future_set_later(2),
        hpyx.async_(identity, 3),
        flavour.ex.submit(identity, 4),
        stdlib_future_set_later(5, delay=0.03),
        hpyx.async_(identity, 6),
    ]


@pytest.mark.parametrize("kind", ["executor", "stdlib", "mixed"])
def test_wait_all_completed(flavour, kind):
    if kind == "executor":
        fs = [flavour.ex.submit(identity, i) for i in range(20)]
    elif kind == "stdlib":
        fs = [stdlib_future_set_later(i) for i in range(5)]
    else:
        fs = _sources(flavour)
    done, not_done = cf.wait(fs, timeout=WAIT)
    assert done == set(fs) and not not_done


def test_wait_first_completed_and_timeout(flavour):
    release = threading.Event()
    slow = flavour.ex.submit(release.wait, WAIT)
    other_slow = cf.Future()
    try:
        fast = stdlib_future_set_later("fast")
        done, not_done = cf.wait(
            [slow, fast, other_slow], timeout=WAIT, return_when=cf.FIRST_COMPLETED
        )
        assert fast in done and {slow, other_slow} <= not_done
        done, not_done = cf.wait([slow, other_slow], timeout=0.02)
        assert not done and not_done == {slow, other_slow}
    finally:
        release.set()
    done, not_done = cf.wait([slow], timeout=WAIT)
    assert done == {slow}


def test_wait_first_exception(flavour):
    release = threading.Event()
    slow = flavour.ex.submit(release.wait, WAIT)
    try:
        ok = hpyx.async_(identity, 1)
        ok.result(timeout=WAIT)
        bad = flavour.ex.submit(fail_with, ValueError())
        done, not_done = cf.wait([slow, ok, bad], timeout=WAIT, return_when=cf.FIRST_EXCEPTION)
        assert bad in done and ok in done and slow in not_done
    finally:
        release.set()


@pytest.mark.parametrize("kind", ["executor", "mixed"])
def test_as_completed(flavour, kind):
    if kind == "executor":
        fs = [flavour.ex.submit(identity, i) for i in range(20)]
    else:
        fs = _sources(flavour)
    seen = list(cf.as_completed(fs, timeout=WAIT))
    assert len(seen) == len(fs) and set(seen) == set(fs)


def test_as_completed_order_and_timeout(flavour):
    gates = [threading.Event() for _ in range(3)]
    fs = [flavour.ex.submit(g.wait, WAIT) for g in gates[:2]]
    std = cf.Future()
    fs.append(std)
    try:
        it = cf.as_completed(fs, timeout=WAIT)
        gates[1].set()
        assert next(it) is fs[1]
        std.set_result(None)
        assert next(it) is std
        gates[0].set()
        assert next(it) is fs[0]
        with pytest.raises(StopIteration):
            next(it)
        blocked = flavour.ex.submit(gates[2].wait, WAIT)
        with pytest.raises(TimeoutError):
            list(cf.as_completed([blocked], timeout=0.02))
    finally:
        for g in gates:
            g.set()


def test_wait_and_as_completed_under_racing_completions(flavour):
    """Futures finishing while the helpers scan them are counted exactly once."""

    def spin(seconds):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass
        return seconds

    rng = random.Random(1)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        fs = [flavour.ex.submit(spin, rng.random() * 2e-4) for _ in range(40)]
        done, not_done = cf.wait(fs)
        assert not not_done and done == set(fs)
        fs = [flavour.ex.submit(spin, rng.random() * 2e-4) for _ in range(40)]
        seen = list(cf.as_completed(fs, timeout=WAIT))
        assert len(seen) == 40 and set(seen) == set(fs)


# -- asyncio --------------------------------------------------------------------


def test_asyncio_wrap_future_and_run_in_executor(flavour):
    async def main():
        loop = asyncio.get_running_loop()
        a = await asyncio.wait_for(asyncio.wrap_future(flavour.ex.submit(identity, 1)), WAIT)
        b = await asyncio.wait_for(loop.run_in_executor(flavour.ex, pow, 2, 5), WAIT)
        with pytest.raises(KeyError):
            await asyncio.wait_for(
                asyncio.wrap_future(flavour.ex.submit(fail_with, KeyError())), WAIT
            )
        return a, b

    assert asyncio.run(main()) == (1, 32)


def test_cancelling_asyncio_wrapper_cancels_pending_task(flavour):
    ran = []

    async def main(f):
        wrapper = asyncio.wrap_future(f)
        wrapper.cancel()
        for _ in range(100):
            if f.cancelled():
                break
            await asyncio.sleep(0.001)
        with pytest.raises(asyncio.CancelledError):
            await wrapper

    with blocked_workers(flavour.ex):
        f = flavour.ex.submit(ran.append, 1)
        asyncio.run(main(f))
        assert f.cancelled()
    cf.wait([flavour.ex.submit(identity, i) for i in range(2 * POOL_SIZE)], timeout=WAIT)
    assert ran == []


# -- futures made by hand --------------------------------------------------------


@pytest.mark.parametrize("cls", [cf.Future, hpyx.Future], ids=["stdlib", "hpyx"])
def test_hand_made_future_sets_once(cls):
    f = cls()
    assert not f.done()
    with pytest.raises(TimeoutError):
        f.result(timeout=0)
    seen = []
    f.add_done_callback(seen.append)
    f.set_result(1)
    assert seen == [f]
    assert f.result(timeout=0) == 1
    assert f.cancel() is False and not f.cancelled()
    with pytest.raises(cf.InvalidStateError):
        f.set_result(2)
    with pytest.raises(cf.InvalidStateError):
        f.set_exception(ValueError())
    assert f.result(timeout=0) == 1

    g = cls()
    err = ValueError("x")
    g.set_exception(err)
    assert g.exception(timeout=0) is err
    with pytest.raises(cf.InvalidStateError):
        g.set_result(1)

    h = cls()
    assert h.cancel()
    assert h.cancelled()
    with pytest.raises(cf.InvalidStateError):
        h.set_result(1)
